import {
  type Arden,
  ArdenApiError,
  assertDecisionCoversCall,
  blockedError,
  buildCallContext,
  type CheckResult,
  type DecidedCall,
  decidedCall,
  decisionOf,
  denialOf,
  denialText,
  type EditedCall,
  exactCall,
  heldRunRefused,
  PolicyDeniedError,
  type ResumedCall,
  runsUnchecked,
  unconfirmedHeldRun,
  withEditedCallNote,
} from '@arden/core';
import type { FunctionTool, RunContext } from '@openai/agents';
import {
  type ActionLink,
  ardenToolName,
  findLink,
  forgetLink,
  type ResolvedProtectOptions,
  rememberLink,
} from './state';

type Invoke = FunctionTool['invoke'];
type NeedsApproval = FunctionTool['needsApproval'];
type ToolCallDetails = Parameters<Invoke>[2];

/** The functions a guarded tool wraps, kept on the tool so a second wrapper wraps these, not ours. */
export interface ToolOriginals {
  invoke: Invoke;
  needsApproval: NeedsApproval;
}

/** On a tool: the SDK's own functions that Arden wrapped. */
export const originalsKey = Symbol.for('arden.openai-agents.originals');
/** On a tool: `true` when `protectFunctionTools` made it (automatic patching leaves it alone). */
export const explicitKey = Symbol.for('arden.openai-agents.explicit');
/** On a function: Arden made it. */
export const guardedMarker = Symbol.for('arden.openai-agents.guarded');

const framework = 'openai-agents';

/** @internal Whether Arden already wraps this tool. */
export function isGuarded(tool: FunctionTool): boolean {
  const record = tool as unknown as Record<symbol, unknown>;
  return (
    record[originalsKey] !== undefined ||
    (tool.invoke as unknown as Record<symbol, unknown>)[guardedMarker] === true
  );
}

/** @internal The SDK functions under Arden's wrappers. */
export function originalsOf(tool: FunctionTool): ToolOriginals {
  const existing = (tool as unknown as Record<symbol, ToolOriginals | undefined>)[originalsKey];
  return existing ?? { invoke: tool.invoke, needsApproval: tool.needsApproval };
}

/** @internal Marks a function as made by Arden. */
export function markGuarded<F extends object>(fn: F): F {
  Object.defineProperty(fn, guardedMarker, { value: true });
  return fn;
}

/** @internal Parses the model's JSON arguments into what the policy engine sees. */
export function parseToolInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

function metadataOf(
  options: ResolvedProtectOptions,
  toolName: string,
  callId: string | undefined,
): Record<string, unknown> {
  return {
    ...options.metadata,
    framework,
    tool: toolName,
    ...(callId === undefined ? {} : { call_id: callId }),
  };
}

/**
 * Asks Arden about one call, in `wait` mode: allowed calls run, blocked ones throw
 * `PolicyDeniedError`, held ones wait for the decision. `approvedByApp` marks a call the app
 * already approved through the SDK (it runs when held, unless an approver denied it).
 */
async function checkAndRun(
  arden: Arden,
  ardenName: string,
  parsed: unknown,
  metadata: Record<string, unknown>,
  run: (edited?: EditedCall) => Promise<unknown>,
  approvedByApp: boolean,
  appUser?: string,
): Promise<unknown> {
  let result: CheckResult;
  try {
    result = await arden.check(ardenName, buildCallContext([parsed]), metadata);
  } catch (error) {
    if (runsUnchecked(arden, error)) {
      arden.options.logger.warn(
        `Arden is unreachable; running "${ardenName}" unchecked because onUnavailable is 'allow'.`,
      );
      return run();
    }
    throw error;
  }
  if (result.decision === 'allow') return arden.runAndReport(result.actionId, () => run());
  if (result.decision === 'block') throw blockedError(ardenName, result);
  if (approvedByApp) {
    // Held by this very check, of this input: the app's approval in the run is for it.
    return runLinkedHold(
      arden,
      { actionId: result.actionId, ardenToolName: ardenName, inputKey: inputKeyOf(parsed) },
      parsed,
      run,
      appUser,
    );
  }
  const decision = await arden.waitForDecision(result.actionId, ardenName);
  if (decision.status === 'approved') {
    // Approved with edit: the tool's invoke gets the approver's input.
    return arden.runAndReport(result.actionId, run, undefined, [decision.edited]);
  }
  throw new PolicyDeniedError({
    toolName: ardenName,
    actionId: result.actionId,
    reason: 'denied',
    notes: decision.message,
  });
}

