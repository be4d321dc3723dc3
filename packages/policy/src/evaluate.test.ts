import { describe, expect, it } from 'vitest';
import { compilePolicies, evaluate, matchPolicy, type PolicyDefinition, simulate } from './index';

const policies: PolicyDefinition[] = [
  { name: 'Everything', tool: '*', action: 'block' },
  { name: 'Communication', tool: 'communication.*', action: 'requires_approval' },
  { name: 'Email', tool: 'communication.email.*', action: 'allow' },
  { name: 'Send email', tool: 'communication.email.send', action: 'block' },
  { name: 'Send prefix', tool: 'send_*', action: 'allow' },
  { name: 'Disabled', tool: 'stripe.*', action: 'allow', enabled: false },
];

describe('matching: the most specific policy wins', () => {
  const set = compilePolicies(policies);

  it.each([
    ['communication.email.send', 'Send email', 'block'],
    ['communication.email.draft', 'Email', 'allow'],
    ['communication.sms.send', 'Communication', 'requires_approval'],
    ['communication.', 'Communication', 'requires_approval'],
    ['communication', 'Everything', 'block'],
    ['send_sms', 'Send prefix', 'allow'],
    ['stripe.issue_refund', 'Everything', 'block'],
    ['database.query', 'Everything', 'block'],
  ])('%s is decided by "%s" (%s)', (tool, policy, effect) => {
    expect(matchPolicy(set, tool)?.name).toBe(policy);
    const decision = evaluate(set, { tool, args: {} });
    expect(decision.policy?.name).toBe(policy);
    expect(decision.effect).toBe(effect);
  });

  it('does not depend on the order of the policies', () => {
    const reversed = compilePolicies([...policies].reverse());
    expect(matchPolicy(reversed, 'communication.email.draft')?.name).toBe('Email');
    expect(matchPolicy(reversed, 'communication.email.send')?.name).toBe('Send email');
  });

  it('never matches a disabled policy, and a disabled policy may share a pattern', () => {
    const set = compilePolicies([
      { name: 'Old refunds', tool: 'stripe.*', action: 'allow', enabled: false },
      { name: 'Refunds', tool: 'stripe.*', action: 'block' },
    ]);
    expect(evaluate(set, { tool: 'stripe.refund', args: {} }).policy?.name).toBe('Refunds');
  });
});

describe('no policy matches: the agent default action', () => {
  const set = compilePolicies([{ name: 'Refunds', tool: 'stripe.issue_refund', action: 'block' }]);

  it.each([
    [undefined, 'allow'],
    ['allow', 'allow'],
    ['block', 'block'],
    ['requires_approval', 'requires_approval'],
  ] as const)(
    'default_action %s gives %s with reason no_policy_configured',
    (defaultAction, effect) => {
      const decision = evaluate(set, { tool: 'other.tool', args: {} }, defaultAction);
      expect(decision.effect).toBe(effect);
      expect(decision.reason).toBe('no_policy_configured');
      expect(decision.policy).toBeUndefined();
      expect(decision.ruleIndex).toBeUndefined();
      expect(decision.explanation).toMatch(/No policy matches this tool/);
    },
  );

  it('a held call from default_action times out to deny', () => {
    const decision = evaluate(set, { tool: 'x', args: {} }, 'requires_approval');
    expect(decision.onTimeout).toBe('deny');
  });

  it('reads the legacy require_approval, and blocks on an unknown default_action', () => {
    const legacy = evaluate(set, { tool: 'x', args: {} }, 'require_approval' as 'allow');
    expect(legacy.effect).toBe('requires_approval');
    expect(evaluate(set, { tool: 'x', args: {} }, 'yes' as 'allow').effect).toBe('block');
    expect(evaluate(set, { tool: 'x', args: {} }, 'constructor' as 'allow').effect).toBe('block');
  });

  it('an empty set decides everything by default_action', () => {
    expect(evaluate(compilePolicies([]), { tool: 'x', args: {} }, 'block').effect).toBe('block');
  });
});

