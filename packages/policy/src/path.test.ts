import { describe, expect, it } from 'vitest';
import { EvaluationBudget, withBudget } from './budget';
import { compilePolicies, evaluate } from './index';
import { normalizePath, pathMatches, pathWithin } from './path';

const within = (path: string, root: string) =>
  withBudget(new EvaluationBudget(), ([p, r]: [string, string]) => pathWithin(p, r), [path, root]);
const matches = (path: string, glob: string) =>
  withBudget(new EvaluationBudget(), ([p, g]: [string, string]) => pathMatches(p, g), [path, glob]);

function guard(condition: string) {
  const set = compilePolicies([
    { name: 'Guard', tool: 't', rules: [{ if: condition, then: 'block' }], default: 'allow' },
  ]);
  return (args: Record<string, unknown>) => evaluate(set, { tool: 't', args });
}

describe('path.within', () => {
  it('normalises both sides', () => {
    expect(within('/work/a/b.txt', '/work')).toBe(true);
    expect(within('/work', '/work/')).toBe(true);
    expect(within('/work//a/./b/', '/work/a')).toBe(true);
    expect(within('/work/a/../../etc/passwd', '/work')).toBe(false);
    expect(within('/work/../work/x', '/work')).toBe(true);
    expect(within('/workshop/x', '/work')).toBe(false);
    expect(within('/../../etc', '/')).toBe(true);
    expect(within('/etc', '/work')).toBe(false);
  });

  it('compares relative paths with relative roots only', () => {
    expect(within('src/a.ts', '.')).toBe(true);
    expect(within('./build', '.')).toBe(true);
    expect(within('a/../../x', '.')).toBe(false);
    expect(within('../repo/x', '../repo')).toBe(true);
    expect(within('../../x', '..')).toBe(false);
    expect(within('/etc', '.')).toBe(false);
    expect(within('src', '/work')).toBe(false);
  });

  it('is within nothing for what only the shell can expand', () => {
    for (const path of ['~', '~/x', '$HOME', 'a/$(pwd)', '`pwd`/x', '$' + '{HOME}/x']) {
      expect(within(path, '.'), path).toBe(false);
      expect(within('/work/x', path), path).toBe(false);
    }
    expect(normalizePath('~')).toBeUndefined();
  });
});

describe('path.matches', () => {
  it('matches *, **, ?, classes and braces, anchored', () => {
    expect(matches('key.pem', '*.pem')).toBe(true);
    expect(matches('keys/key.pem', '*.pem')).toBe(false);
    expect(matches('keys/key.pem', '**/*.pem')).toBe(true);
    expect(matches('/home/me/.ssh/id_rsa', '**/.ssh/**')).toBe(true);
    expect(matches('/home/me/.ssh/id_rsa', '**/id_{rsa,ed25519,ecdsa}')).toBe(true);
    expect(matches('/home/me/.ssh/id_rsa.pub', '**/id_{rsa,ed25519}')).toBe(false);
    expect(matches('.env', '**/.env')).toBe(true);
    expect(matches('app/.env.local', '**/.env{,.*}')).toBe(true);
    expect(matches('app/.envrc', '**/.env{,.*}')).toBe(false);
    expect(matches('src/a1.ts', 'src/a?.ts')).toBe(true);
    expect(matches('src/ab.ts', 'src/a[0-9].ts')).toBe(false);
    expect(matches('src/ab.ts', 'src/a[!0-9].ts')).toBe(true);
    expect(matches('/etc/passwd', '/etc/*')).toBe(true);
    expect(matches('etc/passwd', '/etc/*')).toBe(false);
    expect(matches('/work/a/../../etc/shadow', '/etc/*')).toBe(true);
    expect(matches('.hidden.pem', '*.pem')).toBe(true);
    expect(matches('a{b}', 'a{b}')).toBe(true);
    expect(matches('~/.ssh/id_rsa', '**')).toBe(false);
  });

  it('ends adversarial globs and paths in a bounded condition error', () => {
    const check = guard('path.matches(args.path, args.glob)');
    const hostile = [
      { path: 'a'.repeat(4_000), glob: `${'*a'.repeat(500)}b` },
      { path: `${'a/'.repeat(2_000)}b`, glob: `${'**/'.repeat(300)}c` },
      { path: 'x', glob: '{a,b}'.repeat(10) },
      { path: 'x'.repeat(5_000), glob: '*' },
      { path: 'x', glob: '*'.repeat(2_000) },
    ];
    for (const args of hostile) {
      const decision = check(args);
      expect(decision, args.glob.slice(0, 20)).toMatchObject({
        effect: 'block',
        reason: 'condition_error',
      });
    }
    expect(check({ path: 1, glob: '*' }).reason).toBe('condition_error');
    expect(check({ path: 'a.pem', glob: '*.pem' }).reason).toBe('rule_matched');
  });

  it('works in conditions alongside within', () => {
    const check = guard(
      '!path.within(args.file_path, "/work") || path.matches(args.file_path, "**/.env")',
    );
    expect(check({ file_path: '/work/src/a.ts' }).effect).toBe('allow');
    expect(check({ file_path: '/work/.env' }).effect).toBe('block');
    expect(check({ file_path: '/work/../etc/hosts' }).effect).toBe('block');
  });
});
