import { beforeAll, describe, expect, it } from 'vitest';
import { EvaluationBudget, EvaluationBudgetError, withBudget } from './budget';
import { compilePolicies, evaluate, loadShellParser } from './index';
import { MAX_SHELL_LENGTH, type ShellCommand, shellCommands } from './shell';

beforeAll(async () => {
  await loadShellParser();
});

// The work budget as in production; the wall-clock one generous, as tests share a busy machine.
const budget = () => new EvaluationBudget(undefined, 10_000);

/** Each command as its argv joined by spaces, with its `via` when it has one. */
function lines(line: string): string[] {
  return withBudget(budget(), shellCommands, line).map(
    (command: ShellCommand) =>
      `${command.via === '' ? '' : `[${command.via}] `}${command.argv.join(' ')}`,
  );
}

/** Milliseconds of this thread's CPU time (see budget.test.ts). */
function cpu(): number {
  const usage = (process.threadCpuUsage ?? process.cpuUsage)();
  return (usage.user + usage.system) / 1000;
}
// Not a timing goal (see bench/): only tells a bounded evaluation from a hang.
const STALL_MS = 500;

function guard(condition: string) {
  const set = compilePolicies([
    { name: 'Guard', tool: 't', rules: [{ if: condition, then: 'block' }], default: 'allow' },
  ]);
  return (command: unknown) => {
    const started = cpu();
    const decision = evaluate(set, { tool: 't', args: { command } });
    return { decision, milliseconds: cpu() - started };
  };
}

describe('shell.commands', () => {
  it('lists the commands of lists, pipelines, subshells, groups and substitutions', () => {
    expect(lines('cd /tmp && rm -rf build || echo fail; ls')).toEqual([
      'cd /tmp',
      'rm -rf build',
      'echo fail',
      'ls',
    ]);
    expect(lines('cat a | grep -v x | wc -l')).toEqual(['cat a', 'grep -v x', 'wc -l']);
    expect(lines('(cd sub && make clean) & { echo a; }')).toEqual([
      'cd sub',
      'make clean',
      'echo a',
    ]);
    expect(lines('echo $(rm -rf ~) `whoami` "$(id -u)"')).toEqual([
      'echo $(rm -rf ~) `whoami` $(id -u)',
      'rm -rf ~',
      'whoami',
      'id -u',
    ]);
    expect(lines('diff <(ls a) <(ls b)')).toEqual(['diff <(ls a) <(ls b)', 'ls a', 'ls b']);
    expect(lines('if true; then rm x; fi; for f in *; do rm "$f"; done')).toEqual([
      'true',
      'rm x',
      'rm $f',
    ]);
    expect(lines('f() { rm -rf /; }; f')).toEqual(['rm -rf /', 'f']);
    expect(lines('cat <<EOF\n$(rm -rf /)\nEOF')).toEqual(['cat', 'rm -rf /']);
    const [cat, inner] = withBudget(
      budget(),
      shellCommands,
      'cat > out.txt <<EOF\n$(rm -rf /)\nEOF',
    );
    expect(cat?.redirects).toEqual([
      { op: '>', target: 'out.txt' },
      { op: '<<', target: 'EOF' },
    ]);
    expect(inner).toMatchObject({ name: 'rm', redirects: [] });
  });

  it('removes quotes and escapes; keeps expansions as written', () => {
    expect(lines(`echo 'a;b' "c && d" \\rm $'x\\ty' pre"fix"'ed' "$HOME/x"`)).toEqual([
      'echo a;b c && d rm x\ty prefixed $HOME/x',
    ]);
    const [command] = withBudget(budget(), shellCommands, '\\/usr/bin/rm -f a');
    expect(command).toMatchObject({ name: 'rm', path: '/usr/bin/rm', args: ['-f', 'a'] });
  });

  it('reads environment assignments, declarations and redirections', () => {
    const commands = withBudget(
      budget(),
      shellCommands,
      'FOO=1 make > out.log 2>&1; export A=1; { echo k; } >> ~/.ssh/authorized_keys',
    );
    expect(commands[0]).toMatchObject({
      name: 'make',
      env: { FOO: '1' },
      redirects: [
        { op: '>', target: 'out.log' },
        { op: '>&', target: '1' },
      ],
    });
    expect(commands[1]).toMatchObject({ name: 'export', args: ['A=1'] });
    expect(commands[2]).toMatchObject({
      name: 'echo',
      redirects: [{ op: '>>', target: '~/.ssh/authorized_keys' }],
    });
  });

  it('reads into bash -c, eval, find -exec and wrappers', () => {
    expect(lines(`bash -lc 'git push --force origin main'`)).toEqual([
      'bash -lc git push --force origin main',
      '[bash -c] git push --force origin main',
    ]);
    expect(lines(`sh -c "eval 'rm -rf /'"`)).toEqual([
      "sh -c eval 'rm -rf /'",
      '[sh -c] eval rm -rf /',
      '[eval] rm -rf /',
    ]);
    expect(lines('sudo -u root env -i X=1 timeout 5 nice -n 3 rm -rf /')).toEqual([
      'sudo -u root env -i X=1 timeout 5 nice -n 3 rm -rf /',
      '[sudo] env -i X=1 timeout 5 nice -n 3 rm -rf /',
      '[env] timeout 5 nice -n 3 rm -rf /',
      '[timeout] nice -n 3 rm -rf /',
      '[nice] rm -rf /',
    ]);
    expect(lines('find . -name "*.tmp" -exec rm -f {} \\; | xargs -I{} git rm {}')).toEqual([
      'find . -name *.tmp -exec rm -f {} ;',
      '[find -exec] rm -f {}',
      'xargs -I{} git rm {}',
      '[xargs] git rm {}',
    ]);
    expect(lines('sudo -l')).toEqual(['sudo -l']);
  });

  it('refuses what is not valid shell syntax, too long, or nested too deep', () => {
    for (const line of ['echo "unterminated', 'ls &&', 'if true; then', '(ls', 'echo $(']) {
      expect(() => lines(line), line).toThrow(/not valid shell syntax/);
    }
    expect(() => lines('x'.repeat(MAX_SHELL_LENGTH + 1))).toThrow(/longer than 16384/);
    expect(() =>
      lines(`bash -c "bash -c 'bash -c \\"bash -c \\\\\\"bash -c ls\\\\\\"\\"'"`),
    ).toThrow(/nested more than 4 deep/);
    expect(() => lines("bash -c 'echo \"x'")).toThrow(/not valid shell syntax/);
  });

  it('charges the budget for what it parses', () => {
    const budget = new EvaluationBudget(1_000);
    expect(() => withBudget(budget, shellCommands, `echo ${'a'.repeat(1_000)}`)).toThrow(
      EvaluationBudgetError,
    );
  });
});

