import { agentIdFilter, parseTime, readsOf, v1 } from '../admin/route-helpers';
import { aggregateView, iso } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import * as schemas from './schema';

// The admin API of token usage and cost.

/** Token usage and cost, summed by a grouping. */
export const usageRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/usage`,
    access: 'viewer',
    tag: 'usage',
    summary: 'Token usage and cost, grouped by model, day, session or agent, with totals',
    query: schemas.usageQuery,
    response: schemas.usageResponse,
    async handler(call) {
      const query = call.query;
      const from = parseTime(query.from, 'from');
      const to = parseTime(query.to, 'to');
      const filter = {
        agentId: await agentIdFilter(call, query.agent),
        environment: query.environment,
        sessionId: query.session,
        model: query.model,
        from,
        to,
      };
      const usage = (await readsOf(call)).usage;
      const [items, totals] = await Promise.all([
        usage.aggregate(query.group_by, filter, { limit: query.limit }),
        usage.totals(filter),
      ]);
      return {
        group_by: query.group_by,
        from: iso(from),
        to: iso(to),
        totals: aggregateView(totals),
        items: items.map((item) => ({
          key: item.key,
          ...(item.label === undefined ? {} : { label: item.label }),
          ...aggregateView(item),
        })),
      };
    },
  }),
];