/** @internal A call's exact input, as a check sends its arguments: what a link is keyed by. */
export function inputKeyOf(input: unknown): string {
  const call = exactCall('', '', [input]);
  return `${call.argsJson}\n${call.kwargsJson}`;
}

/** The call a held decision is applied to: its action, its Arden name, its checked input. */
type HeldCall = Pick<ActionLink, 'actionId' | 'ardenToolName' | 'inputKey'>;

/** The held call as core's resume helpers name it. */
function resumed(held: HeldCall): ResumedCall {
  return { actionId: held.actionId, toolName: held.ardenToolName };
}

/** Arden would not let a held call run: it does not, and the model is told why. */
function refusedRun(held: HeldCall, why: string): PolicyDeniedError {
  return heldRunRefused(resumed(held), why);
}

/** Arden could not confirm the held call: refused, or `'unchecked'` (see `unconfirmedHeldRun`). */
function unconfirmed(arden: Arden, held: HeldCall, error: unknown, what: string): 'unchecked' {
  return unconfirmedHeldRun(arden, resumed(held), error, what);
}

/**
 * That Arden's decision on a held call is for exactly this input: its signed receipt binds the
 * tool and the argument bytes (core's check of guarded calls). Without a receipt (a server that
 * signs none), only a call this process checked itself, with this input, is known to be it.
 */
async function assertHeldCall(held: HeldCall, input: unknown, decided: DecidedCall): Promise<void> {
  if (decided.receipt === undefined) {
    if (held.inputKey !== undefined && held.inputKey === inputKeyOf(input)) return;
    throw refusedRun(
      held,
      'Arden sent no receipt to prove that the approval is for this call (receipts are off on the server), and this process did not check it.',
    );
  }
  try {
    await assertDecisionCoversCall(
      exactCall(held.ardenToolName, held.actionId, [input]),
      decided.receipt,
      decided.edited,
    );
  } catch (error) {
    throw refusedRun(
      held,
      `the approval is for another call (${error instanceof Error ? error.message : String(error)}); an approval runs only the exact call it was given for.`,
    );
  }
}

/**
 * Runs a held call that the SDK approved (through `resolveInterruptions` or the app's own
 * `state.approve`). Arden is asked what it holds under the action, whatever the run's state
 * says: an approver's denial wins; the app's approval of a call Arden still holds is recorded as
 * an in-app decision (or, when the policy wants Arden's approvers, waited for); the decision's
 * receipt must bind exactly this input; and the action's single run is claimed, so that a
 * replayed or edited saved state never runs a call twice or runs another call. When Arden cannot
 * confirm it, the call does not run (unless `onUnavailable: 'allow'`).
 */
async function runLinkedHold(
  arden: Arden,
  held: HeldCall,
  input: unknown,
  run: (edited?: EditedCall) => Promise<unknown>,
  appUser?: string,
  appMayApprove = true,
): Promise<unknown> {
  const { actionId, ardenToolName: ardenName } = held;
  let decided: DecidedCall | undefined;
  try {
    const answer = await arden.status(actionId);
    if (answer.status === 'approved' || answer.status === 'denied') decided = decidedCall(answer);
  } catch (error) {
    if (unconfirmed(arden, held, error, 'read the held call') === 'unchecked') return run();
  }
  if (decided === undefined) {
    // Pending: the app's user approved it (state.approve) — unless that approval was for
    // another input, when only Arden's approvers decide.
    const recorded = appMayApprove ? await recordAppApproval(arden, held, appUser) : 'wait';
    if (recorded === 'unchecked') return run();
    try {
      if (recorded === 'wait') decided = await arden.waitForDecision(actionId, ardenName);
      else decided = decidedCall(await arden.status(actionId));
    } catch (error) {
      if (error instanceof PolicyDeniedError) throw error;
      if (unconfirmed(arden, held, error, 'read the decision') === 'unchecked') return run();
    }
  }
  if (!decided || decided.status === 'denied') {
    throw new PolicyDeniedError({
      toolName: ardenName,
      actionId,
      reason: 'denied',
      notes: decided?.message,
    });
  }
  await assertHeldCall(held, input, decided);
  try {
    await arden.claimRun(actionId);
  } catch (error) {
    if (ArdenApiError.isInstance(error) && error.statusCode === 409) {
      throw refusedRun(
        held,
        'this approval was already used for a run (an approval runs one call once).',
      );
    }
    if (unconfirmed(arden, held, error, 'record the run of the approved call') === 'unchecked') {
      return run();
    }
  }
  return arden.runAndReport(actionId, run, undefined, [decided.edited]);
}

