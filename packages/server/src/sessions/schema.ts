import * as z from 'zod';
import { action } from '../actions/schema';
import {
  agentParameter,
  cursor,
  environment,
  limit,
  page,
  time,
  timestamp,
} from '../admin/schemas';
import { usageEvent } from '../usage/schema';

// Sessions: the calls and usage of one `session_id`, summed and on a timeline. Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

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

export const sessionPage = page(session, 'SessionPage');