describe('rules: first match decides, else the default', () => {
  const set = compilePolicies([
    {
      id: 'pol_1',
      name: 'Refunds',
      tool: 'stripe.issue_refund',
      version: 3,
      rules: [
        { if: 'args.amount <= 50', then: 'allow' },
        { if: 'args.amount <= 500', then: 'requires_approval', timeout: 600 },
        { if: 'args.amount <= 400', then: 'allow' },
        { if: 'has(args.currency) && args.currency == "btc"', then: 'block' },
      ],
      default: 'requires_approval',
      timeout: 300,
      on_timeout: 'allow',
    },
  ]);

  it.each([
    [10, 0, 'allow', 'rule_matched'],
    [50, 0, 'allow', 'rule_matched'],
    [300, 1, 'requires_approval', 'rule_matched'],
    [501, -1, 'requires_approval', 'policy_default'],
  ])('amount %d is decided by rule %d (%s)', (amount, ruleIndex, effect, reason) => {
    const decision = evaluate(set, { tool: 'stripe.issue_refund', args: { amount } });
    expect(decision.ruleIndex).toBe(ruleIndex);
    expect(decision.effect).toBe(effect);
    expect(decision.reason).toBe(reason);
    expect(decision.errors).toEqual([]);
    expect(decision.policy).toEqual({
      id: 'pol_1',
      name: 'Refunds',
      tool: 'stripe.issue_refund',
      version: 3,
    });
  });

  it('carries the rule timeout, else the policy timeout, and the policy on_timeout', () => {
    const byRule = evaluate(set, { tool: 'stripe.issue_refund', args: { amount: 300 } });
    expect(byRule).toMatchObject({ timeout: 600, onTimeout: 'allow' });
    const byDefault = evaluate(set, { tool: 'stripe.issue_refund', args: { amount: 1000 } });
    expect(byDefault).toMatchObject({ timeout: 300, onTimeout: 'allow' });
  });

  it('puts no timeout on allow or block', () => {
    const decision = evaluate(set, { tool: 'stripe.issue_refund', args: { amount: 1 } });
    expect(decision).not.toHaveProperty('timeout');
    expect(decision).not.toHaveProperty('onTimeout');
  });

  it('explains which policy, version and rule decided', () => {
    const decision = evaluate(set, { tool: 'stripe.issue_refund', args: { amount: 300 } });
    expect(decision.explanation).toBe(
      'Policy "Refunds" v3 (tool stripe.issue_refund): rule 2 matched (args.amount <= 500); the call is held for approval (timeout 600 s, then allow).',
    );
    const fallback = evaluate(set, { tool: 'stripe.issue_refund', args: { amount: 9999 } });
    expect(fallback.explanation).toContain('no rule matched, so the policy default applies');
  });

  it('decides a call whose condition cannot be evaluated by on_error (block), never by a later rule', () => {
    const decision = evaluate(set, { tool: 'stripe.issue_refund', args: { currency: 'btc' } });
    expect(decision.effect).toBe('block');
    expect(decision.reason).toBe('condition_error');
    expect(decision.ruleIndex).toBe(0);
    expect(decision.errors).toEqual([
      { ruleIndex: 0, message: 'No such key: amount', shape: '{currency: string[3]}' },
    ]);
    expect(decision.explanation).toContain("rule 1's condition could not be evaluated");
    expect(decision.explanation).toContain('the call is blocked');
  });

  it('defaults to on_timeout deny and to block without a default', () => {
    const plain = compilePolicies([
      {
        name: 'Email',
        tool: 'email.send',
        rules: [{ if: 'args.to.endsWith("@corp.com")', then: 'requires_approval' }],
      },
    ]);
    expect(evaluate(plain, { tool: 'email.send', args: { to: 'a@corp.com' } })).toMatchObject({
      effect: 'requires_approval',
      onTimeout: 'deny',
    });
    expect(evaluate(plain, { tool: 'email.send', args: { to: 'a@gmail.com' } })).toMatchObject({
      effect: 'block',
      reason: 'policy_default',
      ruleIndex: -1,
    });
  });

  it('a rule without a condition always applies', () => {
    const unconditional = compilePolicies([
      {
        name: 'Database',
        tool: 'db.query',
        rules: [{ if: 'args.table == "users"', then: 'block' }, { then: 'requires_approval' }],
        default: 'allow',
      },
    ]);
    expect(evaluate(unconditional, { tool: 'db.query', args: { table: 'users' } }).effect).toBe(
      'block',
    );
    const decision = evaluate(unconditional, { tool: 'db.query', args: { table: 'orders' } });
    expect(decision).toMatchObject({ effect: 'requires_approval', ruleIndex: 1 });
    expect(decision.explanation).toContain('rule 2 applies (it has no condition)');
  });

  it('treats missing or non-object args as an empty map', () => {
    const decision = evaluate(set, {
      tool: 'stripe.issue_refund',
      args: null as unknown as Record<string, unknown>,
    });
    expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error' });
    expect(decision.errors[0]).toEqual({
      ruleIndex: 0,
      message: 'No such key: amount',
      shape: '{}',
    });
  });
});

