import { describe, expect, it } from 'vitest';
import { compilePolicies, sensitivePaths, validatePolicies } from './index';

describe('redact: sensitive argument paths', () => {
  const policies = [
    {
      name: 'Pay',
      tool: 'pay',
      action: 'requires_approval' as const,
      redact: ['card.number', 'password'],
    },
    { name: 'Other', tool: 'other', action: 'allow' as const },
  ];

  it('are the deciding policy’s paths, and none for other tools', () => {
    const set = compilePolicies(policies);
    expect(sensitivePaths(set, 'pay')).toEqual(['card.number', 'password']);
    expect(sensitivePaths(set, 'other')).toEqual([]);
    expect(sensitivePaths(set, 'unknown')).toEqual([]);
  });

  it('refuses what is not a dotted argument path', () => {
    for (const redact of [['card number'], ['card..number'], ['.card'], [], ['a/b']]) {
      const issues = validatePolicies([{ ...policies[0], redact }]);
      expect(issues.length, JSON.stringify(redact)).toBeGreaterThan(0);
      expect(issues[0]?.path.slice(0, 2)).toEqual([0, 'redact']);
    }
  });
});
