import type { AgentPrincipal } from '../agents/service';
import type { ServerContext } from '../context';
import { ValidationError } from '../errors';
import { readJson, sendJson } from '../http/respond';
import type { RequestContext } from '../http/router';
import { RawJson } from '../store/json';
import type { ActionRecord } from '../store/records';

// The agent API's in-app decision: an app reports that its end user approved or denied one of
// its own held actions in the app's UI (the AI SDK's tool approval, LangGraph's resume, the
// Agents SDK's state.approve), when the policy allows it (`approve_in: [dashboard, app]`).

/** The header by which `@arden/core` says what its client can take (`edits`). */
export const capabilitiesHeader = 'x-arden-capabilities';

/** True when the request's client runs edited arguments (`X-Arden-Capabilities: edits`). */
export function acceptsEdits(context: RequestContext): boolean {
  const header = context.request.headers[capabilitiesHeader];
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  if (value.split(/[\s,]+/).includes('edits')) return true;
  return context.query.get('capabilities')?.split(',').includes('edits') ?? false;
}

/** The answer's fields for an action approved with edited arguments, for clients that take them. */
export function editedFields(action: ActionRecord): Record<string, unknown> | undefined {
  const edit = action.approval?.edits.at(-1);
  if (action.status !== 'approved' || !edit) return undefined;
  return {
    edited: {
      kwargs_json: edit.after,
      // Written verbatim: the parsed text would round big integers and drop 1.0 to 1.
      kwargs: new RawJson(edit.after),
      original_kwargs_json: action.kwargsJson,
      patch: edit.patch,
      edited_by: edit.user,
      edited_at: new Date(edit.at).toISOString(),
    },
  };
}

/** `POST /v1/actions/{id}/decision`: `{decision: approve|deny, user, notes?}` → the status. */
export function inAppDecisionRoute(
  server: ServerContext,
  authenticate: (context: RequestContext) => Promise<AgentPrincipal>,
  ownAction: (principal: AgentPrincipal, actionId: string) => Promise<ActionRecord>,
  statusBody: (action: ActionRecord, options: { edits: boolean }) => Record<string, unknown>,
) {
  return async (context: RequestContext): Promise<void> => {
    const principal = await authenticate(context);
    const body = (await readJson(context.request, server.config.bodyLimit)) as Record<
      string,
      unknown
    > | null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ValidationError(
        'The body must be {"decision": "approve"|"deny", "user": "<end user>", "notes"?: "…"}.',
      );
    }
    if (body.decision !== 'approve' && body.decision !== 'deny') {
      throw new ValidationError('decision must be "approve" or "deny".', 'decision');
    }
    if (body.notes !== undefined && body.notes !== null && typeof body.notes !== 'string') {
      throw new ValidationError('notes must be a string.', 'notes');
    }
    const action = await ownAction(principal, context.params.actionId as string);
    const decided = await server.approvals.decide(action.id, {
      decision: body.decision,
      userId: null,
      notes: (body.notes as string | null | undefined) ?? null,
      channel: 'app',
      appUser: typeof body.user === 'string' ? body.user : '',
    });
    sendJson(context.response, 200, {
      ...statusBody(decided, { edits: false }),
      decided_in: 'app',
      decided_by_user: decided.approval?.decidedByUser ?? null,
    });
  };
}
