import {
  agentIdFilter,
  emailsOf,
  nextCursor,
  parseTime,
  readsOf,
  v1,
} from '../admin/route-helpers';
import { actionView, deliveryDetailView } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import { NotFoundError, ValidationError } from '../errors';
import type { ActionStatus } from '../store';
import * as schemas from './schema';

// The admin API of the action log.

const actionStatuses: readonly ActionStatus[] = [
  'pending',
  'approved',
  'denied',
  'completed',
  'expired',
  'cancelled',
];

/** The action log: listing and one action. */
export const actionRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/actions`,
    access: 'viewer',
    tag: 'actions',
    summary: 'The action log, newest first, with filters',
    query: schemas.actionQuery,
    response: schemas.actionPage,
    async handler(call) {
      const query = call.query;
      let status: ActionStatus[] | undefined;
      if (query.status) {
        status = query.status.split(',').map((item) => item.trim()) as ActionStatus[];
        const unknown = status.find((item) => !actionStatuses.includes(item));
        if (unknown !== undefined) {
          throw new ValidationError(
            `status "${unknown.slice(0, 20)}" is not one of ${actionStatuses.join(', ')}.`,
            'status',
          );
        }
      }
      const page = await (await readsOf(call)).actions.list(
        {
          agentId: await agentIdFilter(call, query.agent),
          environment: query.environment,
          tool: query.tool,
          decision: query.decision,
          status,
          sessionId: query.session,
          from: parseTime(query.from, 'from'),
          to: parseTime(query.to, 'to'),
        },
        { cursor: query.cursor, limit: query.limit },
      );
      return { items: page.items.map(actionView), next_cursor: nextCursor(page.nextCursor) };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/actions/:action_id`,
    access: 'viewer',
    tag: 'actions',
    summary: 'One action: its explanation, decision, outcome and webhook deliveries',
    params: { action_id: 'Action id.' },
    response: schemas.actionDetail,
    async handler(call) {
      const id = call.params.action_id as string;
      const store = call.services.server.store;
      const action = id.length <= 100 ? await store.actions.get(id) : undefined;
      if (!action) throw new NotFoundError(`No action ${id.slice(0, 100)}.`);
      const [agent, deliveries, emails, sensitive] = await Promise.all([
        store.agents.get(action.agentId),
        store.webhooks.list({ actionId: action.id }, { limit: 50 }),
        emailsOf(call, [action.decidedBy]),
        store.sensitive.get(action.id),
      ]);
      const detailed = await Promise.all(
        deliveries.items.map(async (delivery) =>
          deliveryDetailView(delivery, await store.webhooks.attempts(delivery.id)),
        ),
      );
      return {
        ...actionView(action),
        agent_name: agent?.name ?? null,
        decided_by_email: action.decidedBy ? (emails.get(action.decidedBy) ?? null) : null,
        deliveries: detailed,
        sensitive_paths: sensitive?.paths ?? [],
      };
    },
  }),
];
