import { type Arden, type DecidedCall, decidedCall, denialText } from '@arden/core';
import type { RunToolApprovalItem } from '@openai/agents';
import { type ActionLink, adapterState, findLink, forgetLink, rememberLink } from './state';

/** The part of a `RunState` this module uses. */
interface StateLike {
  getInterruptions(): RunToolApprovalItem[];
  approve(item: RunToolApprovalItem, options?: { alwaysApprove?: boolean }): void;
  reject(item: RunToolApprovalItem, options?: { alwaysReject?: boolean; message?: string }): void;
}

/** Options of `resolveInterruptions()`. */
export interface ResolveInterruptionsOptions {
  /**
   * Wait for approvers to decide: `true` waits up to `maxWaitMs`, a number waits that many ms.
   * Default: do not wait; calls still pending in Arden stay pending.
   */
  wait?: boolean | number;
  /** The Arden instance to use. Default: the adapter's (the one `configure()` made). */
  arden?: Arden;
}

/** What `resolveInterruptions()` did. */
export interface ResolvedInterruptions {
  /** Approved in Arden, now approved in the run state. */
  approved: RunToolApprovalItem[];
  /** Denied in Arden, now rejected in the run state (the model is told why). */
  rejected: RunToolApprovalItem[];
  /** Still undecided in Arden, or not Arden's (an SDK approval of your own). */
  pending: RunToolApprovalItem[];
}

/** The Arden action behind an interruption, if Arden held it. */
export interface InterruptionAction {
  actionId: string;
  /** The name Arden knows the tool by. */
  toolName: string;
  callId: string;
}

function callIdOf(item: RunToolApprovalItem): string | undefined {
  const raw = item.rawItem as { type?: string; callId?: unknown };
  return raw.type === 'function_call' && typeof raw.callId === 'string' ? raw.callId : undefined;
}

function toolNameOf(item: RunToolApprovalItem): string | undefined {
  const raw = item.rawItem as { name?: unknown };
  return typeof raw.name === 'string' ? raw.name : item.toolName;
}

function linkOf(item: RunToolApprovalItem): ActionLink | undefined {
  const callId = callIdOf(item);
  const toolName = toolNameOf(item);
  if (callId === undefined || toolName === undefined) return undefined;
  const link = findLink(callId, toolName);
  return link?.decision === 'requires_approval' ? link : undefined;
}

/**
 * The Arden action that an interruption stands for (the approval request Arden shows in its
 * dashboard), or `undefined` when Arden did not hold this call. Works in another process too,
 * after `RunState.fromString()`, while the adapter is installed.
 */
export function interruptionAction(item: RunToolApprovalItem): InterruptionAction | undefined {
  const link = linkOf(item);
  return link
    ? { actionId: link.actionId, toolName: link.ardenToolName, callId: link.callId }
    : undefined;
}

/**
 * Applies Arden's decisions to a run that stopped for approval on the native route: every
 * interruption that Arden holds and an approver has decided is approved or rejected in the run
 * state (a rejection tells the model why). Then resume with `run(agent, result.state)`.
 *
 * Pass a `RunResult`/`StreamedRunResult` or a `RunState` (for example one made by
 * `RunState.fromString()` in another process).
 */
export async function resolveInterruptions(
  resultOrState: StateLike | { state: StateLike },
  options: ResolveInterruptionsOptions = {},
): Promise<ResolvedInterruptions> {
  const state = 'state' in resultOrState ? resultOrState.state : resultOrState;
  const outcome: ResolvedInterruptions = { approved: [], rejected: [], pending: [] };
  const arden = options.arden ?? adapterState().options.resolveArden();
  const items = state.getInterruptions();
  const decisions = await Promise.all(
    items.map(async (item) => {
      const link = linkOf(item);
      if (!link) return undefined;
      if (link.status) {
        return { status: link.status, message: link.notes, edited: link.edited } as DecidedCall;
      }
      if (options.wait) {
        const maxWait = typeof options.wait === 'number' ? options.wait : arden.options.maxWaitMs;
        try {
          return await arden.waitForDecision(link.actionId, link.ardenToolName, maxWait);
        } catch {
          return undefined;
        }
      }
      const answer = await arden.status(link.actionId);
      // An approval with edit carries the approver's input: the resumed call runs it.
      return answer.status === 'pending' ? undefined : decidedCall(answer);
    }),
  );
  items.forEach((item, index) => {
    const link = linkOf(item);
    const decision = decisions[index];
    if (!link || !decision) {
      outcome.pending.push(item);
      return;
    }
    link.status = decision.status;
    link.notes = decision.message;
    if (decision.edited) link.edited = decision.edited;
    if (decision.status === 'approved') {
      state.approve(item);
      outcome.approved.push(item);
    } else {
      const message = denialText(adapterState().options, {
        toolName: link.ardenToolName,
        actionId: link.actionId,
        reason: 'denied',
        notes: decision.message,
        error: new Error(decision.message ?? 'denied'),
      });
      state.reject(item, { message });
      outcome.rejected.push(item);
    }
  });
  return outcome;
}

