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
