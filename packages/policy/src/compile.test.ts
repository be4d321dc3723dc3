import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  compilePolicies,
  effectSchema,
  matchPolicy,
  type PolicyDefinition,
  policySchema,
  policySetSchema,
  ruleSchema,
  validatePolicies,
} from './index';

describe('validatePolicies', () => {
  it('returns [] for valid policies', () => {
    expect(
      validatePolicies([
        { name: 'A', tool: 'a', action: 'allow' },
        { name: 'B', tool: 'b.*', rules: [{ if: 'args.x > 1', then: 'block' }] },
        { name: 'C', tool: '*', rules: [], default: 'requires_approval', timeout: 60 },
      ]),
    ).toEqual([]);
  });

  it('accepts who is notified, reminders and escalation on requires_approval', () => {
    expect(
      validatePolicies([
        {
          name: 'Refunds',
          tool: 'payments.*',
          notify: ['slack:#payments', 'email:finance@example.com'],
          remind_after: 600,
          escalate_after: 1800,
          escalate_to: ['slack@second:#leads', 'webhook:pager'],
          rules: [{ if: 'args.amount > 10', then: 'requires_approval', notify: ['slack:#big'] }],
          default: 'allow',
        },
      ]),
    ).toEqual([]);
  });

  it.each<[string, unknown, { path: (string | number)[]; message: RegExp }]>([
    ['not an object', 42, { path: [0], message: /expected object/ }],
    ['null', null, { path: [0], message: /expected object/ }],
    [
      'a missing name',
      { tool: 'a', action: 'allow' },
      { path: [0, 'name'], message: /"name" is required/ },
    ],
    [
      'a blank name',
      { name: '  ', tool: 'a', action: 'allow' },
      { path: [0, 'name'], message: /must not be empty/ },
    ],
    [
      'a bad pattern',
      { name: 'A', tool: 'a.**', action: 'allow' },
      { path: [0, 'tool'], message: /has "\*\*": in a tool pattern one "\*" already matches/ },
    ],
    [
      'a pattern with a space',
      { name: 'A', tool: 'a b', action: 'allow' },
      { path: [0, 'tool'], message: /tool name/ },
    ],
    [
      'an unknown effect',
      { name: 'A', tool: 'a', action: 'deny' },
      {
        path: [0, 'action'],
        message: /must be one of allow, block, requires_approval, not "deny"/,
      },
    ],
    [
      'the legacy alias outside files',
      { name: 'A', tool: 'a', action: 'require_approval' },
      { path: [0, 'action'], message: /must be one of/ },
    ],
    [
      'an unknown key',
      { name: 'A', tool: 'a', action: 'allow', when: 'x' },
      { path: [0, 'when'], message: /unknown key "when"/ },
    ],
    [
      'action with rules',
      { name: 'A', tool: 'a', action: 'allow', rules: [{ then: 'block' }] },
      { path: [0, 'action'], message: /with `rules`, use `default`/ },
    ],
    [
      'action with default',
      { name: 'A', tool: 'a', action: 'allow', default: 'block' },
      { path: [0, 'action'], message: /keep one/ },
    ],
    [
      'no action, rules or default',
      { name: 'A', tool: 'a' },
      { path: [0], message: /needs `action`, or `rules`/ },
    ],
    [
      'an empty condition',
      { name: 'A', tool: 'a', rules: [{ if: ' ', then: 'allow' }] },
      { path: [0, 'rules', 0, 'if'], message: /must not be empty/ },
    ],
    [
      'a timeout on allow',
      { name: 'A', tool: 'a', rules: [{ then: 'allow', timeout: 5 }] },
      { path: [0, 'rules', 0, 'timeout'], message: /only applies to "then: requires_approval"/ },
    ],
    [
      'a policy timeout without approval',
      { name: 'A', tool: 'a', action: 'block', on_timeout: 'allow' },
      { path: [0, 'on_timeout'], message: /no effect of this policy is requires_approval/ },
    ],
    [
      'a fractional timeout',
      { name: 'A', tool: 'a', action: 'requires_approval', timeout: 1.5 },
      { path: [0, 'timeout'], message: /int/ },
    ],
    [
      'a timeout over 30 days',
      { name: 'A', tool: 'a', action: 'requires_approval', timeout: 2_592_001 },
      { path: [0, 'timeout'], message: /2592000/ },
    ],
    [
      'a bad on_timeout',
      { name: 'A', tool: 'a', action: 'requires_approval', on_timeout: 'block' },
      { path: [0, 'on_timeout'], message: /must be one of deny, allow/ },
    ],
    [
      'notify on a rule that allows',
      { name: 'A', tool: 'a', rules: [{ then: 'allow', notify: ['slack:#x'] }] },
      { path: [0, 'rules', 0, 'notify'], message: /only applies to "then: requires_approval"/ },
    ],
    [
      'escalation without approval',
      { name: 'A', tool: 'a', action: 'block', escalate_after: 60 },
      { path: [0, 'escalate_after'], message: /no effect of this policy is requires_approval/ },
    ],
    [
      'a notify target that is not kind:destination',
      { name: 'A', tool: 'a', action: 'requires_approval', notify: ['#payments'] },
      { path: [0, 'notify', 0], message: /kind\[@channel\]:destination/ },
    ],
  ])('reports %s', (_case, policy, expected) => {
    const issues = validatePolicies([policy]);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual(expected.path);
    expect(issues[0]?.message).toMatch(expected.message);
  });

  it('names the policy of an issue', () => {
    const [issue] = validatePolicies([{ name: 'Refunds', tool: 'a', action: 'nope' }]);
    expect(issue?.policy).toBe('Refunds');
  });

  it('refuses two enabled policies for one pattern, and duplicate names', () => {
    const issues = validatePolicies([
      { name: 'A', tool: 'mail.*', action: 'allow' },
      { name: 'B', tool: 'mail.*', action: 'block' },
      { name: 'A', tool: 'other', action: 'block' },
    ]);
    expect(issues.map((issue) => [issue.path, issue.policy])).toEqual([
      [[1, 'tool'], 'B'],
      [[2, 'name'], 'A'],
    ]);
  });

  it('never throws', () => {
    expect(validatePolicies(null as unknown as unknown[])).toEqual([
      { path: [], message: 'expected a list of policies' },
    ]);
    expect(validatePolicies([undefined, 'x', [], { rules: 5 }]).length).toBeGreaterThan(0);
  });

  it('limits the number of rules', () => {
    const rules = Array.from({ length: 101 }, () => ({ then: 'allow' as const }));
    const [issue] = validatePolicies([{ name: 'A', tool: 'a', rules }]);
    expect(issue?.path).toEqual([0, 'rules']);
  });
});

