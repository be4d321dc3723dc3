import { describe, expect, it } from 'vitest';
import {
  compilePolicies,
  evaluate,
  memoryKey,
  memoryNeeds,
  type PolicyDefinition,
  validatePolicies,
} from './index';

function refunds(extra: Partial<PolicyDefinition> = {}): PolicyDefinition {
  return {
    name: 'Refunds',
    tool: 'stripe.issue_refund',
    cost: 'args.amount',
    rules: [
      { if: 'args.amount > 1000', then: 'block' },
      { if: 'args.amount > 100', then: 'requires_approval' },
    ],
    default: 'allow',
    ...extra,
  };
}

const decide = (policy: PolicyDefinition, args: Record<string, unknown>) =>
  evaluate(compilePolicies([policy]), { tool: 'stripe.issue_refund', args, session: 's-1' });

describe('a policy cost: the call’s money cost in dollars', () => {
  it('is evaluated when the policy allows or holds the call, as int or double', () => {
    expect(decide(refunds(), { amount: 25 })).toMatchObject({ effect: 'allow', costUsd: 25 });
    expect(decide(refunds(), { amount: 12.5 })).toMatchObject({ effect: 'allow', costUsd: 12.5 });
    expect(decide(refunds(), { amount: 500 })).toMatchObject({
      effect: 'requires_approval',
      costUsd: 500,
    });
    expect(decide(refunds({ cost: 'args.cents / 100.0' }), { amount: 5, cents: 250 }).costUsd).toBe(
      2.5,
    );
  });

  it('is not evaluated for a blocked call: nothing is spent', () => {
    const decision = decide(refunds({ cost: 'args.missing' }), { amount: 5000 });
    expect(decision.effect).toBe('block');
    expect(decision.reason).toBe('rule_matched');
    expect(decision.costUsd).toBeUndefined();
  });

  it('applies to a policy without conditions too', () => {
    const decision = decide(
      { name: 'Pay', tool: 'stripe.issue_refund', action: 'allow', cost: '3' },
      {},
    );
    expect(decision).toMatchObject({ effect: 'allow', costUsd: 3 });
  });

  it('makes on_error decide when it cannot be evaluated, is negative or not finite', () => {
    for (const [cost, args, message] of [
      ['args.price', { amount: 5 }, /cost: No such key: price/],
      ['args.amount', { amount: -5 }, /cost: it is out of range/],
      ['args.note', { amount: 5, note: 'ten' }, /cost: it returned a string, not a number/],
      ['args.amount * 1e308 * 10.0', { amount: 1.5 }, /cost: it is not finite/],
    ] as const) {
      const blocked = decide(refunds({ cost }), args);
      expect(blocked).toMatchObject({ effect: 'block', reason: 'condition_error' });
      expect(blocked.costUsd).toBeUndefined();
      expect(blocked.errors[0]?.message).toMatch(message);
      expect(blocked.explanation).toMatch(/its cost could not be evaluated/);
    }
    const held = decide(refunds({ cost: 'args.price', on_error: 'requires_approval' }), {
      amount: 5,
    });
    expect(held).toMatchObject({ effect: 'requires_approval', reason: 'condition_error' });
    expect(held.costUsd).toBeUndefined();
  });

  it('must compile to a number, with the declared argument types too', () => {
    expect(validatePolicies([refunds({ cost: 'args.amount > 3' })])[0]).toMatchObject({
      path: [0, 'cost'],
      message: expect.stringMatching(/cost must be a number .*, but it is bool/),
    });
    expect(
      validatePolicies([
        refunds({ cost: 'args.note', args: { note: 'string', amount: 'number' } }),
      ])[0]?.message,
    ).toMatch(/cost must be a number .* with the declared argument types it is string/);
    expect(validatePolicies([refunds({ cost: '  ' })])[0]?.path).toEqual([0, 'cost']);
    expect(validatePolicies([refunds({ cost: 'args.amount +' })])[0]?.path).toEqual([0, 'cost']);
  });

  it('may read memory inputs, which are then fetched for the call', () => {
    const set = compilePolicies([refunds({ cost: 'session.calls("stripe.*") > 2 ? 1.5 : 0.0' })]);
    const [query] = memoryNeeds(set, 'stripe.issue_refund').queries;
    expect(query).toEqual({ kind: 'calls', scope: 'session', pattern: 'stripe.*' });
    const memory = new Map([[memoryKey(query as never), 3]]);
    expect(
      evaluate(set, { tool: 'stripe.issue_refund', args: { amount: 5 }, session: 's', memory })
        .costUsd,
    ).toBe(1.5);
  });
});

describe('a policy budget over its tools’ costs', () => {
  const budgeted = (budget: PolicyDefinition['budget']) =>
    compilePolicies([refunds({ rules: [], budget })]);

  it('reads the tools’ costs so far from memory and decides past the limit by on_exceed', () => {
    const set = budgeted({ per: 'session', usd: 100 });
    const [query] = memoryNeeds(set, 'stripe.issue_refund').queries;
    expect(query).toEqual({ kind: 'tool_cost', scope: 'session', pattern: 'stripe.issue_refund' });
    const spent = (usd: number) => new Map([[memoryKey(query as never), usd]]);
    const call = (amount: number, memory: Map<string, number>) =>
      evaluate(set, { tool: 'stripe.issue_refund', args: { amount }, session: 's', memory });
    expect(call(40, spent(60))).toMatchObject({ effect: 'allow', costUsd: 40 });
    const over = call(40.01, spent(60));
    expect(over).toMatchObject({ effect: 'block', reason: 'budget_exceeded', ruleIndex: -1 });
    expect(over.costUsd).toBeUndefined();
    expect(over.explanation).toMatch(/its budget \(\$100 per session\) is exceeded: \$60 counted/);
    const held = evaluate(
      budgeted({ per: 'agent', window: 3600, usd: 100, on_exceed: 'requires_approval' }),
      {
        tool: 'stripe.issue_refund',
        args: { amount: 50 },
        session: 's',
        memory: new Map([['tool_cost|agent|stripe.issue_refund|3600000', 60]]),
      },
    );
    expect(held).toMatchObject({
      effect: 'requires_approval',
      reason: 'budget_exceeded',
      costUsd: 50,
    });
    expect(held.explanation).toMatch(/per agent in 1 h/);
  });

  it('is an evaluation error when the costs so far are not known', () => {
    const decision = evaluate(budgeted({ per: 'session', usd: 100 }), {
      tool: 'stripe.issue_refund',
      args: { amount: 5 },
      session: 's',
    });
    expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error' });
    expect(decision.errors[0]?.message).toMatch(/session's costs of 'stripe.issue_refund'/);
  });

  it('needs cost, and a window only per agent', () => {
    expect(
      validatePolicies([
        { ...refunds({ budget: { per: 'session', usd: 5 } }), cost: undefined },
      ])[0],
    ).toMatchObject({ path: [0, 'budget'] });
    expect(
      validatePolicies([refunds({ budget: { per: 'session', usd: 5, window: 60 } })])[0]?.path,
    ).toEqual([0, 'budget', 'window']);
    expect(validatePolicies([refunds({ budget: { per: 'agent', usd: -1 } })])).not.toEqual([]);
    expect(
      validatePolicies([
        refunds({
          rules: [],
          timeout: 60,
          budget: { per: 'agent', usd: 5, on_exceed: 'requires_approval' },
        }),
      ]),
    ).toEqual([]);
  });
});
