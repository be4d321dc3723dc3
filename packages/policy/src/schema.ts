import * as z from 'zod';
import { parseArgType } from './arg-types';
import { EFFECTS } from './effects';
import { type FlipKind, parseFlipKind } from './flips';
import { POLICY_LIMITS } from './limits';
import { ambiguousPatterns, toolPatternProblem } from './tool-patterns';

/** `allow`, `block` or `requires_approval`. */
export const effectSchema = z
  .enum(EFFECTS)
  .meta({ description: 'What a policy decides for a tool call.' });

/** Accepts the legacy spelling `require_approval` of policy files, as `requires_approval`. */
const fileEffectSchema = z.preprocess(
  (value) => (value === 'require_approval' ? 'requires_approval' : value),
  effectSchema,
);

/** `deny` or `allow`: what happens to a call held for approval when nobody answers in time. */
export const onTimeoutSchema = z
  .enum(['deny', 'allow'])
  .meta({ description: 'What happens when an approval times out (default deny).' });

const ON_ERROR_ALLOW =
  'cannot be allow: a condition that cannot be evaluated never lets a call through; use block (the default) or requires_approval';

/** Refuses `on_error: allow` with a message that says why. */
function refuseOnErrorAllow(value: unknown, context: z.RefinementCtx, path: (string | number)[]) {
  if (value === 'allow') context.addIssue({ code: 'custom', path, message: ON_ERROR_ALLOW });
}

/** The declared argument types of a policy: names to type strings (`list<string>`, `int?`). */
const argTypesSchema = z
  .record(z.string().min(1).max(200), z.string().max(200))
  .superRefine((types, context) => {
    const names = Object.keys(types);
    if (names.length > POLICY_LIMITS.maxDeclaredArgs) {
      context.addIssue({
        code: 'custom',
        path: [],
        message: `declare at most ${POLICY_LIMITS.maxDeclaredArgs} arguments`,
      });
    }
    for (const name of names) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        context.addIssue({
          code: 'custom',
          path: [name],
          message: 'an argument name is an identifier (letters, digits, _), as in args.name',
        });
        continue;
      }
      const parsed = parseArgType(types[name] as string);
      if (typeof parsed === 'string')
        context.addIssue({ code: 'custom', path: [name], message: parsed });
    }
  })
  .meta({ description: 'Argument types by name: string, number, int, list<string>, int?, …' });

const timeoutSchema = z
  .number()
  .int()
  .positive()
  .max(POLICY_LIMITS.maxTimeoutSeconds)
  .meta({ description: 'Seconds to wait for an approver.' });

const approvalsSchema = z.number().int().min(1).max(10).meta({
  description: 'How many distinct users must approve (default 1); the first denial denies.',
});

const fromSchema = z
  .array(
    z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'a group name is letters, digits, ".", "_" or "-"'),
  )
  .min(1)
  .max(20)
  .meta({ description: 'Only members of these groups may approve (any one of them).' });

const excludeRequesterSchema = z.boolean().meta({
  description:
    "The user who started the session (the check's metadata.requested_by) may not approve (default false).",
});

const excludeOwnerSchema = z.boolean().meta({
  description:
    "The agent's owner (the user set as its owner in Arden) may not approve (default false).",
});

const approveInSchema = z
  .array(z.enum(['dashboard', 'app']))
  .min(1)
  .max(2)
  .meta({
    description:
      "Where a decision may be made: dashboard (Arden approvers, the default) and/or app (the app reports its end user's in-app decision).",
  });

/** The keys of a requires_approval effect that say who approves, and how many. */
const APPROVAL_KEYS = [
  'timeout',
  'on_timeout',
  'approvals',
  'from',
  'exclude_requester',
  'exclude_owner',
  'approve_in',
] as const;

/** A notification target: `slack:#payments`, `email:finance@example.com`, `webhook:pager`. */
const notifyTargetSchema = z
  .string()
  .max(300)
  .regex(
    /^(slack|email|webhook)(@[A-Za-z0-9_.-]{1,100})?:\S+$/,
    'a target is kind[@channel]:destination, such as slack:#payments-approvals, email:finance@example.com or webhook:pager',
  );

const notifySchema = z
  .array(notifyTargetSchema)
  .max(20)
  .meta({ description: 'Who is asked to approve: slack:#channel, email:address, webhook:name.' });

