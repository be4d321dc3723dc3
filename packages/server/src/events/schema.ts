import * as z from 'zod';
import { action } from '../actions/schema';
import { timestamp } from '../admin/schemas';
import { httpUpstream, upstream } from '../mcp/schema';
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
        'mcp.tools_reported',
        'mcp.trust_changed',
        'mcp.upstream_deleted',
        'mcp.http_upstream_added',
        'mcp.http_upstream_changed',
        'mcp.http_upstream_removed',
      ])
      .meta({
        description:
          '`action.voted`: an approval was counted and the action still needs more ("1 of 2"); `action` carries its votes. `mcp.tools_reported` (a gateway reported an upstream\'s tool list), `mcp.trust_changed` and `mcp.upstream_deleted` carry `mcp_upstream` (without its tools: read them with GET /api/v1/mcp/upstreams/{id}); `mcp.http_upstream_added`, `mcp.http_upstream_changed` (its `show_blocked_tools` setting) and `mcp.http_upstream_removed` carry `mcp_http_upstream` (its origin and header names, never its URL, a header value or a token) and no `agent_id`.',
      }),
    at: timestamp,
    action: action.optional(),
    action_id: z.string().optional(),
    agent_id: z.string().optional(),
    status: z.string().optional(),
    usage: z.array(usageEvent).optional(),
    delivery: delivery.optional(),
    attempt: deliveryAttempt.optional(),
    mcp_upstream: upstream.optional(),
    mcp_http_upstream: httpUpstream.optional(),
  })
  .meta({ id: 'LiveEvent' });
