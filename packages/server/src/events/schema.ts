import * as z from 'zod';
import { action } from '../actions/schema';
import { timestamp } from '../admin/schemas';
import { usageEvent } from '../usage/schema';
import { delivery, deliveryAttempt } from '../webhooks/schema';

// The live event stream (SSE). Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

/** Query of the live event stream. */
export const eventQuery = z.object({
  types: z
    .string()
    .max(300)
    .optional()
    .meta({ description: 'Event types to receive, separated by commas (default all).' }),
  agent: z.string().max(100).optional().meta({ description: 'Only events of this agent id.' }),
});

/** An event of the live stream (the `data:` of each SSE message). */
export const liveEvent = z
  .object({
    type: z
      .enum([
        'action.created',
        'action.decided',
        'action.voted',
        'action.reported',
        'usage.recorded',
        'webhook.attempted',
      ])
      .meta({
        description:
          '`action.voted`: an approval was counted and the action still needs more ("1 of 2"); `action` carries its votes.',
      }),
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