/**
 * Records the app's approval of a held call; what the tool should do next. Arden out of reach or
 * an error: the call does not run (unless `onUnavailable: 'allow'`).
 */
async function recordAppApproval(
  arden: Arden,
  held: HeldCall,
  appUser: string | undefined,
): Promise<'approved' | 'denied' | 'wait' | 'unchecked'> {
  try {
    const decided = await arden.reportInAppDecision(held.actionId, {
      decision: 'approve',
      user: appUser ?? 'app user',
    });
    return decided.status === 'pending' ? 'wait' : decided.status;
  } catch (error) {
    if (ArdenApiError.isInstance(error) && (error.statusCode === 403 || error.statusCode === 409)) {
      if (error.statusCode === 403) {
        arden.options.logger.warn(
          `The policy of "${held.ardenToolName}" does not allow in-app decisions (approve_in); the call waits for an approver in Arden.`,
          { actionId: held.actionId },
        );
      }
      return 'wait';
    }
    return unconfirmed(arden, held, error, "record the app's approval");
  }
}

/** @internal Decides what the model receives when a call did not run. */
function deny(options: ResolvedProtectOptions, error: unknown, ardenName: string): string {
  const denial = denialOf(error, ardenName);
  if (!denial || options.throwOnDenial) throw error;
  return denialText(options, denial);
}

/** @internal Where a call comes from: what Arden's decision on it is linked and recorded with. */
export interface CallSite {
  /** The SDK tool's name (the key of links and of the SDK's own approvals). */
  toolName: string;
  /** The name Arden checks. */
  ardenName: string;
  callId: string | undefined;
  runContext: RunContext | undefined;
  /** The call's input as the policy engine sees it. */
  input: unknown;
  /** Extra metadata of the check (besides the options' and the framework's). */
  metadata?: Record<string, unknown>;
}

/**
 * @internal Applies Arden to one call: a linked decision (the native route) when there is one for
 * this very name, else a check. Runs the call when allowed or approved (with the approver's edit,
 * if any) and reports its outcome; throws `PolicyDeniedError` (or Arden's error) when it must not
 * run. A link made for another Arden name is not applied (the call is checked afresh): an approval
 * of `mcp.github.delete_file` never runs a `delete_file` that now goes to another server.
 */
export async function applyArden(
  options: ResolvedProtectOptions,
  site: CallSite,
  run: (edited?: EditedCall) => Promise<unknown>,
): Promise<unknown> {
  const arden = options.resolveArden();
  const { ardenName, callId, toolName } = site;
  const found = findLink(callId, toolName);
  // A link is for the call it was made for: its Arden name and, when this process checked it, its
  // input. Any other call (say, a saved state whose input was edited) is checked afresh, and the
  // app's approval in the run does not count for it.
  const link =
    found &&
    found.ardenToolName === ardenName &&
    (found.inputKey === undefined || found.inputKey === inputKeyOf(site.input))
      ? found
      : undefined;
  if (found && !link) forgetLink(found.callId);
  if (link) {
    forgetLink(link.callId);
    if (link.decision === 'allow') return arden.runAndReport(link.actionId, () => run());
    if (link.decision === 'block') {
      throw new PolicyDeniedError({
        toolName: ardenName,
        actionId: link.actionId,
        reason: 'blocked',
        notes: link.notes,
      });
    }
    return runLinkedHold(arden, link, site.input, run, options.appUser, !link.appApprovalVoid);
  }
  const approvedByApp =
    options.approval === 'native' && callId !== undefined && !found && site.runContext
      ? isApprovedInRun(site.runContext, toolName, callId)
      : false;
  return checkAndRun(
    arden,
    ardenName,
    site.input,
    { ...metadataOf(options, toolName, callId), ...site.metadata },
    run,
    approvedByApp,
    options.appUser,
  );
}

/** @internal What the model receives for a call that did not run (or the error, rethrown). */
export function denialFor(
  options: ResolvedProtectOptions,
  error: unknown,
  ardenName: string,
): string {
  return deny(options, error, ardenName);
}

/**
 * @internal Wraps a tool's `invoke` so that every call is checked by Arden. `settings` is read at
 * call time; `undefined` means "not enforcing" (the automatic patch after `uninstall`).
 */
