/**
 * The adapter kit: what every framework adapter (`@arden/langchain`, `@arden/ai-sdk`,
 * `@arden/openai-agents`, `@arden/openai`) does the same way, so that an adapter only translates
 * its framework's tool call into a check and the outcome back into what the framework understands.
 * It names the tool for Arden, finds the Arden instance at call time, turns core's "did not run"
 * errors into a `ToolDenial`, and words what the model reads instead of the tool's result.
 */
import type { Arden } from './arden';
import type { ApprovalMode, EditedCall, PendingApproval } from './call-types';
import { decidedCall } from './checks';
import {
  ApprovalTimeoutError,
  ArdenApiError,
  ArdenUnavailableError,
  PolicyDeniedError,
} from './errors';
import { runsUnchecked } from './guard-rules';
import { getArden } from './registry';

export { blockedError, runsUnchecked, validateGuardArguments } from './guard-rules';

/** A held call an adapter resumes through its framework's own approvals: its action and name. */
export interface ResumedCall {
  actionId: string;
  /** The name Arden checked it under. */
  toolName: string;
}

/**
 * The denial of a resumed held call that Arden would not let run (not for this call, already run,
 * denied): the tool does not run, and the model is told why.
 */
export function heldRunRefused(call: ResumedCall, why: string): PolicyDeniedError {
  return new PolicyDeniedError({
    toolName: call.toolName,
    actionId: call.actionId,
    reason: 'denied',
    notes: `Arden did not run this call: ${why}`,
  });
}

/**
 * Arden could not confirm a resumed held call (unreachable, or an error while reading its
 * decision, recording the app's approval or claiming its run): throws the refusal — the call
 * does not run — unless `onUnavailable: 'allow'` runs calls unchecked while Arden is unreachable,
 * when it returns `'unchecked'` (logged). `what` says what could not be done ("read the decision").
 */
export function unconfirmedHeldRun(
  arden: Arden,
  call: ResumedCall,
  error: unknown,
  what: string,
): 'unchecked' {
  if (runsUnchecked(arden, error)) {
    arden.options.logger.warn(
      `Arden is unreachable; running "${call.toolName}" unrecorded because onUnavailable is 'allow' (${what}).`,
      { actionId: call.actionId },
    );
    return 'unchecked';
  }
  arden.options.logger.warn(`Arden could not ${what}; the call does not run.`, {
    actionId: call.actionId,
    error: String(error),
  });
  throw heldRunRefused(
    call,
    `Arden could not ${what} (${error instanceof Error ? error.message : String(error)}), so the tool did not run.`,
  );
}

/**
 * Why a tool call did not run: `blocked` (a policy), `denied` (an approver, or an expired
 * approval), `timeout` (no decision within `maxWaitMs`) or `unavailable` (Arden could not be
 * reached and `onUnavailable` is `'block'`).
 */
export type ToolDenialReason = 'blocked' | 'denied' | 'timeout' | 'unavailable';

/** Why a tool call did not run, as an adapter hands it to `denialMessage`. */
export interface ToolDenial {
  /** The tool's name as Arden knows it. */
  toolName: string;
  /** The Arden action, when one was logged. */
  actionId: string | undefined;
  /**
   * `blocked` (a policy), `denied` (an approver, or an expired approval), `timeout` (no decision
   * within `maxWaitMs`) or `unavailable` (Arden could not be reached and `onUnavailable` is `'block'`).
   */
  reason: ToolDenialReason;
  /** The policy's reason or the approver's notes. */
  notes: string | undefined;
  /** The error core raised. */
  error: Error;
}

/** How an adapter names tools in Arden. */
export interface ToolNaming {
  /** Prepended to every tool's name in Arden, for example `'support.'`. Default: none. */
  toolNamePrefix?: string;
  /** Arden names per framework tool name, for tools whose policy name differs from the tool's. */
  toolNames?: Record<string, string>;
}

/** The options every adapter takes for its guarded tools. */
export interface AdapterOptions extends ToolNaming {
  /**
   * Throw core's error (`PolicyDeniedError`, `ApprovalTimeoutError`, `ArdenUnavailableError`)
   * instead of telling the model that the call did not run. Default false.
   */
  throwOnDenial?: boolean;
  /** The text the model receives when a call did not run. Default: `defaultDenialMessage`. */
  denialMessage?: (denial: ToolDenial) => string;
  /** Extra metadata sent with every check. */
  metadata?: Record<string, unknown>;
  /** The Arden instance to use. Default: the one `configure()` made, looked up at call time. */
  arden?: Arden | (() => Arden);
}

