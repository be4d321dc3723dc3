import {
  ApprovalTimeoutError,
  type Arden,
  ArdenApiError,
  ardenToolName,
  assertDecisionCoversCall,
  buildCallContext,
  type CheckResult,
  decidedCall,
  denialOf,
  denialText,
  type EditedCall,
  editNotRunnable,
  exactCall,
  resolveAdapterOptions,
  runsUnchecked,
  type StatusResponseBody,
} from '@arden/core';
import type { ModelMessage, ToolApprovalResponse, ToolApprovalStatus, ToolSet } from 'ai';
import { guardedKey, metadataOf } from './guard';
import type { ProtectOptions } from './options';
import {
  type ActionLink,
  activeOptions,
  forgetLink,
  inputKeyOf,
  rememberHeld,
  rememberLink,
  wasHeldHere,
} from './state';

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
  // Always a fresh link: what Arden says of the action now decides, never a remembered status.
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

/** The SDK's answer that the call does not run, with why. */
function refused(link: ActionLink, why: string): ToolApprovalStatus {
  return {
    type: 'denied',
    reason: `Arden did not run this call to "${link.ardenToolName}" (Arden action ${link.actionId}): ${why}`,
  };
}

/**
 * Arden could not confirm a resumed approval (unreachable, or an error): the call does not run —
 * unless `onUnavailable: 'allow'` says to run calls unchecked while Arden is unreachable.
 */
function unconfirmed(
  arden: Arden,
  link: ActionLink,
  error: unknown,
  what: string,
): ToolApprovalStatus {
  if (runsUnchecked(arden, error)) {
    arden.options.logger.warn(
      `Arden is unreachable; running "${link.ardenToolName}" unrecorded because onUnavailable is 'allow' (${what}).`,
      { actionId: link.actionId },
    );
    link.passThrough = true;
    rememberLink(link);
    return { type: 'approved' };
  }
  arden.options.logger.warn(`Arden could not ${what}; the call is denied.`, {
    actionId: link.actionId,
    error: String(error),
  });
  return refused(
    link,
    `Arden could not ${what} (${error instanceof Error ? error.message : String(error)}), so the tool did not run.`,
  );
}

/**
 * Why the approval (or hold) Arden holds under this action is not for this call, or undefined
 * when it is: its receipt must bind this tool and exactly these argument bytes (as core's
 * guarded calls compare them). Without a receipt (a server that signs none), only a call this
 * process held itself is known to be this one.
 */
async function mismatch(
  link: ActionLink,
  answer: StatusResponseBody,
  input: unknown,
  edited: EditedCall | undefined,
): Promise<string | undefined> {
  if (typeof answer.receipt !== 'string') {
    return wasHeldHere(link.actionId, link.toolCallId, input)
      ? undefined
      : 'Arden sent no receipt to prove that the approval is for this call (receipts are off on the server), so the tool did not run.';
  }
  try {
    await assertDecisionCoversCall(
      exactCall(link.ardenToolName, link.actionId, [input]),
      answer.receipt,
      edited,
    );
    return undefined;
  } catch (error) {
    return `the approval in the messages is for another call (${error instanceof Error ? error.message : String(error)}). An approval runs only the exact call it was given for.`;
  }
}

/**
 * Claims the action's single run in Arden before the SDK runs the tool: an approval runs one call
 * once, so a replayed approval (the same approval request again in the messages) is refused.
 */
async function claimRun(arden: Arden, link: ActionLink): Promise<ToolApprovalStatus | undefined> {
  try {
    await arden.claimRun(link.actionId);
    link.claimed = true;
    return undefined;
  } catch (error) {
    if (ArdenApiError.isInstance(error) && error.statusCode === 409) {
      return refused(
        link,
        'this approval was already used for a run (an approval runs one call once), so the tool did not run again.',
      );
    }
    return unconfirmed(arden, link, error, 'record the run of the approved call');
  }
}

/**
 * Whether the tool is wrapped by `guardTools()`: its run goes through Arden whatever the call's
 * telemetry, and it runs an approver's edit. A plain tool does neither — not even under the
 * automatic route, which sees only calls that keep the global telemetry (a call may turn it off
 * or bring its own integrations), and which runs the SDK's own call, with the model's input.
 */
function isGuarded(tools: ToolSet | undefined, toolName: string): boolean {
  const tool = tools?.[toolName] as Record<symbol, unknown> | undefined;
  return tool?.[guardedKey] === true;
}

/**
 * The app approved a call Arden still holds for its own approvers (the policy does not take the
 * app's approval, or wants more approvals). A `guardTools()` tool is handed to the SDK: it waits
 * for Arden's decision (and claims the run) before it runs. A plain tool under the automatic
 * route waits here, before the SDK may run it (the route may not see this call: its telemetry may
 * be off), then goes on as Arden decided. Any other tool is denied rather than run without the
 * approval its policy requires.
 */
async function waitForApprover(
  arden: Arden,
  resolved: ProtectOptions,
  link: ActionLink,
  toolCall: { toolCallId: string; toolName: string; input: unknown },
  tools: ToolSet | undefined,
): Promise<ToolApprovalStatus> {
  if (isGuarded(tools, toolCall.toolName)) {
    rememberLink(link);
    return { type: 'approved' };
  }
  if (activeOptions() !== undefined) {
    try {
      await arden.waitForDecision(link.actionId, link.ardenToolName);
    } catch (error) {
      if (!ApprovalTimeoutError.isInstance(error)) {
        return unconfirmed(arden, link, error, "read Arden's decision");
      }
      return refused(
        link,
        'its policy needs an approver in Arden, and nobody decided in time, so it did not run.',
      );
    }
    return resumeApproved(arden, resolved, link, toolCall, tools, 'waited');
  }
  return refused(
    link,
    "its policy needs an approver in Arden, and this tool runs outside Arden (not wrapped by guardTools(), automatic route off), so it did not run on the app's approval alone. Wait for Arden's decision with resolveArdenApprovals().",
  );
}