const minutesLikeSeconds = z.number().int().positive().max(POLICY_LIMITS.maxTimeoutSeconds);

// Who is asked, and the reminders and escalation of a held call (server notification channels).
const approvalRouting = {
  notify: notifySchema.optional(),
  remind_after: minutesLikeSeconds
    .optional()
    .meta({ description: 'Seconds without a decision before the same targets are reminded.' }),
  escalate_after: minutesLikeSeconds
    .optional()
    .meta({ description: 'Seconds without a decision before `escalate_to` is notified.' }),
  escalate_to: notifySchema.optional(),
};
const approvalRoutingKeys = ['notify', 'remind_after', 'escalate_after', 'escalate_to'] as const;

const conditionSchema = z
  .string()
  .max(
    POLICY_LIMITS.maxExpressionLength,
    `condition is longer than ${POLICY_LIMITS.maxExpressionLength} characters`,
  )
  .refine(
    (value) => value.trim().length > 0,
    'must not be empty; leave `if` out for a rule that always applies',
  )
  .meta({ description: 'CEL condition over args, tool, session, agent, environment and now.' });

const costSchema = z
  .string()
  .max(
    POLICY_LIMITS.maxExpressionLength,
    `cost is longer than ${POLICY_LIMITS.maxExpressionLength} characters`,
  )
  .refine(
    (value) => value.trim().length > 0,
    'must not be empty; leave `cost` out for a call that costs nothing',
  )
  .meta({
    description:
      "CEL expression giving the call's money cost in dollars (such as args.amount), counted into spend and budgets when the call is allowed or approved.",
  });

/** True when `tool` is an exact tool name or a pattern with `*` (see tool-patterns.ts). */
export function isToolPattern(tool: string): boolean {
  return toolPatternProblem(tool) === undefined;
}

const toolSchema = z
  .string()
  .min(1)
  .max(POLICY_LIMITS.maxToolLength)
  .superRefine((tool, context) => {
    const problem = toolPatternProblem(tool);
    if (problem === undefined) return;
    context.addIssue({
      code: 'custom',
      message: `${problem}; a tool is a tool name ("stripe.issue_refund") or a pattern where "*" matches any characters but "." ("mcp.*.delete_file", "mcp.github.delete_*") and a final "*" anything ("communication.*", "*")`,
    });
  })
  .meta({
    description:
      'Exact tool name, or a pattern: "*" matches any characters but "." (a final "*" matches anything); "*" alone matches every tool.',
  });

function createRuleSchema(effect: typeof effectSchema | typeof fileEffectSchema) {
  return z
    .strictObject({
      if: conditionSchema.optional(),
      then: effect,
      timeout: timeoutSchema.optional(),
      on_timeout: onTimeoutSchema.optional(),
      approvals: approvalsSchema.optional(),
      from: fromSchema.optional(),
      exclude_requester: excludeRequesterSchema.optional(),
      exclude_owner: excludeOwnerSchema.optional(),
      approve_in: approveInSchema.optional(),
      ...approvalRouting,
      on_error: effect.optional().meta({
        description:
          'When a condition cannot be evaluated: block (default) or requires_approval; allow is refused.',
      }),
      description: z.string().max(2000).optional(),
    })
    .superRefine((rule, context) => {
      refuseOnErrorAllow(rule.on_error, context, ['on_error']);
      if (rule.on_error !== undefined && rule.if === undefined) {
        context.addIssue({
          code: 'custom',
          path: ['on_error'],
          message: 'only applies to a rule with a condition (`if`)',
        });
      }
      if (rule.then === 'requires_approval') return;
      for (const key of [...APPROVAL_KEYS, ...approvalRoutingKeys] as const) {
        if (rule[key] === undefined) continue;
        context.addIssue({
          code: 'custom',
          path: [key],
          message: `only applies to "then: requires_approval", not "then: ${rule.then}"`,
        });
      }
    });
}