/** The approval-mode options of adapters that run held calls later (async and webhook modes). */
export interface AdapterApprovalOptions {
  /**
   * How a call held for approval is handled: `'wait'` (default) holds the tool until decided;
   * `'async'` and `'webhook'` return at once, telling the model the call awaits approval, and
   * run the tool when it is approved (see `onApproval`/`onDenial`).
   */
  approvalMode?: ApprovalMode;
  /** Approval modes per framework tool name (overrides `approvalMode`). */
  approvalModes?: Record<string, ApprovalMode>;
  /** Async and webhook modes: called with the tool's result when a held call was approved and ran. */
  onApproval?: (result: unknown, event: unknown) => unknown;
  /** Async and webhook modes: called when a held call was denied, expired, or failed. */
  onDenial?: (error: unknown, event: unknown) => unknown;
}

/** Adapter options with the `arden` option turned into a function called at call time. */
export type ResolvedAdapterOptions<T> = T & { resolveArden: () => Arden };

// Own string values only: a tool named `constructor` or `toString` must not find Object's.
function ownValue<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * The naming rule, the same in every adapter: the name a policy's `tool` must match is the
 * tool's entry in `toolNames` (or the adapter's per-tool `ardenName`), exactly as written, else
 * `toolNamePrefix` followed by the tool's own name. The prefix never applies to a name given
 * explicitly. A check that no policy matches while a policy exists for a name that differs only
 * by a prefix logs a warning (once per tool).
 */
export function ardenToolName(naming: ToolNaming, toolName: string): string {
  return ownValue(naming.toolNames, toolName) ?? `${naming.toolNamePrefix ?? ''}${toolName}`;
}

/** The approval mode of one tool: its entry in `approvalModes`, else `approvalMode`, else `'wait'`. */
export function approvalModeOf(options: AdapterApprovalOptions, toolName: string): ApprovalMode {
  return ownValue(options.approvalModes, toolName) ?? options.approvalMode ?? 'wait';
}

/**
 * Turns an adapter's `arden` option into a function that finds the instance when a call is
 * made: the instance itself, the function given, or `fallback` (the default instance of
 * `configure()`), so that tools may be wrapped before `configure()` runs.
 */
export function ardenResolver(
  arden: Arden | (() => Arden) | undefined,
  fallback: () => Arden = getArden,
): () => Arden {
  if (arden === undefined) return fallback;
  return typeof arden === 'function' ? arden : () => arden;
}

/** The options with `resolveArden`, the function that finds the Arden instance at call time. */
export function resolveAdapterOptions<T extends { arden?: Arden | (() => Arden) | undefined }>(
  options: T,
  fallback: () => Arden = getArden,
): ResolvedAdapterOptions<T> {
  return { ...options, resolveArden: ardenResolver(options.arden, fallback) };
}

/**
 * Turns core's "did not run" errors (`PolicyDeniedError`, `ApprovalTimeoutError`,
 * `ArdenUnavailableError`) into a `ToolDenial` for `toolName`; anything else — the tool's own
 * error, a misconfiguration — gives `undefined`, to be rethrown.
 */
export function denialOf(error: unknown, toolName: string): ToolDenial | undefined {
  if (PolicyDeniedError.isInstance(error)) {
    return { toolName, actionId: error.actionId, reason: error.reason, notes: error.notes, error };
  }
  if (ApprovalTimeoutError.isInstance(error)) {
    return { toolName, actionId: error.actionId, reason: 'timeout', notes: undefined, error };
  }
  if (ArdenUnavailableError.isInstance(error)) {
    return { toolName, actionId: undefined, reason: 'unavailable', notes: undefined, error };
  }
  return undefined;
}

