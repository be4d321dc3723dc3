import { v1 } from '../admin/route-helpers';
import { type AdminRoute, route } from '../admin/table';
import * as schemas from './schema';

// The admin API's live event stream.

/** The live event stream (Server-Sent Events). */
export const eventRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/events`,
    access: 'viewer',
    tag: 'events',
    summary: 'Live admin events (Server-Sent Events)',
    description:
      'A `text/event-stream` of `action.created`, `action.decided`, `action.voted`, `action.reported`, `usage.recorded`, `webhook.attempted` and `mcp.*` (MCP upstreams) events; each `data:` is a LiveEvent. Heartbeat comments keep it open; reconnect with `Last-Event-ID` to receive what you missed (an `event: reset` says to reload instead).',
    query: schemas.eventQuery,
    response: schemas.liveEvent,
    stream: true,
    async handler(call) {
      const types = call.query.types
        ?.split(',')
        .map((type) => type.trim())
        .filter((type) => type !== '');
      call.services.live.serve(call.context, { types, agentId: call.query.agent });
      // The stream answers for itself; there is no JSON body.
      return undefined as never;
    },
  }),
];
