import * as actionSchemas from '../actions/schema';
import { agentIdFilter, nextCursor, v1 } from '../admin/route-helpers';
import { actionView } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import * as schemas from './schema';

// The admin API of approvals: held calls, approve and deny.

/** Held calls: listing, approve and deny. */
export const approvalRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/approvals`,
    access: 'viewer',
    tag: 'approvals',
    summary: 'Held actions waiting for a decision, oldest first',
    query: schemas.approvalQuery,
    response: schemas.approvalPage,
    async handler(call) {
      const now = call.services.server.clock();
      const page = await call.services.server.store.actions.list(
        {
          status: 'pending',
          agentId: await agentIdFilter(call, call.query.agent),
          environment: call.query.environment,
        },
        { cursor: call.query.cursor, limit: call.query.limit, order: 'asc' },
      );
      return {
        items: page.items.map((action) => ({
          ...actionView(action),
          waiting_ms: Math.max(0, now - action.createdAt),
        })),
        next_cursor: nextCursor(page.nextCursor),
      };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/approvals/:action_id/approve`,
    access: 'approver',
    tag: 'approvals',
    summary: 'Approve a held action',
    description:
      'The first decision wins: a second decision, or one on an action that expired or never needed approval, gets 409. The waiting agent is woken at once and the webhook is queued.',
    params: { action_id: 'Action id.' },
    body: schemas.decisionBody,
    bodyOptional: true,
    response: actionSchemas.action,
    async handler(call) {
      const decided = await call.services.server.approvals.decide(call.params.action_id as string, {
        decision: 'approve',
        userId: call.user.id,
        notes: call.body.notes ?? null,
      });
      return actionView(decided);
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/approvals/:action_id/deny`,
    access: 'approver',
    tag: 'approvals',
    summary: 'Deny a held action',
    description: 'As approve: the first decision wins, a second gets 409.',
    params: { action_id: 'Action id.' },
    body: schemas.decisionBody,
    bodyOptional: true,
    response: actionSchemas.action,
    async handler(call) {
      const decided = await call.services.server.approvals.decide(call.params.action_id as string, {
        decision: 'deny',
        userId: call.user.id,
        notes: call.body.notes ?? null,
      });
      return actionView(decided);
    },
  }),
];