function createPolicySchema(effect: typeof effectSchema | typeof fileEffectSchema) {
  return z
    .strictObject({
      id: z.string().min(1).max(200).optional(),
      name: z
        .string()
        .max(200)
        .refine((value) => value.trim().length > 0, 'must not be empty'),
      tool: toolSchema,
      description: z.string().max(2000).optional(),
      rules: z.array(createRuleSchema(effect)).max(POLICY_LIMITS.maxRules).optional(),
      default: effect.optional(),
      action: effect.optional(),
      timeout: timeoutSchema.optional(),
      on_timeout: onTimeoutSchema.optional(),
      approvals: approvalsSchema.optional(),
      from: fromSchema.optional(),
      exclude_requester: excludeRequesterSchema.optional(),
      exclude_owner: excludeOwnerSchema.optional(),
      approve_in: approveInSchema.optional(),
      ...approvalRouting,
      on_error: effect.optional().meta({
        description:
          'When a condition cannot be evaluated: block (default) or requires_approval; allow is refused.',
      }),
      args: argTypesSchema.optional(),
      refuse_repeats: z.boolean().optional().meta({
        description:
          'Refuse at once a repeat of a refused call (same tool, arguments and session); on unless false.',
      }),
      repeat_window: z
        .number()
        .int()
        .positive()
        .max(366 * 24 * 3600)
        .optional()
        .meta({
          description:
            'Seconds a refusal is remembered for refuse_repeats; the whole session when absent.',
        }),
      cost: costSchema.optional(),
      budget: z
        .strictObject({
          per: z.enum(['session', 'agent']),
          usd: z.number().min(0).max(1_000_000),
          window: z
            .number()
            .int()
            .positive()
            .max(366 * 24 * 3600)
            .optional(),
          on_exceed: z.enum(['block', 'requires_approval']).optional(),
        })
        .optional()
        .meta({
          description:
            "A budget of this policy's tools in dollars of their cost: per session, or per agent over window seconds (a day); on_exceed block (default) or requires_approval.",
        }),
      redact: z
        .array(
          z
            .string()
            .regex(
              /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/,
              'must be an argument path such as "password" or "card.number" (names joined by dots)',
            ),
        )
        .min(1)
        .max(50)
        .optional()
        .meta({
          description:
            'Sensitive argument paths ("card.number", "password"): stored encrypted, shown masked, never in webhooks or channel messages.',
        }),
      version: z.number().int().positive().optional(),
      enabled: z.boolean().optional(),
    })
    .superRefine((policy, context) => {
      refuseOnErrorAllow(policy.on_error, context, ['on_error']);
      if (policy.budget !== undefined && policy.cost === undefined) {
        context.addIssue({
          code: 'custom',
          path: ['budget'],
          message: "a budget counts the tools' cost: set `cost` too (such as cost: args.amount)",
        });
      }
      if (policy.budget?.window !== undefined && policy.budget.per !== 'agent') {
        context.addIssue({
          code: 'custom',
          path: ['budget', 'window'],
          message: 'only applies to per: agent (a session budget counts the whole session)',
        });
      }
      const hasRules = policy.rules !== undefined && policy.rules.length > 0;
      if (policy.action !== undefined && hasRules) {
        context.addIssue({
          code: 'custom',
          path: ['action'],
          message:
            '`action` is the shorthand for a policy without rules; with `rules`, use `default`',
        });
      }
      if (policy.action !== undefined && policy.default !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['action'],
          message: '`action` and `default` say the same thing; keep one',
        });
      }
      if (policy.action === undefined && policy.default === undefined && !hasRules) {
        context.addIssue({
          code: 'custom',
          path: [],
          message: 'a policy needs `action`, or `rules` (with an optional `default`)',
        });
      }
      const approvalPossible =
        (policy.action ?? policy.default) === 'requires_approval' ||
        policy.on_error === 'requires_approval' ||
        policy.budget?.on_exceed === 'requires_approval' ||
        (policy.rules ?? []).some(
          (rule) => rule.then === 'requires_approval' || rule.on_error === 'requires_approval',
        );
      if (approvalPossible) return;
      for (const key of [...APPROVAL_KEYS, ...approvalRoutingKeys] as const) {
        if (policy[key] === undefined) continue;
        context.addIssue({
          code: 'custom',
          path: [key],
          message:
            'only applies to requires_approval, and no effect of this policy is requires_approval',
        });
      }
    });
}

/**
 * A rule of a policy: `{ if?, then, timeout?, on_timeout?, approvals?, from?, exclude_requester?, exclude_owner?,
 * approve_in?, on_error?, description? }`.
 */
export const ruleSchema = createRuleSchema(effectSchema);

