import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { EvaluationBudget, withBudget } from './budget';
import { compilePolicies, evaluate, loadShellParser, parsePolicyFile } from './index';
import { shellCommands } from './shell';

beforeAll(async () => {
  await loadShellParser();
});

const names = (line: string) =>
  withBudget(new EvaluationBudget(undefined, 10_000), shellCommands, line).map(
    (command) => command.name,
  );

// Ways to run `rm -rf /` that the docs promise shell.commands reads into ("bash -c … with any
// option cluster", `env`), or that run the command as plainly as a listed wrapper does.
const hidden = [
  "bash -o errexit -c 'rm -rf /'",
  "bash +o posix -c 'rm -rf /'",
  "bash -O extglob -c 'rm -rf /'",
  "bash -eo pipefail -c 'rm -rf /'",
  "bash --rcfile /dev/null -c 'rm -rf /'",
  "env -S 'rm -rf /'",
  "env -S'rm -rf /'",
  "env --split-string='rm -rf /'",
  'coproc rm -rf /',
  'setsid rm -rf /',
  'chroot / rm -rf /',
  'flock /tmp/lock rm -rf /',
  'busybox rm -rf /',
  "fish -c 'rm -rf /'",
  "su -c 'rm -rf /' root",
  "su root -c 'rm -rf /'",
  'runuser -u dev -- rm -rf /',
  "runuser dev -c 'rm -rf /'",
  "script -qc 'rm -rf /' /dev/null",
  "flock /tmp/lock -c 'rm -rf /'",
];

describe('shell.commands reads into shells with valued options, env -S and more wrappers', () => {
  it.each(hidden)('%s', (line) => {
    expect(names(line)).toContain('rm');
  });

  it('the coding-agents pack blocks each of them', () => {
    const pack = new URL('../packs/coding-agents.yaml', import.meta.url);
    const set = compilePolicies(
      parsePolicyFile(readFileSync(pack, 'utf8'), 'coding-agents.yaml').policies,
    );
    for (const line of hidden) {
      expect([
        line,
        evaluate(set, { tool: 'claude_code.Bash', args: { command: line } }).effect,
      ]).toEqual([line, 'block']);
    }
  });

  it('still reads a plain bash -c and leaves other arguments alone', () => {
    expect(names("bash -c 'ls'")).toEqual(['bash', 'ls']);
    expect(names('bash script.sh -c x')).toEqual(['bash']);
    expect(names('env -u HOME ls')).toEqual(['env', 'ls']);
  });
});
