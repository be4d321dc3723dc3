import * as z from 'zod';
import {
  actionStatus,
  agentParameter,
  cursor,
  effect,
  environment,
  limit,
  nullableTimestamp,
  page,
  time,
  timestamp,
} from '../admin/schemas';
import { deliveryDetail } from '../webhooks/schema';

// The admin API's action log: a logged tool call and its listing. Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

/** Query of `GET /api/v1/actions`. */
export const actionQuery = z.object({
  agent: agentParameter,
  environment: environment.optional(),
  tool: z
    .string()
    .max(200)
    .optional()
    .meta({ description: 'A tool name, or a prefix ending in * (`stripe.*`).' }),
  decision: effect.optional(),
  status: z.string().max(100).optional().meta({
    description:
      'pending, approved, denied, completed, expired or cancelled; several separated by commas.',
  }),
  session: z.string().max(200).optional().meta({ description: 'Session id.' }),
  from: time,
  to: time.meta({ description: 'Exclusive end: ISO 8601 time or milliseconds since the epoch.' }),
  cursor,
  limit,
});

/** Votes, edits and in-app decisions of a held action. */
const approvalState = z
  .object({
    required: z.number().meta({
      description: 'Approvals from distinct users needed for the current call ("1 of 2").',
    }),
    approved: z.number().meta({ description: 'Approvals so far for the current call.' }),
    from: z.array(z.string()).nullable().meta({ description: 'Only these groups may approve.' }),
    approve_in: z.array(z.enum(['dashboard', 'app'])),
    exclude_requester: z.boolean(),
    exclude_owner: z.boolean().meta({ description: "The agent's owner may not decide." }),
    decided_in: z.enum(['dashboard', 'app']).nullable().meta({
      description: 'app: approved or denied in the app by its end user (decided_by_user).',
    }),
    decided_by_user: z.string().nullable().meta({
      description: "Who cast the deciding vote: an approver's email, or the app's end user.",
    }),
    votes: z.array(
      z.object({
        decision: z.enum(['approve', 'deny']),
        channel: z.enum(['dashboard', 'app']),
        user_id: z.string().nullable(),
        user: z.string(),
        at: timestamp,
        notes: z.string().nullable(),
        round: z.number().meta({ description: 'Edits before this vote (0: the original call).' }),
      }),
    ),
    edits: z.array(
      z.object({
        user_id: z.string(),
        user: z.string(),
        at: timestamp,
        patch: z.array(z.record(z.string(), z.unknown())),
        before_json: z.string().meta({ description: 'The keyword arguments before the edit.' }),
        after_json: z.string().meta({ description: 'The keyword arguments after the edit.' }),
        effect: z.enum(['allow', 'requires_approval']).meta({
          description: 'The edited call, evaluated again as if the agent had made it.',
        }),
        explanation: z.string(),
      }),
    ),
  })
  .nullable()
  .meta({
    id: 'ApprovalState',
    description:
      'For held actions: who must approve, the votes so far, edits of the arguments and where it was decided; null for calls that were never held.',
  });

/** A logged tool call. */
export const action = z
  .object({
    id: z.string(),
    agent_id: z.string(),
    environment,
    tool_name: z.string(),
    args: z.array(z.unknown()).meta({
      description:
        'The positional arguments, written byte for byte as the agent sent them (numbers such as 12345678901234567891 or 1.0 unchanged: read them with a lossless JSON parser, or use args_json).',
    }),
    kwargs: z.record(z.string(), z.unknown()).meta({
      description:
        'The keyword arguments, written byte for byte as the agent sent them (key order, escapes and numbers unchanged).',
    }),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    args_json: z.string().meta({
      description:
        'The JSON text of args exactly as sent, as a string: what a client whose JSON parser rounds big numbers (a browser) shows.',
    }),
    kwargs_json: z.string().meta({
      description: 'The JSON text of kwargs exactly as sent, as a string.',
    }),
    metadata_json: z
      .string()
      .nullable()
      .meta({ description: 'The JSON text of metadata exactly as sent, as a string, or null.' }),
    session_id: z.string().nullable(),
    decision: effect,
    reason: z.string().nullable(),
    status: actionStatus,
    policy: z
      .object({
        id: z.string().nullable(),
        name: z.string(),
        tool: z.string(),
        version: z.number().nullable(),
        rule_index: z.number().nullable(),
      })
      .nullable(),
    explanation: z.string().nullable(),
    evaluation_errors: z
      .array(
        z.object({
          rule_index: z
            .number()
            .meta({ description: 'The rule, or -1 for the declared argument types.' }),
          message: z.string(),
          shape: z.string().nullable().meta({
            description: "The arguments' types (never values), such as {amount: string[4]}.",
          }),
        }),
      )
      .meta({
        description:
          "The error that made the policy's on_error decide (reasons condition_error, invalid_arguments); empty otherwise.",
      }),
    expires_at: nullableTimestamp,
    on_timeout: z.enum(['deny', 'allow']).nullable(),
    decided_by: z.string().nullable().meta({ description: 'The deciding user id.' }),
    decided_at: nullableTimestamp,
    notes: z.string().nullable(),
    outcome: z
      .object({
        status: z.enum(['succeeded', 'failed']),
        duration_ms: z.number().nullable(),
        error: z.string().nullable(),
        reported_at: nullableTimestamp,
      })
      .nullable(),
    repeat_of: z.string().nullable().optional().meta({
      description:
        'For a call refused as a repeat of a refused call (reason repeat_refused): the id of that refusal.',
    }),
    created_at: timestamp,
    approval: approvalState,
  })
  .meta({ id: 'Action' });

/** An action with what happened to it. */
export const actionDetail = action
  .extend({
    agent_name: z.string().nullable(),
    decided_by_email: z.string().nullable(),
    deliveries: z.array(deliveryDetail),
    sensitive_paths: z.array(z.string()).meta({
      description:
        'The sensitive paths (a policy\'s `redact`) present in the call, whose values read "[redacted]" in `kwargs_json`; empty when the call has none. An admin reads them in full with POST …/sensitive/reveal.',
    }),
  })
  .meta({ id: 'ActionDetail' });

export const actionPage = page(action, 'ActionPage');
