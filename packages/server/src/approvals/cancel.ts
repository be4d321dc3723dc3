import type { AgentPrincipal } from '../agents/service';
import type { ServerContext } from '../context';
import { ValidationError } from '../errors';
import { readJson, sendJson } from '../http/respond';
import type { RequestContext } from '../http/router';
import type { ActionRecord } from '../store/records';

// The agent API's cancellation of a held call: the agent's client gave the call up while Arden
// held it (an MCP client's notifications/cancelled, relayed by the Arden MCP gateway). The action
// becomes `cancelled`: it never runs, and approving or denying it afterwards is a 409.

/** `POST /v1/actions/{id}/cancel`: `{reason?}` → the status (`cancelled`). */
export function cancelRoute(
  server: ServerContext,
  authenticate: (context: RequestContext) => Promise<AgentPrincipal>,
  ownAction: (principal: AgentPrincipal, actionId: string) => Promise<ActionRecord>,
  statusBody: (action: ActionRecord) => Record<string, unknown>,
) {
  return async (context: RequestContext): Promise<void> => {
    const principal = await authenticate(context);
    const body = (await readJson(context.request, server.config.bodyLimit)) as unknown;
    const reason = body === null ? undefined : (body as { reason?: unknown }).reason;
    if (
      (body !== null && (typeof body !== 'object' || Array.isArray(body))) ||
      (reason !== undefined && reason !== null && typeof reason !== 'string')
    ) {
      throw new ValidationError(
        'The body must be {} or {"reason": "<why the call was given up>"}.',
        'reason',
      );
    }
    const action = await ownAction(principal, context.params.actionId as string);
    const cancelled = await server.approvals.cancel(
      action.id,
      (reason as string | undefined) ?? null,
    );
    sendJson(context.response, 200, { ...statusBody(cancelled), cancelled: true });
  };
}