/** The text the model receives when a call did not run (unless `denialMessage` is given). */
export function defaultDenialMessage(denial: ToolDenial): string {
  // Policy messages and approver notes are often whole sentences: no doubled full stop.
  const trimmed = denial.notes?.trim().replace(/\.+$/, '');
  const notes = trimmed ? `: ${trimmed}` : '';
  switch (denial.reason) {
    case 'blocked':
      return `Arden blocked this call to "${denial.toolName}" by policy${notes}. The tool did not run.`;
    case 'denied':
      return `An approver denied this call to "${denial.toolName}"${notes}. The tool did not run.`;
    case 'timeout':
      return `This call to "${denial.toolName}" was held for approval and nobody decided in time, so the tool did not run.`;
    case 'unavailable': {
      // A check too large for the server (413) is refused, not unreachable: pass on its answer,
      // which says how large a check may be and how to raise the limit.
      const cause = (denial.error as { cause?: unknown }).cause;
      if (ArdenApiError.isInstance(cause) && cause.statusCode === 413) {
        return `Arden did not check this call to "${denial.toolName}", so the tool did not run. ${cause.message}`;
      }
      return `Arden could not be reached to check this call to "${denial.toolName}", so the tool did not run.`;
    }
  }
}

/** The text the model receives for a denial: the adapter's `denialMessage`, else the default. */
export function denialText(
  options: Pick<AdapterOptions, 'denialMessage'>,
  denial: ToolDenial,
): string {
  return (options.denialMessage ?? defaultDenialMessage)(denial);
}

/** Whether a value is core's `PendingApproval` (what async and webhook modes return for a held call). */
export function isPendingApproval(value: unknown): value is PendingApproval {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as PendingApproval).status === 'pending' &&
    typeof (value as PendingApproval).actionId === 'string' &&
    Object.isFrozen(value)
  );
}

/** The text the model receives while a call awaits approval in async or webhook mode. */
export function pendingApprovalMessage(
  pending: Pick<PendingApproval, 'actionId' | 'toolName'>,
): string {
  return `This call to "${pending.toolName}" is waiting for a human approval (Arden action ${pending.actionId}). It will run once approved; do not call it again.`;
}

/**
 * A token count as a provider reports it: the first of `values` that is a finite number ≥ 0,
 * rounded; `undefined` when none is (providers name the same count differently, for example
 * `prompt_tokens`, `input_tokens` or `inputTokens`).
 */
export function tokenCount(...values: unknown[]): number | undefined {
  for (const value of values) {
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
  }
  return undefined;
}

/**
 * The value kept on `globalThis` under `key` (a `Symbol.for` key), made by `create` on first use.
 * An adapter keeps its switches and tables there, so that its ESM and CJS builds (both loaded
 * when an app mixes module formats) share one of each.
 */
export function sharedState<T extends object>(key: symbol, create: () => T): T {
  const global = globalThis as Record<symbol, T | undefined>;
  let existing = global[key];
  if (!existing) {
    existing = create();
    global[key] = existing;
  }
  return existing;
}

/**
 * Replaces the method `target[key]` with `make(original)` and returns a function that puts the
 * original back (unless something replaced the patch meanwhile). Does nothing, and returns a
 * function that does nothing, when `target[key]` is not a function.
 */
export function patchMethod(
  target: any,
  key: string,
  make: (original: (...args: any[]) => any) => (...args: any[]) => any,
): () => void {
  const original = target[key] as (...args: any[]) => any;
  if (typeof original !== 'function') return () => {};
  const patched = make(original);
  target[key] = patched;
  return () => {
    if (target[key] === patched) target[key] = original;
  };
}

/** A decision taken on a held call, as `decisionOf` reads it. */
export interface HeldDecision {
  status: 'approved' | 'denied';
  /** The approver's notes or the server's explanation (for example, that the approval expired). */
  notes: string | undefined;
  /** Approved with edit: the arguments to run instead of the call's own (and to tell the model). */
  edited?: EditedCall;
}

/**
 * The decision on a held action, read once without waiting: `undefined` while it is pending or
 * when Arden cannot be reached, so that the caller keeps what it knew (the app's own approval,
 * or the hold). For adapters that resume held calls through their framework's own approvals.
 */
export async function decisionOf(
  arden: Arden,
  actionId: string,
): Promise<HeldDecision | undefined> {
  try {
    const answer = await arden.status(actionId);
    // Only the two decisions count; anything else (pending, or a status this version does not
    // know) reads as undecided.
    if (answer.status !== 'approved' && answer.status !== 'denied') return undefined;
    const { edited } = decidedCall(answer);
    return {
      status: answer.status,
      notes: answer.message ?? undefined,
      ...(edited ? { edited } : {}),
    };
  } catch {
    return undefined;
  }
}
