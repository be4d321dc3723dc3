import * as z from 'zod';
import {
  effect,
  environment,
  errorBody,
  limit,
  nullableTimestamp,
  page,
  timestamp,
} from '../admin/schemas';

// Policy sets, their versions, and what a draft would decide (validate, simulate, diff). Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

/** Query of version listings. */
export const versionQuery = z.object({
  limit,
  before: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .meta({ description: 'Versions before this one.' }),
});

/**
 * A policy as written (see `@arden/policy`'s `policySchema`). Requests are checked only as
 * objects here; the policy engine then validates them fully and answers with line and column.
 */
export const policyDefinition = z
  .record(z.string(), z.unknown())
  .meta({ id: 'Policy', description: 'A policy (see docs/policies.md).' });

/** The current policy set of an agent and environment. */
export const policySet = z
  .object({
    agent_id: z.string(),
    environment,
    version: z.number().int().meta({ description: '0 when no set was ever saved.' }),
    policies: z.array(policyDefinition),
    updated_at: nullableTimestamp,
    updated_by: z.string().nullable(),
  })
  .meta({ id: 'PolicySet' });

/** A saved version of a policy set. */
export const policyVersion = z
  .object({
    agent_id: z.string(),
    environment,
    version: z.number().int(),
    policies: z.array(policyDefinition),
    diff: z.object({
      added: z.array(z.string()),
      removed: z.array(z.string()),
      changed: z.array(z.string()),
    }),
    message: z.string().nullable(),
    created_by: z.string().nullable(),
    created_by_email: z.string().nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'PolicyVersion' });

/** Body of `PUT /api/v1/agents/{agent_id}/policies/{environment}`. */
export const policyPutBody = z.object({
  policies: z.array(policyDefinition).max(1000),
  message: z.string().max(2000).nullable().optional(),
});

/** Body of validate and diff. */
export const policyDraftBody = z.object({ policies: z.array(policyDefinition).max(1000) });

/** Body of `POST .../simulate`. */
export const policySimulateBody = z.object({
  policies: z.array(policyDefinition).max(1000),
  limit: z
    .number()
    .int()
    .min(1)
    .max(5000)
    .optional()
    .meta({ description: 'How many of the latest logged actions to replay (default 100).' }),
  default_action: effect
    .optional()
    .meta({ description: "The agent's default action to assume (default: the current one)." }),
});

/** Body of `POST .../rollback`. */
export const policyRollbackBody = z.object({
  version: z.number().int().min(1),
  message: z.string().max(2000).nullable().optional(),
});

/** Answer of validate. */
export const validationResponse = z
  .object({ valid: z.boolean(), issues: errorBody.shape.issues.unwrap() })
  .meta({ id: 'PolicyValidation' });

export const decisionView = z.object({
  decision: effect,
  reason: z.string().nullable(),
  policy: z.string().nullable().meta({ description: 'The deciding policy by name.' }),
  rule_index: z.number().int().nullable(),
  explanation: z.string().nullable(),
});

/** Answer of simulate: what the draft would have decided on recent actions. */
export const simulationResponse = z
  .object({
    agent_id: z.string(),
    environment,
    evaluated: z.number().int(),
    changed: z.number().int(),
    items: z.array(
      z.object({
        action_id: z.string(),
        tool_name: z.string(),
        session_id: z.string().nullable(),
        created_at: timestamp,
        old: decisionView.meta({ description: 'The decision logged at the time.' }),
        new: decisionView.meta({ description: 'What the draft decides.' }),
        changed: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'PolicySimulation' });

/** Answer of diff. */
export const policyDiffResponse = z
  .object({
    current_version: z.number().int(),
    has_changes: z.boolean(),
    added: z.array(z.string()),
    removed: z.array(z.string()),
    changed: z.array(
      z.object({
        name: z.string(),
        changes: z.array(
          z.object({
            path: z.array(z.union([z.string(), z.number()])),
            kind: z.enum(['added', 'removed', 'changed']),
            before: z.unknown().optional(),
            after: z.unknown().optional(),
          }),
        ),
      }),
    ),
    unchanged: z.array(z.string()),
    text: z.string().meta({ description: 'The diff as readable text.' }),
  })
  .meta({ id: 'PolicyDiff' });

export const versionPage = page(policyVersion, 'PolicyVersionPage');
