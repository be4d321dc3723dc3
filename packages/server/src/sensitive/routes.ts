import { v1 } from '../admin/route-helpers';
import { type AdminRoute, route } from '../admin/table';
import { NotFoundError } from '../errors';
import * as schemas from './schema';

// An admin reads an action's sensitive arguments in full only on purpose (a POST with a
// reason), and every such read is logged; anyone who can see the action can see the log.

export const sensitiveRoutes: readonly AdminRoute[] = [
  route({
    method: 'POST',
    path: `${v1}/actions/:action_id/sensitive/reveal`,
    access: 'admin',
    tag: 'actions',
    summary: "Read an action's sensitive arguments in full (admins; the read is logged)",
    description:
      'A policy\'s `redact` paths are stored encrypted and shown as "[redacted]" everywhere else. This answers the call\'s verbatim argument JSON and records who read it, when and why (GET …/sensitive/reads). 409 when the action has no sensitive arguments.',
    params: { action_id: 'Action id.' },
    body: schemas.revealBody,
    bodyOptional: true,
    response: schemas.revealed,
    async handler(call) {
      const actionId = call.params.action_id as string;
      const read = await call.services.server.sensitive.reveal(
        actionId,
        { userId: call.user.id, email: call.user.email },
        call.body?.reason ?? null,
      );
      return {
        action_id: actionId,
        paths: read.paths,
        args_json: read.argsJson,
        kwargs_json: read.kwargsJson,
        read_at: new Date(read.readAt).toISOString(),
      };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/actions/:action_id/sensitive/reads`,
    access: 'viewer',
    tag: 'actions',
    summary: "Who read an action's sensitive arguments in full, oldest first",
    description:
      "Each admin's reveal (user, e-mail, reason) and each webhook delivery that carried the values in full (no user; the reason names the delivery). Empty when nobody has read them, or the action has no sensitive arguments; 404 when there is no such action.",
    params: { action_id: 'Action id.' },
    response: schemas.readList,
    async handler(call) {
      const id = call.params.action_id as string;
      const store = call.services.server.store;
      if (id.length > 100 || !(await store.actions.get(id))) {
        throw new NotFoundError(`No action ${id.slice(0, 100)}.`);
      }
      const reads = await store.sensitive.reads(id);
      return {
        items: reads.map((read) => ({
          id: read.id,
          user_id: read.userId,
          user_email: read.userEmail,
          reason: read.reason,
          read_at: new Date(read.readAt).toISOString(),
        })),
      };
    },
  }),
];
