import { EFFECTS } from '@arden/policy';
import * as z from 'zod';

// The request and response bodies of the admin API. Requests are parsed with these schemas;
// responses are built by `serialize.ts` to match them; `/api/openapi.json` is generated from
// both. Field names are snake_case, like the agent API's.

const timestamp = z.string().meta({ format: 'date-time', description: 'ISO 8601 time (UTC).' });
const nullableTimestamp = timestamp.nullable();

/** An effect: what a policy (or an agent's default) decides. */
export const effect = z.enum(EFFECTS);
/** `test` or `live`. */
export const environment = z.enum(['test', 'live']);
/** A user's role. */
export const role = z.enum(['admin', 'approver', 'viewer']);
const actionStatus = z.enum(['pending', 'approved', 'denied', 'completed', 'expired']);

/** The error body of every failed request. */
export const errorBody = z
  .object({
    error: z.string().meta({ description: 'What went wrong and what to do about it.' }),
    field: z.string().optional().meta({ description: 'The request field at fault, when known.' }),
    issues: z
      .array(
        z.object({
          policy: z.string().optional(),
          path: z.array(z.union([z.string(), z.number()])),
          message: z.string(),
          line: z.number().int().optional(),
          column: z.number().int().optional(),
        }),
      )
      .optional()
      .meta({ description: 'Policy problems, with line and column inside a CEL condition.' }),
  })
  .meta({ id: 'Error' });

/** `{ ok: true }`. */
export const okBody = z.object({ ok: z.literal(true) }).meta({ id: 'Ok' });

function page<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      next_cursor: z
        .string()
        .nullable()
        .meta({ description: 'Pass as `cursor` for the next page; null on the last page.' }),
    })
    .meta({ id });
}

// -------------------------------------------------------------------------------------------
// Query parameters

const limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(500)
  .optional()
  .meta({ description: 'Items per page (1–500, default 50).' });
const cursor = z.string().max(200).optional().meta({ description: 'From `next_cursor`.' });
const time = z
  .string()
  .max(40)
  .optional()
  .meta({ description: 'ISO 8601 time or milliseconds since the epoch.' });
const agentParameter = z.string().max(200).optional().meta({ description: 'Agent id or name.' });

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
    description: 'pending, approved, denied, completed or expired; several separated by commas.',
  }),
  session: z.string().max(200).optional().meta({ description: 'Session id.' }),
  from: time,
  to: time.meta({ description: 'Exclusive end: ISO 8601 time or milliseconds since the epoch.' }),
  cursor,
  limit,
});

/** Query of `GET /api/v1/approvals`. */
export const approvalQuery = z.object({
  agent: agentParameter,
  environment: environment.optional(),
  cursor,
  limit,
});

/** Query of `GET /api/v1/sessions`. */
export const sessionQuery = z.object({
  agent: agentParameter,
  environment: environment.optional(),
  from: time,
  to: time,
  cursor,
  limit,
});

/** Query of `GET /api/v1/sessions/{session_id}`. */
export const sessionDetailQuery = z.object({
  agent: agentParameter,
  environment: environment.optional(),
});

/** Query of `GET /api/v1/usage`. */
export const usageQuery = z.object({
  group_by: z.enum(['model', 'day', 'session', 'agent']).default('model'),
  agent: agentParameter,
  environment: environment.optional(),
  session: z.string().max(200).optional(),
  model: z.string().max(200).optional(),
  from: time,
  to: time,
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** Query of delivery listings. */
export const deliveryQuery = z.object({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  action_id: z.string().max(100).optional(),
  cursor,
  limit,
});

/** Query of key listings. */
export const keyQuery = z.object({
  environment: environment.optional(),
  include_revoked: z.enum(['true', 'false']).optional(),
});

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

/** Query of token listings. */
export const tokenQuery = z.object({
  all: z
    .enum(['true', 'false'])
    .optional()
    .meta({ description: "Admins only: every user's tokens, not only your own." }),
});

/** Query of the live event stream. */
export const eventQuery = z.object({
  types: z
    .string()
    .max(300)
    .optional()
    .meta({ description: 'Event types to receive, separated by commas (default all).' }),
  agent: z.string().max(100).optional().meta({ description: 'Only events of this agent id.' }),
});

// -------------------------------------------------------------------------------------------
// Auth, users, tokens

/** Body of `POST /api/v1/auth/login`. */
export const loginBody = z.object({
  email: z.string().max(254),
  password: z.string().max(1024),
});

/** A user, as the admin API shows it (never the password hash). */
export const user = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    role,
    disabled: z.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
    last_login_at: nullableTimestamp,
  })
  .meta({ id: 'User' });

/** Answer of a login. */
export const loginResponse = z
  .object({ user, expires_at: timestamp })
  .meta({ id: 'LoginResponse' });

/** Answer of `GET /api/v1/me`. */
export const meResponse = z
  .object({
    user,
    authenticated_by: z.enum(['session', 'token']),
    permissions: z.object({
      decide: z.boolean().meta({ description: 'May approve and deny held actions.' }),
      administer: z.boolean().meta({ description: 'May change agents, policies and users.' }),
    }),
  })
  .meta({ id: 'Me' });