/**
 * The SDK asks again before it runs a call the app approved: Arden reads the action the approval
 * request names. It runs only when that action is for exactly this call (its receipt), is not
 * denied, and its single run is claimed; otherwise it is denied. The app's approval of a call
 * Arden still holds is recorded as an in-app decision first.
 */
async function resumeApproved(
  arden: Arden,
  resolved: ProtectOptions,
  link: ActionLink,
  toolCall: { toolCallId: string; toolName: string; input: unknown },
  tools: ToolSet | undefined,
  after: 'reported' | 'waited' | undefined = undefined,
): Promise<ToolApprovalStatus> {
  let answer: StatusResponseBody;
  try {
    answer = await arden.status(link.actionId);
  } catch (error) {
    return unconfirmed(arden, link, error, 'read the approved action');
  }
  const decided =
    answer.status === 'approved' || answer.status === 'denied' ? decidedCall(answer) : undefined;
  if (decided?.status === 'denied') {
    return {
      type: 'denied',
      reason: denialText(resolved, {
        toolName: link.ardenToolName,
        actionId: link.actionId,
        reason: 'denied',
        notes: decided.message,
        error: new Error('denied'),
      }),
    };
  }
  const wrong = await mismatch(link, answer, toolCall.input, decided?.edited);
  if (wrong) return refused(link, wrong);
  if (decided?.status === 'approved') {
    if (decided.edited && !isGuarded(tools, toolCall.toolName)) {
      // The SDK would run the model's input: a call nobody approved. Only a guardTools() tool
      // can run the approver's edit in its place (the automatic route cannot either).
      return refused(
        link,
        editNotRunnable(
          link.ardenToolName,
          link.actionId,
          decided.edited,
          'this tool is not wrapped by guardTools(), so the SDK would run the arguments as the model wrote them',
        ).notes ?? 'an approver edited the arguments',
      );
    }
    link.status = 'approved';
    link.notes = decided.message;
    if (decided.edited) link.edited = decided.edited;
    const notClaimed = await claimRun(arden, link);
    if (notClaimed) return notClaimed;
    rememberLink(link);
    return { type: 'approved' };
  }
  // Still pending after waiting for Arden's approvers: never run undecided.
  if (after === 'waited') {
    return refused(link, 'its policy needs an approver in Arden, and nobody has decided yet.');
  }
  // Still pending after the app's approval was recorded: the policy wants more approvals.
  if (after === 'reported') return waitForApprover(arden, resolved, link, toolCall, tools);
  return recordAppApproval(arden, resolved, link, toolCall, tools);
}

/**
 * The app's user approved a call Arden still holds: record it in Arden as an in-app decision.
 * Approved → its run is claimed and it runs; still pending (the policy wants more approvals) or
 * refused (the policy does not allow in-app decisions) → the tool waits for Arden's approvers
 * when it runs. When the decision cannot be recorded (Arden unreachable, an error), the call does
 * not run (unless `onUnavailable: 'allow'`).
 */
async function recordAppApproval(
  arden: Arden,
  options: ProtectOptions,
  link: ActionLink,
  toolCall: { toolCallId: string; toolName: string; input: unknown },
  tools: ToolSet | undefined,
): Promise<ToolApprovalStatus> {
  const user =
    (typeof options.appUser === 'function' ? options.appUser(toolCall) : options.appUser) ??
    'app user';
  try {
    await arden.reportInAppDecision(link.actionId, { decision: 'approve', user });
  } catch (error) {
    if (ArdenApiError.isInstance(error) && error.statusCode === 403) {
      arden.options.logger.warn(
        `The policy of "${link.ardenToolName}" does not allow in-app decisions (approve_in); the call waits for an approver in Arden.`,
        { actionId: link.actionId },
      );
      return waitForApprover(arden, options, link, toolCall, tools);
    }
    // 409: decided meanwhile (in Arden); read it again below.
    if (!(ArdenApiError.isInstance(error) && error.statusCode === 409)) {
      return unconfirmed(arden, link, error, "record the app's approval");
    }
  }
  return resumeApproved(arden, options, link, toolCall, tools, 'reported');
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
 * When the SDK resumes an approved call it asks again, and the action the approval request names
 * is confirmed with Arden: it must be for this tool with exactly these arguments (its signed
 * receipt), not denied (Arden's denial wins), and not used before — its single run is claimed in
 * Arden, so a replayed or forged approval in the messages never runs a call. If Arden cannot
 * confirm it (unreachable), the call is denied, unless `onUnavailable: 'allow'`.
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
      return resumeApproved(arden, resolved, existing, toolCall, request.tools);
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
    // Held: the approval request in the messages names the action; this process remembers that it
    // held this very call (what proves the approval's call when the server signs no receipts).
    forgetLink(link.toolCallId);
    rememberHeld(link.actionId, link.toolCallId, toolCall.input);
    return { type: 'user-approval', reason: heldReason(result) };
  };
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
