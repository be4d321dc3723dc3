import { ExactJsonError, parseExactJsonMembers } from '@arden/policy';
import * as actionSchemas from '../actions/schema';
import { agentIdFilter, nextCursor, v1 } from '../admin/route-helpers';
import { actionView } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import { ValidationError } from '../errors';
import { maxJsonDepth } from '../http/respond';
import * as schemas from './schema';

// The admin API of approvals: held calls, approve and deny.

/**
 * The texts of an approve body's `patch` or `kwargs` as the approver sent them: the edit keeps
 * the approver's values as written (12345678901234567891 or 1.0, not doubles).
 */
function editTexts(
  bodyText: string | undefined,
  body: { patch?: unknown; kwargs?: unknown },
): { patchJson?: string; kwargsJson?: string } {
  if (bodyText === undefined || (body.patch === undefined && body.kwargs === undefined)) return {};
  let sources: Map<string, string>;
  try {
    sources = parseExactJsonMembers(bodyText, { maxDepth: maxJsonDepth }).sources;
  } catch (error) {
    if (!(error instanceof ExactJsonError)) throw error;
    throw new ValidationError(
      `The body cannot be read exactly (${error.path ? `${error.path}: ` : ''}${error.reason}).`,
      error.path || undefined,
    );
  }
  return {
    ...(body.patch === undefined ? {} : { patchJson: sources.get('patch') }),
    ...(body.kwargs === undefined ? {} : { kwargsJson: sources.get('kwargs') }),
  };
}

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
      'The first decision wins: a second decision, or one on an action that expired or never needed approval, gets 409. The waiting agent is woken at once and the webhook is queued. When the policy asks for `approvals: N`, each approval from a distinct user (of the `from` groups) is counted and the action stays pending until the last; the answer shows the votes under `approval`. With `patch` or `kwargs` the call is approved with edited arguments, evaluated again against the policies.',
    params: { action_id: 'Action id.' },
    body: schemas.approveBody,
    bodyOptional: true,
    response: actionSchemas.action,
    async handler(call) {
      const decided = await call.services.server.approvals.decide(call.params.action_id as string, {
        decision: 'approve',
        userId: call.user.id,
        notes: call.body.notes ?? null,
        patch: call.body.patch,
        kwargs: call.body.kwargs,
        ...editTexts(call.bodyText, call.body),
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
    description:
      'As approve: the first decision wins, a second gets 409. One denial denies, whatever `approvals` asks.',
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
  route({
    method: 'GET',
    path: `${v1}/groups`,
    access: 'viewer',
    tag: 'approvals',
    summary: "Every user's groups (for `from: [group]` in policies)",
    response: schemas.userGroupsList,
    async handler(call) {
      const store = call.services.server.store;
      const groups = await store.approvals.allGroups();
      const users = await store.users.list();
      return {
        items: users.map((user) => ({
          user_id: user.id,
          email: user.email,
          groups: groups.get(user.id) ?? [],
        })),
      };
    },
  }),
  route({
    method: 'PUT',
    path: `${v1}/users/:user_id/groups`,
    access: 'admin',
    tag: 'approvals',
    summary: "Set a user's groups",
    description:
      'Replaces the groups. A policy with `from: [finance]` counts only approvals from members of finance.',
    params: { user_id: 'User id or email.' },
    body: schemas.groupsBody,
    response: schemas.userGroups,
    async handler(call) {
      const user = await call.services.users.getUser(call.params.user_id as string);
      const groups = [...new Set(call.body.groups)].sort();
      await call.services.server.store.transaction((repositories) =>
        repositories.approvals.setGroups(user.id, groups, call.services.server.clock()),
      );
      return { user_id: user.id, email: user.email, groups };
    },
  }),
];