describe('shell.commands in conditions', () => {
  const forcePush =
    'shell.commands(args.command).exists(c, c.name == "git" && "push" in c.args && c.args.exists(a, a == "--force" || a == "-f" || a.startsWith("--force-with-lease") || a.startsWith("+")))';

  it('decides on the parsed commands', () => {
    const check = guard(forcePush);
    // Warm up (see pack.test.ts): a cold first evaluation on a loaded machine can run out of time.
    check('git push --force origin main && ls');
    expect(check('git push --force origin main').decision.effect).toBe('block');
    expect(check('cd repo && git push -f').decision.effect).toBe('block');
    expect(check("bash -c 'git push origin +main'").decision.effect).toBe('block');
    expect(check('git push origin main').decision.effect).toBe('allow');
    expect(check('echo "git push --force"').decision.effect).toBe('allow');
  });

  it('fails closed: a syntax error, a non-string or a missing command is a condition error', () => {
    const check = guard(forcePush);
    for (const command of ['git push --force "', 42, ['git', 'push']]) {
      const { decision } = check(command);
      expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error' });
      // The message never quotes the command.
      expect(decision.explanation).not.toContain('git push');
    }
  });

  it('ends adversarial input in a bounded condition error, never a hang', () => {
    const check = guard(forcePush);
    const inputs = [
      'x'.repeat(1_000_000),
      `echo ${'a'.repeat(MAX_SHELL_LENGTH - 5)}`,
      `${'('.repeat(5_000)}ls${')'.repeat(5_000)}`,
      `${'$('.repeat(3_000)}ls${')'.repeat(3_000)}`,
      `${'"$('.repeat(2_000)}`,
      Array.from({ length: 1_500 }, (_, index) => `echo ${index}`).join(' && '),
      `${'{ '.repeat(3_000)}ls;${' }'.repeat(3_000)}`,
      `echo ${"'".repeat(MAX_SHELL_LENGTH - 6)}`,
      `${'bash -c '.repeat(2_000)}ls`,
      'a|'.repeat(5_000),
      `${'if true; then '.repeat(1_000)}ls${'; fi'.repeat(1_000)}`,
    ];
    for (const command of inputs) {
      const { decision, milliseconds } = check(command);
      expect(decision.effect, command.slice(0, 40)).toBe('block');
      expect(decision.reason, command.slice(0, 40)).toBe('condition_error');
      expect(milliseconds, command.slice(0, 40)).toBeLessThan(STALL_MS);
      expect(decision.errors[0]?.message).toMatch(
        /^(shell\.commands: (parsing took longer|the command line is (not valid|longer))|evaluation budget exceeded)/,
      );
    }
  });
});