/** Body of `POST /api/v1/me/password`. */
export const passwordChangeBody = z.object({
  current_password: z.string().max(1024),
  new_password: z.string().max(1024),
});

/** Body of `POST /api/v1/users`. */
export const userCreateBody = z.object({
  email: z.string().max(254),
  role,
  name: z.string().max(200).nullable().optional(),
  password: z
    .string()
    .max(1024)
    .nullable()
    .optional()
    .meta({ description: 'Leave out to generate a one-time password (returned once).' }),
});

/** Answer of a user creation or password reset. */
export const userCreatedResponse = z
  .object({
    user,
    password: z
      .string()
      .optional()
      .meta({ description: 'The generated password, shown this once; give it to the user.' }),
  })
  .meta({ id: 'UserCreated' });

/** Body of `PATCH /api/v1/users/{user_id}`. */
export const userUpdateBody = z.object({
  role: role.optional(),
  name: z.string().max(200).nullable().optional(),
  disabled: z.boolean().optional(),
});

/** An admin token (never the token itself after creation). */
export const adminToken = z
  .object({
    id: z.string(),
    user_id: z.string(),
    user_email: z.string().nullable(),
    name: z.string(),
    prefix: z.string().meta({ description: 'The first characters, to recognise it.' }),
    created_at: timestamp,
    expires_at: nullableTimestamp,
    revoked_at: nullableTimestamp,
    last_used_at: nullableTimestamp,
  })
  .meta({ id: 'AdminToken' });

/** Body of `POST /api/v1/tokens`. */
export const tokenCreateBody = z.object({
  name: z.string().max(100),
  expires_in_days: z.number().int().min(1).max(3650).nullable().optional(),
});

/** Answer of a token creation: the token, shown once. */
export const tokenCreatedResponse = z
  .object({
    token: z.string().meta({ description: 'arden_admin_…, shown this once.' }),
    admin_token: adminToken,
  })
  .meta({ id: 'AdminTokenCreated' });

// -------------------------------------------------------------------------------------------
// Agents and keys

/** An agent API key (its prefix only). */
export const apiKey = z
  .object({
    id: z.string(),
    agent_id: z.string(),
    environment,
    name: z.string().nullable(),
    prefix: z.string(),
    created_at: timestamp,
    revoked_at: nullableTimestamp,
    last_used_at: nullableTimestamp,
  })
  .meta({ id: 'ApiKey' });

/** A new agent API key: `key` is shown this once. */
export const createdApiKey = z
  .object({
    key: z.string().meta({ description: 'arden_test_… or arden_live_…, shown this once.' }),
    api_key: apiKey,
    revoked_key_id: z.string().optional().meta({ description: 'After a rotation: the old key.' }),
  })
  .meta({ id: 'ApiKeyCreated' });

/** An agent (the signing key only by its prefix). */
export const agent = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    default_action: effect,
    webhook_url: z.string().nullable(),
    signing_key_prefix: z
      .string()
      .meta({ description: 'The first characters of the webhook signing key.' }),
    webhook_status: z.enum(['none', 'active', 'failing', 'disabled']).meta({
      description:
        '`none`: no webhook URL; `active`: the last delivery succeeded; `failing`: every delivery since `webhook_failing_since` failed; `disabled`: nothing is sent (a 410 Gone, or failing for 5 days) until an admin enables the endpoint or saves its URL again.',
    }),
    webhook_failing_since: nullableTimestamp,
    webhook_disabled_at: nullableTimestamp,
    webhook_disabled_reason: z.string().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Agent' });

/** An agent with its keys. */
export const agentDetail = agent.extend({ keys: z.array(apiKey) }).meta({ id: 'AgentDetail' });

/** Body of `POST /api/v1/agents`. */
export const agentCreateBody = z.object({
  name: z.string().max(100),
  description: z.string().max(2000).nullable().optional(),
  default_action: effect.optional(),
  webhook_url: z.string().max(2000).nullable().optional(),
  create_keys: z
    .array(environment)
    .max(2)
    .optional()
    .meta({ description: 'Also create a key for each of these environments.' }),
});

/** Answer of an agent creation: the signing key and new keys, shown this once. */
export const agentCreatedResponse = z
  .object({
    agent,
    signing_key: z
      .string()
      .meta({ description: 'The webhook signing key (whsec_…), shown this once.' }),
    keys: z.array(createdApiKey),
  })
  .meta({ id: 'AgentCreated' });

/** Body of `PATCH /api/v1/agents/{agent_id}`. */
export const agentUpdateBody = z.object({
  name: z.string().max(100).optional(),
  description: z.string().max(2000).nullable().optional(),
  default_action: effect.optional(),
  webhook_url: z.string().max(2000).nullable().optional(),
});

/** Answer of a signing key rotation: the new key, shown this once. */
export const signingKeyResponse = z
  .object({ agent, signing_key: z.string().meta({ description: 'Shown this once.' }) })
  .meta({ id: 'SigningKeyRotated' });

