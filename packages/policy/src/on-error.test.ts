import { Environment } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { compilePolicies, evaluate, type PolicyDefinition, validatePolicies } from './index';

function policy(condition: string, extra: Partial<PolicyDefinition> = {}) {
  return compilePolicies([
    {
      name: 'Guard',
      tool: 't',
      rules: [{ if: condition, then: 'block' }],
      default: 'allow',
      ...extra,
    },
  ]);
}

const decide = (set: ReturnType<typeof policy>, args: Record<string, unknown>) =>
  evaluate(set, { tool: 't', args });

describe('an evaluation error never lets a call through (issue #12, item 1)', () => {
  it('blocks `args.amount > 100` when amount is the string "1000"', () => {
    const decision = decide(policy('args.amount > 100'), { amount: '1000' });
    expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error', ruleIndex: 0 });
    expect(decision.errors[0]?.message).toMatch(/no such overload/);
    expect(decision.errors[0]?.shape).toBe('{amount: string[4]}');
    // The shape has types, never values.
    expect(JSON.stringify(decision)).not.toContain('1000');
  });

  it('blocks the docs example `exists` over 100 000 integers', () => {
    const set = policy('args.to.exists(r, !r.endsWith("@corp.com"))');
    const to = Array.from({ length: 100_000 }, (_, index) => index);
    const decision = decide(set, { to });
    expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error' });
    expect(decision.errors[0]?.shape).toBe('{to: list<double|…>[100000]}');
    expect(decide(set, { to: to.map(BigInt) })).toMatchObject({ effect: 'block' });
    expect(decide(set, { to: ['a@corp.com', 'b@corp.com'] })).toMatchObject({
      effect: 'allow',
      reason: 'policy_default',
    });
  });

  it('keeps argument values out of the error it logs', () => {
    const decision = decide(policy('bool(args.flag)'), { flag: 'sk_live_secret' });
    expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error' });
    expect(decision.errors[0]?.message).toBe('bool() conversion error: invalid string value "…"');
    expect(JSON.stringify(decision)).not.toContain('sk_live_secret');
  });

  it('treats a non-bool result as an error', () => {
    const decision = decide(policy('args.flag'), { flag: 'yes' });
    expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error' });
    expect(decision.errors[0]?.message).toBe('condition returned a string, not a bool');
  });

  it('does not hold for a human a call that every outcome blocks', () => {
    const set = compilePolicies([
      {
        name: 'Refunds',
        tool: 't',
        on_error: 'requires_approval',
        rules: [
          { if: 'args.amount > 100', then: 'block' },
          { if: 'args.account in ["frozen"]', then: 'block' },
        ],
        default: 'allow',
      },
    ]);
    // The erring rule blocks if it holds, and rule 2 blocks otherwise: blocked either way.
    const certain = decide(set, { amount: '1000', account: 'frozen' });
    expect(certain).toMatchObject({ effect: 'block', reason: 'rule_matched', ruleIndex: 1 });
    expect(certain.errors[0]).toMatchObject({
      ruleIndex: 0,
      shape: '{amount: string[4], account: string[6]}',
    });
    expect(certain.explanation).toMatch(/blocked either way/);
    // Rule 2 would let it through to the default: the answer depends on the error, so a human decides.
    expect(decide(set, { amount: '1000', account: 'open' })).toMatchObject({
      effect: 'requires_approval',
      reason: 'condition_error',
    });
    // An erring allow rule followed by a block is still uncertain: held.
    const allowFirst = compilePolicies([
      {
        name: 'Refunds',
        tool: 't',
        on_error: 'requires_approval',
        rules: [
          { if: 'args.amount < 10', then: 'allow' },
          { if: 'true', then: 'block' },
        ],
      },
    ]);
    expect(decide(allowFirst, { amount: 'x' })).toMatchObject({
      effect: 'requires_approval',
      reason: 'condition_error',
    });
  });

  it('decides by on_error: requires_approval, denied on timeout, per policy or per rule', () => {
    const held = decide(
      policy('args.amount > 100', {
        on_error: 'requires_approval',
        timeout: 60,
        on_timeout: 'allow',
      }),
      { amount: 'x' },
    );
    expect(held).toMatchObject({
      effect: 'requires_approval',
      reason: 'condition_error',
      timeout: 60,
      onTimeout: 'deny',
    });
    const byRule = compilePolicies([
      {
        name: 'Guard',
        tool: 't',
        rules: [
          { if: 'args.a > 1', then: 'block', on_error: 'requires_approval' },
          { if: 'args.b > 1', then: 'block' },
        ],
        default: 'allow',
      },
    ]);
    expect(decide(byRule, { a: 'x' }).effect).toBe('requires_approval');
    expect(decide(byRule, { a: 0, b: 'x' }).effect).toBe('block');
    expect(decide(byRule, { a: 0, b: 0 }).effect).toBe('allow');
  });

  it('refuses on_error: allow, with the reason', () => {
    const issues = validatePolicies([
      { name: 'P', tool: 't', rules: [{ if: 'args.a > 1', then: 'block' }], on_error: 'allow' },
      {
        name: 'Q',
        tool: 'u',
        rules: [{ if: 'args.a > 1', then: 'block', on_error: 'allow' }],
      },
    ]);
    expect(issues.map((issue) => issue.path)).toEqual([
      [0, 'on_error'],
      [1, 'rules', 0, 'on_error'],
    ]);
    expect(issues[0]?.message).toMatch(
      /cannot be allow: a condition that cannot be evaluated never lets a call through/,
    );
  });

  it('refuses a condition that is statically not a bool', () => {
    const issues = validatePolicies([
      { name: 'P', tool: 't', rules: [{ if: 'size(args.to) + 1', then: 'block' }] },
    ]);
    expect(issues[0]?.message).toMatch(/condition must be a bool, but it is int/);
  });
});

