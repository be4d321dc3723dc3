import {
  type ApprovalMode,
  type Arden,
  approvalModeOf,
  ardenToolName,
  type EditedCall,
  PolicyDeniedError,
} from '@arden/core';
import type { GuardToolsOptions, ResolvedOptions } from './options';
import { isRefusedCheck, refusedCheckError } from './refusal';
import { type ActionLink, findLink, forgetLink } from './state';

/** On a tool: `guardTools` made it, so the automatic route leaves its calls to it. */
export const guardedKey = Symbol.for('arden.ai-sdk.guarded');

/** @internal The framework name sent with every check. */
export const framework = 'ai-sdk';

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

/** Runs a call Arden already decided on (in `ardenToolApproval` or the telemetry hook). */
async function runLinked(
  arden: Arden,
  link: ActionLink,
  run: (input: unknown) => Promise<unknown>,
  input: unknown,
  onEdited: ((edited: EditedCall) => void) | undefined,
): Promise<unknown> {
  forgetLink(link.toolCallId);
  if (link.passThrough) return run(input);
  const toolName = link.ardenToolName;
  if (link.decision === 'allow') return arden.runAndReport(link.actionId, run, undefined, [input]);
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
  let runWith = input;
  if (status === 'approved' && link.edited) {
    // Approved with edit in Arden before the app's approval: the approver's arguments run.
    runWith = link.edited.kwargs;
    onEdited?.(link.edited);
  }
  if (status === undefined) {
    // Held, and not yet approved through the SDK: Arden decides.
    const decision = await arden.waitForDecision(link.actionId, toolName);
    status = decision.status;
    notes = decision.message;
    // Approved with edit: the tool runs with the approver's arguments.
    if (decision.edited) {
      runWith = decision.edited.kwargs;
      onEdited?.(decision.edited);
    }
  }
  if (status === 'denied') {
    throw new PolicyDeniedError({ toolName, actionId: link.actionId, reason: 'denied', notes });
  }
  if (!link.claimed) {
    // An approval resumed from the SDK's messages runs one call once: claim its run first.
    try {
      await arden.claimRun(link.actionId);
    } catch (error) {
      throw new PolicyDeniedError({
        toolName,
        actionId: link.actionId,
        reason: 'denied',
        message: `Tool "${toolName}" did not run: Arden could not record its single run (${error instanceof Error ? error.message : String(error)}); an approval runs one call once.`,
        cause: error,
      });
    }
  }
  return arden.runAndReport(link.actionId, run, undefined, [runWith]);
}

/** @internal One call to check and run. */
export interface CheckedCall {
  /** The tool's name in the tool set. */
  toolName: string;
  input: unknown;
  toolCallId: string | undefined;
  /** Runs the tool with this input: the call's, or the one an approver edited. */
  run: (input: unknown) => Promise<unknown>;
  options: ResolvedOptions;
  /** Called before the tool runs with arguments an approver edited, to tell the model. */
  onEdited?: (edited: EditedCall) => void;
}

/**
 * @internal Checks one call with Arden (or uses the decision already taken for it) and runs it.
 * Throws core's errors when it did not run; resolves with a `PendingApproval` in async and
 * webhook modes.
 */
export async function checkAndRun(call: CheckedCall): Promise<unknown> {
  const { options, toolName, toolCallId } = call;
  const arden = options.resolveArden();
  let started = false;
  const run = (input: unknown) => {
    started = true;
    return call.run(input);
  };
  try {
    const link = findLink(toolCallId, call.input);
    if (link) return await runLinked(arden, link, run, call.input, call.onEdited);
    const mode: ApprovalMode = approvalModeOf(options, toolName);
    return await arden.runGuarded(ardenToolName(options, toolName), run, undefined, [call.input], {
      approvalMode: mode,
      metadata: metadataOf(options, toolName, toolCallId),
      ...(options.onApproval ? { onApproval: options.onApproval } : {}),
      ...(options.onDenial ? { onDenial: options.onDenial } : {}),
      ...(call.onEdited ? { onEdited: call.onEdited } : {}),
    });
  } catch (error) {
    // Arden refusing the check (a revoked key) denies the call, as a policy would; an error
    // of the tool itself (it started) passes through as it is.
    if (!started && isRefusedCheck(error)) {
      throw refusedCheckError(arden, ardenToolName(options, toolName), error);
    }
    throw error;
  }
}
