import * as z from 'zod';
import { agentParameter, environment, nullableTimestamp, time, timestamp } from '../admin/schemas';

// Token usage events and their sums. Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

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

export const aggregate = z.object({
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