/**
 * The structure of a policy. It checks shapes, effects, the tool pattern and which keys go
 * together, but not the CEL conditions: `validatePolicies` and `compilePolicies` check those.
 */
export const policySchema = createPolicySchema(effectSchema);

interface PolicyIdentity {
  name: string;
  tool: string;
  enabled?: boolean | undefined;
}

/**
 * Duplicate names, two enabled policies for one tool pattern, and two enabled patterns that
 * precedence cannot order but that can match the same tool, in a list of policies.
 */
export function findDuplicates(
  policies: readonly PolicyIdentity[],
): { index: number; key: 'name' | 'tool'; message: string }[] {
  const found: { index: number; key: 'name' | 'tool'; message: string }[] = [];
  const names = new Map<string, number>();
  const tools = new Map<string, number>();
  policies.forEach((policy, index) => {
    const sameName = names.get(policy.name);
    if (sameName === undefined) names.set(policy.name, index);
    else {
      found.push({
        index,
        key: 'name',
        message: `another policy (#${sameName}) is already named "${policy.name}"; names must be unique`,
      });
    }
    if (policy.enabled === false) return;
    const sameTool = tools.get(policy.tool);
    if (sameTool === undefined) tools.set(policy.tool, index);
    else {
      found.push({
        index,
        key: 'tool',
        message: `policy #${sameTool} already targets "${policy.tool}"; put both rule lists in one policy`,
      });
    }
  });
  const patterns = policies.flatMap((policy, index) =>
    policy.enabled === false ? [] : [{ tool: policy.tool, index }],
  );
  for (const { index, message } of ambiguousPatterns(patterns)) {
    found.push({ index, key: 'tool', message });
  }
  return found;
}

function createPolicyListSchema(policy: ReturnType<typeof createPolicySchema>) {
  return z
    .array(policy)
    .max(POLICY_LIMITS.maxPolicies)
    .superRefine((policies, context) => {
      for (const duplicate of findDuplicates(policies)) {
        context.addIssue({
          code: 'custom',
          path: [duplicate.index, duplicate.key],
          message: duplicate.message,
        });
      }
    });
}

/**
 * The policies of one agent and environment, and the action for tools no policy matches
 * (`default_action`, `allow` when absent).
 */
export const policySetSchema = z.strictObject({
  default_action: effectSchema
    .optional()
    .meta({ description: 'Effect for a tool that no policy matches (default allow).' }),
  policies: createPolicyListSchema(policySchema),
});

const filePolicySchema = createPolicySchema(fileEffectSchema);

const testCaseSchema = z.strictObject({
  name: z.string().optional(),
  tool: z.string().min(1).max(POLICY_LIMITS.maxToolLength),
  args: z.record(z.string(), z.unknown()).optional(),
  session: z.string().nullable().optional(),
  agent: z.strictObject({ id: z.string(), name: z.string() }).optional(),
  environment: z.enum(['test', 'live']).optional(),
  now: z.iso.datetime({ offset: true }).optional(),
  mcp: z
    .strictObject({
      server: z.string().optional(),
      tool: z.string().optional(),
      annotations: z
        .strictObject({
          title: z.string().optional(),
          readOnlyHint: z.boolean().optional(),
          destructiveHint: z.boolean().optional(),
          idempotentHint: z.boolean().optional(),
          openWorldHint: z.boolean().optional(),
        })
        .optional(),
    })
    .optional(),
  expect: fileEffectSchema,
});

/** A flip a policy file forbids its simulation to show: `allow->block`, `allow->held`… */
const flipKindSchema = z.string().transform((value, context): FlipKind => {
  const kind = parseFlipKind(value);
  if (kind) return kind;
  context.addIssue({
    code: 'custom',
    message: `"${value.slice(0, 40)}" is not a flip: write BEFORE->AFTER with allow, held (requires_approval) or block, such as allow->block`,
  });
  return z.NEVER;
});

/** The shape of a policy file (`policies.yaml`), with the legacy `require_approval` accepted. */
export const policyFileSchema = z.strictObject({
  settings: z.strictObject({ default_action: fileEffectSchema.optional() }).optional(),
  policies: createPolicyListSchema(filePolicySchema),
  tests: z.array(testCaseSchema).optional(),
  // Read by `arden policies simulate` only; never part of the saved policy set.
  simulation: z.strictObject({ forbid: z.array(flipKindSchema).optional() }).optional(),
});