/** Body of `POST /api/v1/agents/{agent_id}/keys`. */
export const keyCreateBody = z.object({
  environment,
  name: z.string().max(100).nullable().optional(),
});

// -------------------------------------------------------------------------------------------
// Policies

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

const decisionView = z.object({
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

// -------------------------------------------------------------------------------------------
// Actions, approvals, sessions, usage, deliveries

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
    created_at: timestamp,
  })
  .meta({ id: 'Action' });

/** One attempt to deliver a webhook. */
export const deliveryAttempt = z
  .object({
    id: z.string(),
    attempt: z.number().int(),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number(),
    at: timestamp,
  })
  .meta({ id: 'DeliveryAttempt' });

/** A webhook delivery. */
export const delivery = z
  .object({
    id: z.string(),
    event_id: z.string(),
    agent_id: z.string(),
    action_id: z.string().nullable(),
    event_type: z.string(),
    url: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    next_attempt_at: timestamp,
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: timestamp,
    delivered_at: nullableTimestamp,
  })
  .meta({ id: 'Delivery' });

/** A delivery with its body and attempts. */
export const deliveryDetail = delivery
  .extend({ payload: z.unknown(), attempt_log: z.array(deliveryAttempt) })
  .meta({ id: 'DeliveryDetail' });

/** An action with what happened to it. */
export const actionDetail = action
  .extend({
    agent_name: z.string().nullable(),
    decided_by_email: z.string().nullable(),
    deliveries: z.array(deliveryDetail),
  })
  .meta({ id: 'ActionDetail' });

/** A held action waiting for a decision. */
export const approval = action
  .extend({ waiting_ms: z.number().meta({ description: 'How long it has waited.' }) })
  .meta({ id: 'Approval' });

/** Body of approve and deny. */
export const decisionBody = z.object({
  notes: z.string().max(4000).nullable().optional(),
});

/** A session summary. */
export const session = z
  .object({
    session_id: z.string(),
    agent_id: z.string(),
    environment,
    actions: z.number().int(),
    pending: z.number().int(),
    blocked: z.number().int(),
    first_at: timestamp,
    last_at: timestamp,
    total_tokens: z.number().int(),
    cost_usd: z.number(),
  })
  .meta({ id: 'Session' });

/** A token usage event. */
export const usageEvent = z
  .object({
    id: z.string(),
    agent_id: z.string(),
    environment,
    session_id: z.string().nullable(),
    model: z.string(),
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
    cost_usd: z.number(),
    priced: z.boolean(),
    created_at: timestamp,
  })
  .meta({ id: 'UsageEvent' });

/** One session's calls and token usage on a timeline, with the running cost. */
export const sessionDetail = z
  .object({
    session_id: z.string(),
    sessions: z.array(session).meta({
      description: 'The session per agent and environment (ids may repeat across agents).',
    }),
    timeline: z.array(
      z.object({
        kind: z.enum(['action', 'usage']),
        at: timestamp,
        action: action.optional(),
        usage: usageEvent.optional(),
        running_cost_usd: z.number(),
        running_tokens: z.number().int(),
      }),
    ),
    total_cost_usd: z.number(),
    total_tokens: z.number().int(),
    truncated: z
      .boolean()
      .meta({ description: 'True when only the first 2 000 entries are shown.' }),
  })
  .meta({ id: 'SessionDetail' });

const aggregate = z.object({
  events: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  cost_usd: z.number(),
  unpriced_events: z.number().int(),
});

/** Token usage and cost summed by a grouping. */
export const usageResponse = z
  .object({
    group_by: z.enum(['model', 'day', 'session', 'agent']),
    from: nullableTimestamp,
    to: nullableTimestamp,
    totals: aggregate,
    items: z.array(
      aggregate.extend({
        key: z.string().nullable(),
        label: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'Usage' });

// Pages.
export const agentPage = page(agent, 'AgentPage');
export const apiKeyList = z.object({ items: z.array(apiKey) }).meta({ id: 'ApiKeyList' });
export const versionPage = page(policyVersion, 'PolicyVersionPage');
export const actionPage = page(action, 'ActionPage');
export const approvalPage = page(approval, 'ApprovalPage');
export const sessionPage = page(session, 'SessionPage');
export const deliveryPage = page(delivery, 'DeliveryPage');
export const userList = z.object({ items: z.array(user) }).meta({ id: 'UserList' });
export const tokenList = z.object({ items: z.array(adminToken) }).meta({ id: 'AdminTokenList' });

/** An event of the live stream (the `data:` of each SSE message). */
export const liveEvent = z
  .object({
    type: z.enum([
      'action.created',
      'action.decided',
      'action.reported',
      'usage.recorded',
      'webhook.attempted',
    ]),
    at: timestamp,
    action: action.optional(),
    action_id: z.string().optional(),
    agent_id: z.string().optional(),
    status: z.string().optional(),
    usage: z.array(usageEvent).optional(),
    delivery: delivery.optional(),
    attempt: deliveryAttempt.optional(),
  })
  .meta({ id: 'LiveEvent' });
