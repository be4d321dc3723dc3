import * as z from 'zod';
import { effect, environment, nullableTimestamp, page, timestamp } from '../admin/schemas';

// Agents, their signing keys and API keys. Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

/** Query of key listings. */
export const keyQuery = z.object({
  environment: environment.optional(),
  include_revoked: z.enum(['true', 'false']).optional(),
});

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
    owner_user_id: z.string().nullable().meta({
      description:
        "The user who owns the agent. A policy's `exclude_owner` keeps them from approving its calls.",
    }),
    webhook_sensitive_in_full: z.boolean().meta({
      description:
        "Whether this agent's webhooks carry sensitive argument values (a policy's `redact`) in full. Off by default: webhooks show them as \"[redacted]\". Each delivery that carries them is logged like an admin's reveal (GET /api/v1/actions/{action_id}/sensitive/reads).",
    }),
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
  owner: z.string().max(254).nullable().optional().meta({
    description: 'The user who owns the agent: a user id or email; null removes the owner.',
  }),
  webhook_sensitive_in_full: z.boolean().optional().meta({
    description:
      'Let webhooks carry sensitive argument values in full (default false: masked). Each such delivery is logged.',
  }),
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
  owner: z.string().max(254).nullable().optional().meta({
    description: 'The user who owns the agent: a user id or email; null removes the owner.',
  }),
  webhook_sensitive_in_full: z.boolean().optional().meta({
    description:
      'Let webhooks carry sensitive argument values in full (default false: masked). Each such delivery is logged.',
  }),
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

// Pages.
export const agentPage = page(agent, 'AgentPage');

export const apiKeyList = z.object({ items: z.array(apiKey) }).meta({ id: 'ApiKeyList' });
