import { describe, expect, it } from 'vitest';
import { diffPolicies, formatPolicyDiff, type PolicyDefinition } from './index';

const refunds: PolicyDefinition = {
  id: 'pol_1',
  version: 1,
  name: 'Refunds',
  tool: 'stripe.issue_refund',
  rules: [
    { if: 'args.amount <= 50', then: 'allow' },
    { if: 'args.amount > 10000', then: 'block' },
  ],
  default: 'requires_approval',
  timeout: 300,
};
const email: PolicyDefinition = { name: 'Email', tool: 'communication.*', action: 'allow' };
const database: PolicyDefinition = { name: 'Database', tool: 'db.*', action: 'block' };

describe('diffPolicies', () => {
  it('finds added, removed, changed and unchanged policies by name', () => {
    const diff = diffPolicies([refunds, email], [{ ...refunds, timeout: 600 }, database]);
    expect(diff.added.map((policy) => policy.name)).toEqual(['Database']);
    expect(diff.removed.map((policy) => policy.name)).toEqual(['Email']);
    expect(diff.changed).toHaveLength(1);
    expect(diff.changed[0]?.changes).toEqual([
      { path: ['timeout'], kind: 'changed', before: 300, after: 600 },
    ]);
    expect(diff.unchanged).toEqual([]);
    expect(diff.hasChanges).toBe(true);
  });

  it('ignores id and version, and treats absent like undefined', () => {
    const diff = diffPolicies(
      [refunds, email],
      [
        { ...refunds, id: 'pol_9', version: 7 },
        { ...email, description: undefined },
      ],
    );
    expect(diff.hasChanges).toBe(false);
    expect(diff.unchanged).toEqual(['Refunds', 'Email']);
  });

  it('reports added and removed fields', () => {
    const diff = diffPolicies(
      [email],
      [
        {
          name: 'Email',
          tool: 'communication.*',
          action: 'allow',
          description: 'Mail',
          enabled: false,
        },
      ],
    );
    expect(diff.changed[0]?.changes).toEqual([
      { path: ['description'], kind: 'added', after: 'Mail' },
      { path: ['enabled'], kind: 'added', after: false },
    ]);
    const back = diffPolicies([{ ...email, timeout: 5 } as PolicyDefinition], [email]);
    expect(back.changed[0]?.changes).toEqual([{ path: ['timeout'], kind: 'removed', before: 5 }]);
  });

  it('reports a changed rule field by rule index', () => {
    const after = {
      ...refunds,
      rules: [
        { if: 'args.amount <= 100', then: 'allow' as const },
        { if: 'args.amount > 10000', then: 'block' as const },
      ],
    };
    expect(diffPolicies([refunds], [after]).changed[0]?.changes).toEqual([
      {
        path: ['rules', 0, 'if'],
        kind: 'changed',
        before: 'args.amount <= 50',
        after: 'args.amount <= 100',
      },
    ]);
  });

  it('shows an inserted rule as one added rule, not every later rule changed', () => {
    const inserted = { if: 'args.currency == "btc"', then: 'block' as const };
    const after = { ...refunds, rules: [inserted, ...(refunds.rules ?? [])] };
    expect(diffPolicies([refunds], [after]).changed[0]?.changes).toEqual([
      { path: ['rules', 0], kind: 'added', after: inserted },
    ]);
    const removed = diffPolicies([after], [refunds]).changed[0]?.changes;
    expect(removed).toEqual([{ path: ['rules', 0], kind: 'removed', before: inserted }]);
  });

  it('treats rules and no rules as a change from the shorthand', () => {
    const before: PolicyDefinition = { name: 'Email', tool: 'communication.*', action: 'allow' };
    const after: PolicyDefinition = {
      name: 'Email',
      tool: 'communication.*',
      rules: [{ if: 'args.to.endsWith("@corp.com")', then: 'allow' }],
      default: 'block',
    };
    expect(diffPolicies([before], [after]).changed[0]?.changes).toEqual([
      { path: ['action'], kind: 'removed', before: 'allow' },
      { path: ['default'], kind: 'added', after: 'block' },
      { path: ['rules', 0], kind: 'added', after: after.rules?.[0] },
    ]);
  });
});

describe('formatPolicyDiff', () => {
  it('prints one line per change', () => {
    const diff = diffPolicies(
      [refunds, email],
      [{ ...refunds, timeout: 600, rules: [{ if: 'args.amount <= 60', then: 'allow' }] }, database],
    );
    expect(formatPolicyDiff(diff)).toBe(
      [
        '+ policy "Database" (tool db.*)',
        '- policy "Email" (tool communication.*)',
        '~ policy "Refunds"',
        '    ~ timeout: 300 -> 600',
        '    ~ rules[0].if: "args.amount <= 50" -> "args.amount <= 60"',
        '    - rules[1]: {"if":"args.amount > 10000","then":"block"}',
      ].join('\n'),
    );
  });

  it('says when nothing changed', () => {
    expect(formatPolicyDiff(diffPolicies([email], [email]))).toBe('No changes.');
  });
});

describe('on_error and declared argument types', () => {
  it('are compared like every other field', () => {
    const before = [
      { name: 'P', tool: 't', rules: [{ if: 'args.a > 1', then: 'block' as const }] },
    ];
    const after = [
      {
        name: 'P',
        tool: 't',
        on_error: 'requires_approval' as const,
        args: { a: 'number' },
        rules: [{ if: 'args.a > 1', then: 'block' as const, on_error: 'block' as const }],
      },
    ];
    const diff = diffPolicies(before, after);
    expect(diff.changed[0]?.changes.map((change) => change.path)).toEqual([
      ['on_error'],
      ['args'],
      ['rules', 0, 'on_error'],
    ]);
  });
});
