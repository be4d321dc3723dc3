import {
  type Arden,
  ArdenApiError,
  ardenToolName,
  buildCallContext,
  type CheckResult,
  decisionOf,
  denialOf,
  denialText,
  resolveAdapterOptions,
  runsUnchecked,
} from '@arden/core';
import type { ModelMessage, ToolApprovalResponse, ToolApprovalStatus, ToolSet } from 'ai';
import { metadataOf } from './guard';
import type { ProtectOptions } from './options';
import { type ActionLink, findLink, forgetLink, inputKeyOf, rememberLink } from './state';

/** What `ardenToolApproval()` receives from the SDK for each tool call. */
interface ApprovalRequest {
  toolCall: { toolCallId: string; toolName: string; input: unknown };
  tools: ToolSet | undefined;
  messages: ModelMessage[];
  toolsContext?: unknown;
}

const actionPattern = /\(Arden action ([^\s)]+)\)/;

/** The reason shown with the SDK's approval request; it names the Arden action. */
function heldReason(result: CheckResult): string {
  return `${result.message ?? 'A policy requires a human approval for this call.'} (Arden action ${result.actionId})`;
}

/** The Arden action id named in an approval request's reason, if any. */
export function actionIdOfReason(reason: string | undefined): string | undefined {
  return reason ? actionPattern.exec(reason)?.[1] : undefined;
}

interface RequestPart {
  type: 'tool-approval-request';
  approvalId: string;
  toolCallId: string;
  reason?: string;
}

function approvalRequests(messages: readonly ModelMessage[]): RequestPart[] {
  const found: RequestPart[] = [];
  for (const message of messages) {
    if (message.role !== 'assistant' || typeof message.content === 'string') continue;
    for (const part of message.content) {
      if (part.type === 'tool-approval-request') found.push(part as RequestPart);
    }
  }
  return found;
}

function answeredApprovals(messages: readonly ModelMessage[]): Set<string> {
  const answered = new Set<string>();
  for (const message of messages) {
    if (message.role !== 'tool') continue;
    for (const part of message.content) {
      if (part.type === 'tool-approval-response') answered.add(part.approvalId);
    }
  }
  return answered;
}

/**
 * The held call an approval request in the messages names (the SDK asks again before it runs a
 * call the app approved). Rebuilt from the request's reason, so it works in another process.
 */
function linkFromMessages(
  messages: readonly ModelMessage[],
  toolCallId: string,
  input: unknown,
  ardenName: string,
): ActionLink | undefined {
  const request = approvalRequests(messages).find((part) => part.toolCallId === toolCallId);
  const actionId = actionIdOfReason(request?.reason);
  if (!actionId) return undefined;
  const known = findLink(toolCallId, input);
  if (known && known.actionId === actionId) return known;
  return {
    toolCallId,
    inputKey: inputKeyOf(input),
    ardenToolName: ardenName,
    actionId,
    decision: 'requires_approval',
    notes: undefined,
    status: undefined,
  };
}

async function toolsOwnAnswer(request: ApprovalRequest): Promise<ToolApprovalStatus> {
  const tool = request.tools?.[request.toolCall.toolName] as
    | { needsApproval?: boolean | ((input: unknown, options: unknown) => unknown) }
    | undefined;
  const needsApproval = tool?.needsApproval;
  if (needsApproval === undefined) return 'not-applicable';
  const answer =
    typeof needsApproval === 'function'
      ? await needsApproval(request.toolCall.input, {
          toolCallId: request.toolCall.toolCallId,
          messages: request.messages,
          context: (request.toolsContext as Record<string, unknown> | undefined)?.[
            request.toolCall.toolName
          ],
        })
      : needsApproval;
  return answer ? 'user-approval' : 'not-applicable';
}

async function readStatus(arden: Arden, link: ActionLink): Promise<void> {
  if (link.status !== undefined) return;
  // Pending, or Arden is unreachable: the app's own approval stands (the tool's run is reported later).
  const decided = await decisionOf(arden, link.actionId);
  if (decided) {
    link.status = decided.status;
    link.notes = decided.notes;
    if (decided.edited) link.edited = decided.edited;
  }
}