/** @internal Called when the app rejects an interruption itself: Arden hears of it. */
export function noteAppRejection(item: RunToolApprovalItem, message: string | undefined): void {
  const link = linkOf(item);
  if (!link) return;
  forgetLink(link.callId);
  if (link.status === 'denied') return;
  // Recorded in Arden as the end user's in-app denial when the policy allows in-app decisions;
  // else (or with an older server) the outcome report below says it did not run.
  try {
    adapterState()
      .options.resolveArden()
      .reportInAppDecision(link.actionId, {
        decision: 'deny',
        user: adapterState().options.appUser ?? 'app user',
        ...(message ? { notes: message.slice(0, 4000) } : {}),
      })
      .catch(() => undefined);
  } catch {
    // Not configured: nothing to record.
  }
  try {
    adapterState()
      .options.resolveArden()
      .reportResult(link.actionId, {
        status: 'failed',
        duration_ms: 0,
        error: `Rejected in the application (RunState.reject)${message ? `: ${message}` : ''}; the tool did not run.`,
      });
  } catch {
    // Not configured: nothing to tell.
  }
}

/** The links of a state's interruptions, as saved beside the SDK's own fields. */
export interface SavedLinks {
  version: 1;
  actions: ActionLink[];
}

/** The key under which `RunState.toJSON()` carries Arden's links (the SDK ignores unknown keys). */
export const savedLinksKey = 'arden';

/** @internal The links of a state's pending interruptions, for `toJSON()`. */
export function linksToSave(state: StateLike): SavedLinks | undefined {
  const actions = state
    .getInterruptions()
    .map((item) => linkOf(item))
    .filter((link): link is ActionLink => link !== undefined);
  return actions.length > 0 ? { version: 1, actions } : undefined;
}

/** @internal Restores the links saved in a serialized state, for `RunState.fromString()`. */
export function restoreLinks(serialized: unknown): void {
  let parsed: unknown = serialized;
  if (typeof serialized === 'string') {
    try {
      parsed = JSON.parse(serialized);
    } catch {
      return;
    }
  }
  const saved = (parsed as Record<string, unknown> | null)?.[savedLinksKey] as
    | Partial<SavedLinks>
    | undefined;
  if (saved?.version !== 1 || !Array.isArray(saved.actions)) return;
  for (const action of saved.actions) {
    if (
      action &&
      typeof action.callId === 'string' &&
      typeof action.toolName === 'string' &&
      typeof action.actionId === 'string' &&
      typeof action.ardenToolName === 'string'
    ) {
      // What this process checked itself (the input) is kept; what the saved state says is not
      // trusted to run anything: Arden confirms a held call before it runs (guard.ts).
      const known = findLink(action.callId, action.toolName);
      rememberLink({
        callId: action.callId,
        toolName: action.toolName,
        ardenToolName: action.ardenToolName,
        actionId: action.actionId,
        decision: 'requires_approval',
        notes: typeof action.notes === 'string' ? action.notes : undefined,
        status:
          action.status === 'approved' || action.status === 'denied' ? action.status : undefined,
        ...(known?.actionId === action.actionId && known.inputKey !== undefined
          ? { inputKey: known.inputKey }
          : {}),
      });
    }
  }
}