describe('compilePolicies', () => {
  it('keeps the validated definition, frozen, and does not keep the caller’s object', () => {
    const definition: PolicyDefinition = {
      name: 'A',
      tool: 'a',
      rules: [{ if: 'args.x > 1', then: 'block' }],
    };
    const set = compilePolicies([definition]);
    definition.rules?.push({ then: 'allow' });
    const policy = matchPolicy(set, 'a');
    expect(policy?.rules).toHaveLength(1);
    expect(policy?.defaultEffect).toBe('block');
    expect(Object.isFrozen(policy?.definition)).toBe(true);
    expect(policy?.rules[0]).toMatchObject({ index: 0, condition: 'args.x > 1', effect: 'block' });
  });
});

describe('zod schemas', () => {
  it('parse a policy and a policy set', () => {
    expect(effectSchema.parse('block')).toBe('block');
    expect(ruleSchema.safeParse({ if: 'true', then: 'allow' }).success).toBe(true);
    expect(policySchema.safeParse({ name: 'A', tool: 'a', action: 'allow' }).success).toBe(true);
    const set = policySetSchema.safeParse({
      default_action: 'block',
      policies: [
        { name: 'A', tool: 'a', action: 'allow' },
        { name: 'B', tool: 'a', action: 'allow' },
      ],
    });
    expect(set.success).toBe(false);
    expect(set.error?.issues[0]?.path).toEqual(['policies', 1, 'tool']);
  });

  it('generate JSON Schema (for OpenAPI)', () => {
    const schema = z.toJSONSchema(policySetSchema, { io: 'input' }) as unknown as {
      properties: {
        policies: { items: { properties: Record<string, unknown>; required: string[] } };
      };
    };
    const policy = schema.properties.policies.items;
    expect(policy.required).toEqual(['name', 'tool']);
    expect(Object.keys(policy.properties)).toContain('rules');
    expect(policy.properties.action).toMatchObject({
      enum: ['allow', 'block', 'requires_approval'],
    });
  });
});