/**
 * The native approval route: a `toolApproval` function for `generateText`, `streamText` and
 * `ToolLoopAgent` that asks Arden about each tool call before it runs, and maps the decision
 * onto the SDK's own approval flow:
 *
 * - **allow** → the tool runs (or the tool's own `needsApproval` applies);
 * - **block** → `{ type: 'denied', reason }`: the SDK does not run it and the model reads why;
 * - **requires_approval** → `{ type: 'user-approval', reason }`: the run stops with a
 *   `tool-approval-request` (the reason names the Arden action), shown by your chat UI
 *   (`addToolApprovalResponse`). Decide it there, or in Arden (dashboard or CLI) and turn the
 *   decision into the SDK's response with `resolveArdenApprovals(messages)`.
 *
 * When the SDK resumes an approved call it asks again: a call an Arden approver denied meanwhile
 * is then denied (Arden's denial wins); otherwise it runs, and its outcome is reported to Arden.
 * Tools wrapped by `guardTools()` or the automatic route reuse this decision (no second check).
 *
 * ```ts
 * const result = await generateText({ model, tools, toolApproval: ardenToolApproval(), prompt });
 * ```
 */
export function ardenToolApproval(options: ProtectOptions = {}) {
  const resolved = resolveAdapterOptions(options);
  return async (request: ApprovalRequest): Promise<ToolApprovalStatus> => {
    const { toolCall } = request;
    const arden = resolved.resolveArden();
    const ardenName = ardenToolName(resolved, toolCall.toolName);
    const existing = linkFromMessages(
      request.messages,
      toolCall.toolCallId,
      toolCall.input,
      ardenName,
    );
    if (existing) {
      // The SDK asks again before it runs a call the app approved.
      rememberLink(existing);
      await readStatus(arden, existing);
      if (existing.status === 'denied') {
        return {
          type: 'denied',
          reason: denialText(resolved, {
            toolName: ardenName,
            actionId: existing.actionId,
            reason: 'denied',
            notes: existing.notes,
            error: new Error('denied'),
          }),
        };
      }
      if (existing.status === undefined)
        await recordAppApproval(arden, resolved, existing, toolCall);
      return { type: 'approved' };
    }
    let result: CheckResult;
    try {
      result = await arden.check(
        ardenName,
        buildCallContext([toolCall.input]),
        metadataOf(resolved, toolCall.toolName, toolCall.toolCallId),
      );
    } catch (error) {
      if (runsUnchecked(arden, error)) return toolsOwnAnswer(request);
      const denial = denialOf(error, ardenName);
      if (denial) return { type: 'denied', reason: denialText(resolved, denial) };
      // Arden answered but refused the check (a revoked key, a bad request): fail closed, and say
      // it was not an outage.
      arden.options.logger.warn(`Arden refused to check "${ardenName}"; the call is denied.`, {
        error: String(error),
      });
      return {
        type: 'denied',
        reason: `Arden refused to check this call to "${ardenName}" (${(error as Error).name ?? 'error'}), so the tool did not run.`,
      };
    }
    const link: ActionLink = {
      toolCallId: toolCall.toolCallId,
      inputKey: inputKeyOf(toolCall.input),
      ardenToolName: ardenName,
      actionId: result.actionId,
      decision: result.decision,
      notes: result.decision === 'block' ? (result.message ?? result.reason) : undefined,
      status: undefined,
    };
    if (result.decision === 'block') {
      forgetLink(link.toolCallId);
      return { type: 'denied', reason: describeBlock(resolved, link) };
    }
    if (result.decision === 'allow') {
      // The tool's wrapper (guardTools or the automatic route) runs it without a second check.
      rememberLink(link);
      return toolsOwnAnswer(request);
    }
    // Held: nothing to remember here; the approval request in the messages names the action.
    forgetLink(link.toolCallId);
    return { type: 'user-approval', reason: heldReason(result) };
  };
}

