import { describe, expect, it } from 'vitest';
import { compilePolicies, evaluate, validatePolicies } from './index';

describe('approval terms (approvals, from, exclude_requester, approve_in)', () => {
  it('puts the rule terms over the policy terms on a requires_approval decision', () => {
    const set = compilePolicies([
      {
        name: 'Refunds',
        tool: 'refund',
        approvals: 2,
        from: ['finance'],
        approve_in: ['dashboard', 'app'],
        rules: [
          {
            if: 'args.amount > 1000',
            then: 'requires_approval',
            approvals: 3,
            exclude_requester: true,
          },
          { if: 'args.amount > 100', then: 'requires_approval' },
        ],
        default: 'allow',
      },
    ]);
    const big = evaluate(set, { tool: 'refund', args: { amount: 5000 } });
    expect(big.approval).toEqual({
      approvals: 3,
      from: ['finance'],
      excludeRequester: true,
      approveIn: ['dashboard', 'app'],
    });
    const mid = evaluate(set, { tool: 'refund', args: { amount: 500 } });
    expect(mid.approval).toEqual({
      approvals: 2,
      from: ['finance'],
      approveIn: ['dashboard', 'app'],
    });
    expect(evaluate(set, { tool: 'refund', args: { amount: 5 } }).approval).toBeUndefined();
  });

  it("carries exclude_owner (the rule's over the policy's), and only on requires_approval", () => {
    const set = compilePolicies([
      {
        name: 'Payouts',
        tool: 'payout',
        exclude_owner: true,
        rules: [
          { if: 'args.amount > 100', then: 'requires_approval', approvals: 2 },
          { if: 'args.amount > 10', then: 'requires_approval', exclude_owner: false },
        ],
        default: 'allow',
      },
    ]);
    expect(evaluate(set, { tool: 'payout', args: { amount: 500 } }).approval).toEqual({
      approvals: 2,
      excludeOwner: true,
      approveIn: ['dashboard'],
    });
    expect(evaluate(set, { tool: 'payout', args: { amount: 50 } }).approval).toEqual({
      approvals: 1,
      excludeOwner: false,
      approveIn: ['dashboard'],
    });
    const issues = validatePolicies([
      { name: 'X', tool: 'x', rules: [{ then: 'allow', exclude_owner: true }] },
      { name: 'Y', tool: 'y', action: 'block', exclude_owner: true },
    ]).map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    expect(issues.join('\n')).toMatch(/exclude_owner: only applies to "then: requires_approval"/);
    expect(issues.join('\n')).toMatch(/exclude_owner: only applies to requires_approval/);
  });

  it('leaves the terms out when the policy says nothing of them', () => {
    const set = compilePolicies([{ name: 'Held', tool: 'x', action: 'requires_approval' }]);
    expect(evaluate(set, { tool: 'x', args: {} }).approval).toBeUndefined();
  });

  it('holds a call whose condition errs under on_error: requires_approval with the terms', () => {
    const set = compilePolicies([
      {
        name: 'Typed',
        tool: 'x',
        approvals: 2,
        on_error: 'requires_approval',
        rules: [{ if: 'args.amount > 1', then: 'allow' }],
      },
    ]);
    const decision = evaluate(set, { tool: 'x', args: {} });
    expect(decision.effect).toBe('requires_approval');
    expect(decision.approval?.approvals).toBe(2);
  });

  it('refuses the keys on effects that are not requires_approval, and bad values', () => {
    const issues = (policies: unknown[]) =>
      validatePolicies(policies as never).map(
        (issue) => `${issue.path.join('.')}: ${issue.message}`,
      );
    expect(issues([{ name: 'A', tool: 'a', action: 'allow', approvals: 2 }]).join('\n')).toMatch(
      /approvals: only applies to requires_approval/,
    );
    expect(
      issues([{ name: 'A', tool: 'a', rules: [{ then: 'block', approve_in: ['app'] }] }]).join(
        '\n',
      ),
    ).toMatch(/approve_in: only applies to "then: requires_approval"/);
    expect(
      issues([{ name: 'A', tool: 'a', action: 'requires_approval', approvals: 0 }]),
    ).not.toEqual([]);
    expect(
      issues([{ name: 'A', tool: 'a', action: 'requires_approval', approve_in: ['email'] }]),
    ).not.toEqual([]);
    expect(
      issues([{ name: 'A', tool: 'a', action: 'requires_approval', from: ['fin ance'] }]).join(
        '\n',
      ),
    ).toMatch(/group name/);
  });
});