export function guardInvoke(
  original: Invoke,
  toolName: string,
  settings: () => ResolvedProtectOptions | undefined,
): Invoke {
  const invoke = async function (
    this: unknown,
    runContext: RunContext,
    input: string,
    details?: ToolCallDetails,
  ) {
    const options = settings();
    if (!options) return original.call(this, runContext, input, details);
    const ardenName = ardenToolName(options, toolName);
    // `edited`: the input an approver changed the call to before approving (approve with edit);
    // the tool runs with it, and its output tells the model what changed (core's note).
    const run = async (edited?: EditedCall) => {
      if (!edited) return original.call(this, runContext, input, details);
      const output = await original.call(this, runContext, edited.kwargsJson, details);
      return withEditedCallNote(output, edited);
    };
    try {
      return await applyArden(
        options,
        {
          toolName,
          ardenName,
          callId: details?.toolCall?.callId,
          runContext,
          input: parseToolInput(input),
        },
        run,
      );
    } catch (error) {
      return deny(options, error, ardenName);
    }
  };
  return markGuarded(invoke as Invoke);
}

function isApprovedInRun(runContext: RunContext, toolName: string, callId: string): boolean {
  try {
    return runContext.isToolApproved({ toolName, callId }) === true;
  } catch {
    return false;
  }
}

/**
 * @internal How a tool's `needsApproval` names the call in Arden, when it is not by the options'
 * rule (MCP tools); `undefined`: the name is known only at the call, which is checked then.
 */
export type NeedsApprovalNaming = () =>
  | { ardenName: string; metadata?: Record<string, unknown> }
  | undefined;

/**
 * @internal Wraps a tool's `needsApproval` for the native route: Arden's `requires_approval`
 * becomes an SDK interruption, linked to the Arden action by the call id. Allowed and blocked
 * calls need no SDK approval; the guarded `invoke` applies their decision without a second check.
 */
export function guardNeedsApproval(
  original: NeedsApproval,
  toolName: string,
  settings: () => ResolvedProtectOptions | undefined,
  naming?: NeedsApprovalNaming,
): NeedsApproval {
  const needsApproval = async function (
    this: unknown,
    runContext: RunContext,
    input: unknown,
    callId?: string,
  ): Promise<boolean> {
    const options = settings();
    const ownAnswer = () => original.call(this, runContext, input as never, callId);
    if (options?.approval !== 'native' || callId === undefined) return ownAnswer();
    const named = naming ? naming() : { ardenName: ardenToolName(options, toolName) };
    // A tool whose Arden name is known only when it is called: its call is checked then.
    if (!named) return ownAnswer();
    const { ardenName } = named;
    const arden = options.resolveArden();
    const existing = findLink(callId, toolName);
    const inputChanged =
      existing?.inputKey !== undefined && existing.inputKey !== inputKeyOf(input);
    if (existing && existing.ardenToolName === ardenName && !inputChanged) {
      return answerFor(arden, existing, ownAnswer);
    }
    let result: CheckResult;
    try {
      result = await arden.check(ardenName, buildCallContext([input]), {
        ...metadataOf(options, toolName, callId),
        ...named.metadata,
      });
    } catch {
      // Not linked: the guarded invoke checks again and, if Arden is still unreachable, tells
      // the model the call did not run (or runs it, with onUnavailable 'allow').
      return ownAnswer();
    }
    const link: ActionLink = {
      callId,
      toolName,
      ardenToolName: ardenName,
      actionId: result.actionId,
      decision: result.decision,
      notes: result.decision === 'block' ? (result.message ?? result.reason) : undefined,
      status: undefined,
      inputKey: inputKeyOf(input),
      ...(inputChanged || existing?.appApprovalVoid ? { appApprovalVoid: true } : {}),
    };
    rememberLink(link);
    return answerFor(arden, link, ownAnswer);
  };
  return markGuarded(needsApproval as NeedsApproval);
}

async function answerFor(
  arden: Arden,
  link: ActionLink,
  ownAnswer: () => Promise<boolean>,
): Promise<boolean> {
  if (link.decision === 'block') return false;
  if (link.decision === 'allow') return ownAnswer();
  if (link.status === undefined) {
    // Resuming a held call: if an approver decided in Arden meanwhile, no SDK approval is needed
    // (pending, or Arden unreachable: the call stays held).
    const decided = await decisionOf(arden, link.actionId);
    if (decided) {
      link.status = decided.status;
      link.notes = decided.notes;
      if (decided.edited) link.edited = decided.edited;
    }
  }
  if (link.status === 'denied') return false;
  if (link.status === 'approved') return ownAnswer();
  return true;
}