/**
 * The app's user approved a call Arden still holds: record it in Arden as an in-app decision.
 * Approved → it runs; still pending (the policy wants more approvals) or refused (the policy does
 * not allow in-app decisions) → the tool waits for Arden's approvers when it runs. A server
 * without in-app decisions (404) or out of reach: the app's approval stands, as before.
 */
async function recordAppApproval(
  arden: Arden,
  options: ProtectOptions,
  link: ActionLink,
  toolCall: { toolCallId: string; toolName: string; input: unknown },
): Promise<void> {
  const user =
    (typeof options.appUser === 'function' ? options.appUser(toolCall) : options.appUser) ??
    'app user';
  try {
    const decided = await arden.reportInAppDecision(link.actionId, { decision: 'approve', user });
    if (decided.status === 'approved') link.status = 'approved';
    else if (decided.status === 'denied') {
      link.status = 'denied';
      link.notes = decided.message;
    }
    // Pending: more approvals needed; the tool waits for them when it runs.
  } catch (error) {
    if (ArdenApiError.isInstance(error) && error.statusCode === 403) {
      arden.options.logger.warn(
        `The policy of "${link.ardenToolName}" does not allow in-app decisions (approve_in); the call waits for an approver in Arden.`,
        { actionId: link.actionId },
      );
      return;
    }
    if (ArdenApiError.isInstance(error) && error.statusCode === 409) {
      link.status = undefined;
      await readStatus(arden, link);
      return;
    }
    link.status = 'app';
  }
}

function describeBlock(options: ProtectOptions, link: ActionLink): string {
  return denialText(options, {
    toolName: link.ardenToolName,
    actionId: link.actionId,
    reason: 'blocked',
    notes: link.notes,
    error: new Error('blocked'),
  });
}

/** Options of `resolveArdenApprovals()`. */
export interface ResolveApprovalsOptions {
  /** Wait up to this many seconds (long-poll) for each undecided action. Default 0: just read. */
  waitSeconds?: number;
  /** The Arden instance. Default: the one `configure()` made. */
  arden?: Arden | (() => Arden);
}

/** Result of `resolveArdenApprovals()`. */
export interface ResolvedApprovals {
  /** `messages` with a tool message of approval responses appended (when any were decided). */
  messages: ModelMessage[];
  /** The responses added, one per approval request that Arden decided. */
  responses: ToolApprovalResponse[];
  /** Approval requests Arden has not decided yet (their approval ids). */
  pending: string[];
}

/**
 * Turns decisions taken in Arden (dashboard, CLI) into the SDK's approval responses: for each
 * unanswered `tool-approval-request` that names an Arden action, reads the action's status and,
 * if it was decided, adds a `tool-approval-response` (approved or denied, with the approver's
 * notes as the reason). Pass the result's `messages` to the next `generateText`/`streamText` call.
 */
export async function resolveArdenApprovals(
  messages: readonly ModelMessage[],
  options: ResolveApprovalsOptions = {},
): Promise<ResolvedApprovals> {
  const resolved = resolveAdapterOptions({ ...(options.arden ? { arden: options.arden } : {}) });
  const arden = resolved.resolveArden();
  const answered = answeredApprovals(messages);
  const responses: ToolApprovalResponse[] = [];
  const pending: string[] = [];
  for (const request of approvalRequests(messages)) {
    if (answered.has(request.approvalId)) continue;
    const actionId = actionIdOfReason(request.reason);
    if (!actionId) continue;
    const status = await arden.status(actionId, options.waitSeconds || undefined);
    if (status.status === 'pending') {
      pending.push(request.approvalId);
      continue;
    }
    responses.push({
      type: 'tool-approval-response',
      approvalId: request.approvalId,
      approved: status.status === 'approved',
      ...(status.message ? { reason: status.message } : {}),
    });
  }
  const next = [...messages];
  if (responses.length > 0) {
    const last = next.at(-1);
    if (last?.role === 'tool') {
      next[next.length - 1] = { ...last, content: [...last.content, ...responses] };
    } else {
      next.push({ role: 'tool', content: responses });
    }
  }
  return { messages: next, responses, pending };
}