describe('declared argument types', () => {
  const set = compilePolicies([
    {
      name: 'Refunds',
      tool: 't',
      args: { amount: 'number', to: 'list<string>', count: 'int', note: 'string?' },
      rules: [{ if: 'args.amount > 100', then: 'block' }],
      default: 'allow',
    },
  ]);

  it.each([
    [{ amount: 5, to: ['a'], count: 1 }, 'allow', undefined],
    [{ amount: 5n, to: [], count: 2n, note: null }, 'allow', undefined],
    [{ amount: 1.5, to: [], count: 3 }, 'allow', undefined],
    [{ amount: 500n, to: [], count: 3 }, 'block', 'rule_matched'],
    [{ amount: '1000', to: [], count: 1 }, 'block', 'args.amount is a string, not number'],
    [{ amount: 1, to: ['a', 7], count: 1 }, 'block', 'args.to[1] is a double, not string'],
    [{ amount: 1, to: [], count: 1.5 }, 'block', 'args.count is a double, not int'],
    [{ to: [], count: 1 }, 'block', 'args.amount is missing'],
    [{ amount: 1, to: [], count: 1, note: 3 }, 'block', 'args.note is a double, not string?'],
  ])('%o is %s (%s)', (args, effect, why) => {
    const decision = decide(set, args);
    expect(decision.effect).toBe(effect);
    if (why !== undefined && why !== 'rule_matched') {
      expect(decision.reason).toBe('invalid_arguments');
      expect(decision.ruleIndex).toBe(-1);
      expect(decision.errors[0]?.message).toBe(why);
    }
  });

  it('type-checks conditions against the declared types, at save time', () => {
    const issues = (condition: string) =>
      validatePolicies([
        {
          name: 'P',
          tool: 't',
          args: { amount: 'number', to: 'list<string>', count: 'int', note: 'string' },
          rules: [{ if: condition, then: 'block' }],
        },
      ]).map((issue) => issue.message);
    expect(issues('args.amount > 100 && args.to.exists(r, !r.endsWith("@corp.com"))')).toEqual([]);
    expect(
      issues('has(args.note) && args.?note.orValue("") == "x" && args.count % 2 == 0'),
    ).toEqual([]);
    expect(issues('args.to.exists(r, r > 1)')).toEqual([
      'no such overload: string > int (with the declared argument types)',
    ]);
    expect(issues('args.amont > 100')).toEqual([
      'args.amont is not declared: a policy that declares its arguments (args) declares every one its conditions use',
    ]);
    expect(issues('args.note')).toEqual([
      'condition must be a bool, but with the declared argument types it is string',
    ]);
    expect(
      validatePolicies([
        { name: 'P', tool: 't', action: 'allow', args: { 'first-name': 'string' } },
      ])[0]?.message,
    ).toMatch(/an argument name is an identifier/);
  });

  it('refuses a type it does not know, at save time', () => {
    const issues = validatePolicies([
      { name: 'P', tool: 't', action: 'allow', args: { amount: 'money', to: 'list<strin>' } },
    ]);
    expect(issues.map((issue) => issue.path)).toEqual([
      [0, 'args', 'amount'],
      [0, 'args', 'to'],
    ]);
    expect(issues[0]?.message).toMatch(/"money" is not an argument type: use string, bool, number/);
  });
});

describe('exact integers: bigint (CEL int) and uint values', () => {
  it('type-checks, measures and describes them like numbers', () => {
    // A uint above the int64 range, as the library represents one.
    const huge = new Environment().evaluate('18446744073709551615u') as object;
    const typed = compilePolicies([
      { name: 'T', tool: 't', args: { a: 'int', b: 'number', c: 'list<int>' }, action: 'allow' },
    ]);
    expect(decide(typed, { a: huge, b: 12_345_678_901_234_567_891n, c: [1n, 2] }).effect).toBe(
      'allow',
    );
    const refused = decide(typed, { a: 1, b: 2, c: [1n, 2.5] });
    expect(refused).toMatchObject({ effect: 'block', reason: 'invalid_arguments' });
    expect(refused.errors[0]).toEqual({
      ruleIndex: -1,
      message: 'args.c[1] is a double, not int',
      shape: '{a: double, b: double, c: list<int|double>[2]}',
    });
    const mixed = policy('args.a * 1.5 > 100.0 || args.b + 1 > 10');
    expect(decide(mixed, { a: 100n, b: 1n })).toMatchObject({
      effect: 'block',
      reason: 'rule_matched',
    });
    expect(decide(mixed, { a: 1, b: 1.5 })).toMatchObject({
      effect: 'allow',
      reason: 'policy_default',
    });
    const shape = decide(policy('args.a > "x"'), { a: huge }).errors[0]?.shape;
    expect(shape).toBe('{a: uint}');
  });
});