describe('the other variables', () => {
  const set = compilePolicies([
    {
      name: 'Context',
      tool: '*',
      rules: [
        { if: 'environment == "live" && tool.startsWith("stripe.")', then: 'requires_approval' },
        { if: 'session == null', then: 'block' },
        { if: 'agent.name == "support-bot" && session.startsWith("s-")', then: 'allow' },
        { if: 'now > timestamp("2030-01-01T00:00:00Z")', then: 'requires_approval' },
      ],
      default: 'block',
    },
  ]);

  it('sees tool and environment', () => {
    const input = { tool: 'stripe.refund', args: {}, session: 's-1', environment: 'live' } as const;
    expect(evaluate(set, input).ruleIndex).toBe(0);
    expect(evaluate(set, { ...input, environment: 'test' }).ruleIndex).not.toBe(0);
  });

  it('sees session as null when absent', () => {
    expect(evaluate(set, { tool: 'x', args: {} }).ruleIndex).toBe(1);
    expect(evaluate(set, { tool: 'x', args: {}, session: null }).ruleIndex).toBe(1);
  });

  it('sees agent and session', () => {
    const decision = evaluate(set, {
      tool: 'x',
      args: {},
      session: 's-42',
      agent: { id: 'agt_1', name: 'support-bot' },
    });
    expect(decision.ruleIndex).toBe(2);
  });

  it('sees now, from the input or the clock', () => {
    const later = { tool: 'x', args: {}, session: 'other', now: new Date('2031-01-01T00:00:00Z') };
    expect(evaluate(set, later).ruleIndex).toBe(3);
    expect(evaluate(set, { ...later, now: new Date('2029-01-01T00:00:00Z') }).ruleIndex).toBe(-1);
    expect(evaluate(set, { tool: 'x', args: {}, session: 'other' }).ruleIndex).toBe(-1);
  });
});

describe('decisions', () => {
  const set = compilePolicies([
    { name: 'Refunds', tool: 'refund', rules: [{ if: 'args.amount < 5', then: 'allow' }] },
  ]);

  it('are frozen, so that a shared decision cannot be changed by one caller', () => {
    const decision = evaluate(set, { tool: 'refund', args: { amount: 1 } });
    expect(Object.isFrozen(decision)).toBe(true);
    expect(Object.isFrozen(decision.errors)).toBe(true);
    expect(() => {
      (decision as { effect: string }).effect = 'block';
    }).toThrow(TypeError);
    expect(evaluate(set, { tool: 'refund', args: { amount: 1 } }).effect).toBe('allow');
  });

  it('serialise to JSON without undefined fields', () => {
    const decision = evaluate(set, { tool: 'refund', args: { amount: 1 } });
    expect(JSON.parse(JSON.stringify(decision))).toEqual({
      effect: 'allow',
      reason: 'rule_matched',
      policy: { name: 'Refunds', tool: 'refund' },
      ruleIndex: 0,
      errors: [],
      explanation:
        'Policy "Refunds" (tool refund): rule 1 matched (args.amount < 5); the call is allowed.',
    });
  });

  it('refuse a set that was not compiled', () => {
    expect(() => evaluate({ policies: [] }, { tool: 'x', args: {} })).toThrow(/compilePolicies/);
  });
});

describe('evaluation', () => {
  it('restores Error.stackTraceLimit after a failing condition', () => {
    const before = Error.stackTraceLimit;
    const set = compilePolicies([
      { name: 'A', tool: 'a', rules: [{ if: 'args.missing == 1', then: 'allow' }] },
    ]);
    expect(evaluate(set, { tool: 'a', args: {} }).errors).toHaveLength(1);
    expect(Error.stackTraceLimit).toBe(before);
  });

  it('decides calls over 50 policies of CEL rules, each by its own policy', () => {
    const definitions: PolicyDefinition[] = Array.from({ length: 50 }, (_, index) => ({
      name: `P${index}`,
      tool: index % 2 ? `tool${index}` : `group${index}.*`,
      rules: [
        { if: `args.amount <= ${index}`, then: 'allow' },
        { if: 'args.to.endsWith("@example.com") && args.table in ["a", "b"]', then: 'block' },
      ],
      default: 'requires_approval',
    }));
    const set = compilePolicies(definitions);
    const calls = Array.from({ length: 100 }, (_, index) => ({
      tool: index % 2 ? `tool${index % 50}` : `group${index % 50}.send`,
      args: { amount: index, to: 'x@example.com', table: 'a' },
    }));
    // Call i goes to policy P(i % 50): its first rule allows amounts up to the policy's index
    // (so calls 0–49), its second blocks the rest. How fast this is lives in bench/ (policy-eval,
    // the same 50-policy set), not in a unit test.
    for (const [index, call] of calls.entries()) {
      const decision = evaluate(set, call);
      expect(decision.policy?.name, call.tool).toBe(`P${index % 50}`);
      expect(decision.effect, call.tool).toBe(index < 50 ? 'allow' : 'block');
    }
  });
});

describe('simulate', () => {
  it('decides each past call with a draft, in order', () => {
    const draft = compilePolicies([
      {
        name: 'Refunds',
        tool: 'stripe.issue_refund',
        rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
        default: 'allow',
      },
    ]);
    const decisions = simulate(
      draft,
      [
        { tool: 'stripe.issue_refund', args: { amount: 10 } },
        { tool: 'stripe.issue_refund', args: { amount: 1000 } },
        { tool: 'email.send', args: {} },
      ],
      'block',
    );
    expect(decisions.map((decision) => [decision.effect, decision.reason])).toEqual([
      ['allow', 'policy_default'],
      ['requires_approval', 'rule_matched'],
      ['block', 'no_policy_configured'],
    ]);
  });
});
