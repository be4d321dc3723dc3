import {
  type ApprovalMode,
  ApprovalTimeoutError,
  type Arden,
  ArdenUnavailableError,
  type PendingApproval,
  PolicyDeniedError,
  toJsonSafe,
} from '@arden/core';
import {
  ardenToolName,
  defaultDenialMessage,
  type GuardToolsOptions,
  type ResolvedOptions,
  type ToolDenial,
} from './options';
import { type ActionLink, findLink, forgetLink } from './state';

/** On a tool: `guardTools` made it, so the automatic route leaves its calls to it. */
export const guardedKey = Symbol.for('arden.ai-sdk.guarded');

/** @internal The framework name sent with every check. */
export const framework = 'ai-sdk';

/** @internal Turns core's "did not run" errors into a denial; anything else is undefined. */
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

/** @internal The text the model reads for a denial. */
export function denialText(options: GuardToolsOptions, denial: ToolDenial): string {
  return (options.denialMessage ?? defaultDenialMessage)(denial);
}

/** @internal Metadata sent with a check. */
export function metadataOf(
  options: GuardToolsOptions,
  toolName: string,
  toolCallId: string | undefined,
): Record<string, unknown> {
  return {
    ...options.metadata,
    framework,
    tool: toolName,
    ...(toolCallId === undefined ? {} : { tool_call_id: toolCallId }),
  };
}

/** Runs the tool body and reports its outcome to Arden without delaying the caller. */
async function runAndReport(
  arden: Arden,
  actionId: string,
  run: () => Promise<unknown>,
): Promise<unknown> {
  const started = performance.now();
  const duration = () => Math.round((performance.now() - started) * 1000) / 1000;
  try {
    const value = await run();
    arden.reportResult(actionId, {
      status: 'succeeded',
      duration_ms: duration(),
      ...(arden.options.reportReturnValue ? { result: toJsonSafe(value) } : {}),
    });
    return value;
  } catch (error) {
    arden.reportResult(actionId, {
      status: 'failed',
      duration_ms: duration(),
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    throw error;
  }
}

/** Runs a call Arden already decided on (in `ardenToolApproval` or the telemetry hook). */
async function runLinked(
  arden: Arden,
  link: ActionLink,
  run: () => Promise<unknown>,
): Promise<unknown> {
  forgetLink(link.toolCallId);
  if (link.passThrough) return run();
  const toolName = link.ardenToolName;
  if (link.decision === 'allow') return runAndReport(arden, link.actionId, run);
  if (link.decision === 'block') {
    throw new PolicyDeniedError({
      toolName,
      actionId: link.actionId,
      reason: 'blocked',
      notes: link.notes,
    });
  }
  let status = link.status;
  let notes = link.notes;
  if (status === undefined) {
    // Held, and not yet approved through the SDK: Arden decides.
    const decision = await arden.waitForDecision(link.actionId, toolName);
    status = decision.status;
    notes = decision.message;
  }
  if (status === 'denied') {
    throw new PolicyDeniedError({ toolName, actionId: link.actionId, reason: 'denied', notes });
  }
  return runAndReport(arden, link.actionId, run);
}

/** @internal One call to check and run. */
export interface CheckedCall {
  /** The tool's name in the tool set. */
  toolName: string;
  input: unknown;
  toolCallId: string | undefined;
  run: () => Promise<unknown>;
  options: ResolvedOptions;
}

/**
 * @internal Checks one call with Arden (or uses the decision already taken for it) and runs it.
 * Throws core's errors when it did not run; resolves with a `PendingApproval` in async and
 * webhook modes.
 */
export async function checkAndRun(call: CheckedCall): Promise<unknown> {
  const { options, toolName, toolCallId } = call;
  const arden = options.resolveArden();
  const link = findLink(toolCallId, call.input);
  if (link) return runLinked(arden, link, call.run);
  const mode: ApprovalMode = options.approvalModes?.[toolName] ?? options.approvalMode ?? 'wait';
  return arden.runGuarded(
    ardenToolName(options, toolName),
    () => call.run(),
    undefined,
    [call.input],
    {
      approvalMode: mode,
      metadata: metadataOf(options, toolName, toolCallId),
      ...(options.onApproval ? { onApproval: options.onApproval } : {}),
      ...(options.onDenial ? { onDenial: options.onDenial } : {}),
    },
  );
}

/** @internal Whether a value is core's `PendingApproval` (async and webhook modes). */
export function isPendingApproval(value: unknown): value is PendingApproval {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as PendingApproval).status === 'pending' &&
    typeof (value as PendingApproval).actionId === 'string' &&
    Object.isFrozen(value)
  );
}

/** @internal The text the model reads while a call awaits approval in async or webhook mode. */
export function pendingText(pending: PendingApproval): string {
  return `This call to "${pending.toolName}" is waiting for a human approval (Arden action ${pending.actionId}). It will run once approved; do not call it again.`;
}
