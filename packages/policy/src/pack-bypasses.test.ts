import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compilePolicies, evaluate, loadShellParser, parsePolicyFile } from './index';
import { pathWithin } from './path';

beforeAll(async () => {
  await loadShellParser();
});

const pack = new URL('../packs/coding-agents.yaml', import.meta.url);
const set = compilePolicies(
  parsePolicyFile(readFileSync(pack, 'utf8'), 'coding-agents.yaml').policies,
);
const decide = (tool: string, args: Record<string, unknown>) =>
  [JSON.stringify(args), evaluate(set, { tool, args }).effect] as const;

describe('path.within: a brace expansion is within nothing', () => {
  it.each(['{/,}', '{/,x}', 'src/{..,..}/..', '{a,/etc}'])('%s', (path) => {
    expect(pathWithin(path, '.')).toBe(false);
  });

  it('a name with braces but no expansion stays a name', () => {
    expect(pathWithin('src/{x}.ts', '.')).toBe(true);
  });
});

describe('the coding-agents pack: what its descriptions promise to block', () => {
  it.each([
    'rm -rf {/,}',
    'rm -rf src/{..,..}/..',
    'echo k >> $HOME/.ssh/authorized_keys',
    'echo k >> ${HOME}/.ssh/authorized_keys',
    'echo x | tee -a $HOME/.ssh/authorized_keys',
    'echo x > "$PWD/.env"',
    'echo x > ~/project/.env',
    'echo x > .ENV',
    'echo x > deploy.KEY',
  ])('Bash: %s', (command) => {
    expect(decide('claude_code.Bash', { command })).toEqual([JSON.stringify({ command }), 'block']);
  });

  it.each(['/Users/a/project/.ENV', '/Users/a/.SSH/authorized_keys', '/srv/tls/Server.PEM'])(
    'Write and Edit: %s (the same file on a case-insensitive file system)',
    (file_path) => {
      for (const tool of ['claude_code.Write', 'claude_code.Edit']) {
        expect(decide(tool, { file_path })).toEqual([JSON.stringify({ file_path }), 'block']);
      }
    },
  );

  it('still allows the everyday cases', () => {
    expect(decide('claude_code.Bash', { command: 'echo x > out.txt && rm -rf ./build' })[1]).toBe(
      'allow',
    );
    expect(decide('claude_code.Bash', { command: 'echo x > "$PWD/notes.md"' })[1]).toBe('allow');
    expect(decide('claude_code.Write', { file_path: '/p/.env.example' })[1]).toBe('allow');
    expect(decide('claude_code.Write', { file_path: '/p/.ENV.example' })[1]).toBe('allow');
    expect(decide('claude_code.Write', { file_path: '/p/src/keyboard.ts' })[1]).toBe('allow');
  });
});
