import {
  type Arden,
  ArdenApiError,
  ArdenUnavailableError,
  ardenToolName,
  assertDecisionCoversCall,
  blockedError,
  buildCallContext,
  type CheckResult,
  type DecidedCall,
  decidedCall,
  denialOf,
  denialText,
  type EditedCall,
  exactCall,
  heldRunRefused,
  PolicyDeniedError,
  type ResumedCall,
  resolveAdapterOptions,
  runsUnchecked,
  type StatusResponseBody,
  unconfirmedHeldRun,
} from '@arden/core';
import { ToolMessage } from '@langchain/core/messages';
import type { AgentMiddleware } from 'langchain';
import {
  editedToolInput,
  isGuarded,
  markGuarded,
  policyInput,
  runGuardedCall,
  sessionOf,
  type ToolMessageConstructor,
  withEditNote,
} from './guard';
import { isLangchainMcpTool, mcpCheckOptions } from './mcp-origin';
import type { ProtectToolsOptions, ResolvedOptions } from './options';

// createMiddleware() of `langchain` 1.x returns a plain object branded with this registered
// symbol; building the same object here keeps `langchain` an optional peer.
const middlewareBrand = Symbol.for('AgentMiddleware');

interface ToolCallRequestLike {
  toolCall: { name: string; args?: unknown; id?: string };
  tool?: object | undefined;
  runtime?: { configurable?: Record<string, unknown> };
}

type Handler = (request: ToolCallRequestLike) => Promise<unknown>;

/** Options of `ardenMiddleware()`. */
export interface ArdenMiddlewareOptions extends ProtectToolsOptions {
  /** The middleware's name in the agent. Default `'ArdenMiddleware'`. */
  name?: string;
  /**
   * What a call a policy holds for approval does: `'wait'` (default) holds the tool until an
   * approver decides in Arden; `'interrupt'` pauses the graph with a LangGraph `interrupt()` (the
   * agent needs a checkpointer), so the run returns `__interrupt__` items that Arden's decision
   * (`resolveArdenInterrupts`) or your own answer (`Command({ resume })`) resumes.
   */
  approval?: 'wait' | 'interrupt';
  /**
   * The end user who answers Arden interrupts in your app (`Command({ resume })`), recorded in
   * Arden as an in-app decision when the policy allows it (`approve_in: [dashboard, app]`); a
   * resume value's `user` overrides it. Default `"app user"`.
   */
  appUser?: string;
}

/** The value of an Arden interrupt (`result.__interrupt__[i].value`). */
export interface ArdenInterrupt {
  type: 'arden_approval';
  /** The Arden action held for approval. */
  actionId: string;
  /** The tool's name as Arden knows it. */
  toolName: string;
  toolCallId: string | undefined;
  /** The call's arguments. */
  args: unknown;
  /** Why it is held (the policy's message). */
  message: string | undefined;
}

/**
 * The answer that resumes an Arden interrupt: `new Command({ resume: { [interrupt.id]: answer } })`
 * (or `resume: answer` when it is the only pending interrupt).
 */
export interface ArdenResume {
  approved: boolean;
  /** Shown to the model when denied. */
  notes?: string;
  /** The Arden action (from the interrupt); lets another process resume it. */
  actionId?: string;
  /** The end user who decided in the app (recorded in Arden as an in-app decision). */
  user?: string;
}

function isArdenResume(value: unknown): value is ArdenResume {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ArdenResume).approved === 'boolean'
  );
}

interface Scratchpad {
  interruptCounter?: number;
  resume?: unknown[];
  nullResume?: unknown;
}

function scratchpadOf(configurable: Record<string, unknown> | undefined): Scratchpad | undefined {
  return configurable?.__pregel_scratchpad as Scratchpad | undefined;
}

/**
 * The resume value LangGraph holds for this task's next `interrupt()`, read without consuming
 * it, so that a re-executed tool call is not checked a second time. (LangGraph re-runs an
 * interrupted task from its start on resume; the first `interrupt()` of the task is Arden's.)
 */
function nextResume(scratchpad: Scratchpad | undefined): unknown {
  if (!scratchpad) return undefined;
  const index = (scratchpad.interruptCounter ?? -1) + 1;
  const resume = Array.isArray(scratchpad.resume) ? scratchpad.resume : [];
  if (index < resume.length) return resume[index];
  return index === resume.length ? scratchpad.nullResume : undefined;
}

async function loadInterrupt(): Promise<(value: unknown) => unknown> {
  try {
    return (await import('@langchain/langgraph')).interrupt as (value: unknown) => unknown;
  } catch (cause) {
    throw new Error(
      "ardenMiddleware({ approval: 'interrupt' }) needs @langchain/langgraph (a dependency of langchain). Install it.",
      { cause },
    );
  }
}

/** A held call this process paused: its action, its exact input, and its interrupt's index. */
interface PausedCall {
  actionId: string;
  inputKey: string | undefined;
  /** Which `interrupt()` of the task paused it (0, or 1 when a resume was checked afresh). */
  index: number;
}

const maxPaused = 10_000;
// Held calls this process paused, by tool call id: for resumes that do not name the action, and
// (with a server that signs no receipts) the proof that a resumed call is the one checked.
const pausedCalls = new Map<string, PausedCall>();

function rememberPaused(toolCallId: string, paused: PausedCall): void {
  pausedCalls.delete(toolCallId);
  pausedCalls.set(toolCallId, paused);
  if (pausedCalls.size > maxPaused) {
    const oldest = pausedCalls.keys().next().value;
    if (oldest !== undefined) pausedCalls.delete(oldest);
  }
}

/** @internal Forgets the calls this process paused (tests: a resume in another process). */
export function forgetPausedCalls(): void {
  pausedCalls.clear();
}

/** A call's exact input, as a check sends its arguments; undefined when it cannot be sent. */
function inputKeyOf(args: unknown): string | undefined {
  try {
    const call = exactCall('', '', [policyInput(args)]);
    return `${call.argsJson}\n${call.kwargsJson}`;
  } catch {
    return undefined;
  }
}

/** Runs an allowed or approved call, reporting its outcome when it has an Arden action. */
function reportedRun(arden: Arden, actionId: string | undefined, run: () => Promise<unknown>) {
  return actionId ? arden.runAndReport(actionId, run) : run();
}

/** The native route: a held call pauses the graph with `interrupt()` instead of waiting. */
async function interruptingCall(
  options: ResolvedOptions,
  request: ToolCallRequestLike,
  handler: Handler,
  appUser?: string,
): Promise<unknown> {
  const { toolCall } = request;
  const arden = options.resolveArden();
  const ardenName = ardenToolName(options, toolCall.name);
  const toolCallId = toolCall.id;
  const runWith = (next: ToolCallRequestLike) =>
    handler(next.tool ? { ...next, tool: markGuarded(next.tool) } : next);
  const run = () => runWith(request);
  const refuse = (error: unknown) => {
    const denial = denialOf(error, ardenName);
    if (!denial || options.throwOnDenial) throw error;
    return new ToolMessage({
      content: denialText(options, denial),
      tool_call_id: toolCallId ?? '',
      name: toolCall.name,
      status: 'error',
    });
  };
  const scratchpad = scratchpadOf(request.runtime?.configurable);
  // Which interrupt() of this task a new pause would be (a resume checked afresh pauses again).
  let pauseIndex = 0;
  if (isArdenResume(nextResume(scratchpad))) {
    const interrupt = await loadInterrupt();
    let answer = interrupt(undefined) as ArdenResume;
    let paused = toolCallId === undefined ? undefined : pausedCalls.get(toolCallId);
    // A call paused again after a resume that named no action: its answer is the later one.
    while (
      answer.actionId === undefined &&
      (paused === undefined || paused.index > (scratchpad?.interruptCounter ?? 0)) &&
      isArdenResume(nextResume(scratchpad))
    ) {
      answer = interrupt(undefined) as ArdenResume;
    }
    paused = toolCallId === undefined ? undefined : pausedCalls.get(toolCallId);
    const actionId = answer.actionId ?? paused?.actionId;
    if (actionId !== undefined) {
      const held: HeldCall = {
        actionId,
        ardenName,
        // Proof that this process checked this very call (used without a receipt).
        inputKey: paused?.actionId === actionId ? paused.inputKey : undefined,
      };
      let outcome: Awaited<ReturnType<typeof resumeHeld>>;
      try {
        outcome = await resumeHeld(arden, held, toolCall.args, answer, appUser);
      } catch (error) {
        return refuse(error);
      }
      // Its run is claimed (or Arden is out of reach and calls run unchecked): no resume of it
      // needs this process's record again.
      if (toolCallId !== undefined && paused?.actionId === actionId) pausedCalls.delete(toolCallId);
      if (outcome === 'unchecked') return run();
      const { edited } = outcome;
      if (edited) {
        // Approved with edit in Arden: the tool runs with the approver's arguments (read from
        // Arden, never from the resume value), and its ToolMessage says what changed.
        const output = await arden.runAndReport(actionId, () =>
          runWith({
            ...request,
            toolCall: { ...toolCall, args: editedToolInput(toolCall.args, edited) },
          }),
        );
        return withEditNote(output, edited);
      }
      return arden.runAndReport(actionId, run);
    }
    // The resume names no action and this process did not pause this call (another process
    // resumes it): the app's answer alone never runs it. It is checked afresh, as a new call.
    arden.options.logger.warn(
      `A resume of "${ardenName}" names no Arden action and this process did not pause the call; it is checked again.`,
      { toolCallId },
    );
    pauseIndex = (scratchpad?.interruptCounter ?? 0) + 1;
  }
  const session = sessionOf({ configurable: request.runtime?.configurable });
  let result: CheckResult;
  try {
    result = await arden.check(ardenName, buildCallContext([policyInput(toolCall.args)]), {
      ...options.metadata,
      framework: 'langchain',
      tool: toolCall.name,
      ...(toolCallId === undefined ? {} : { tool_call_id: toolCallId }),
      ...(session === undefined ? {} : { session_id: session }),
    });
  } catch (error) {
    return runsUnchecked(arden, error) ? run() : refuse(error);
  }
  if (result.decision === 'allow') return reportedRun(arden, result.actionId, run);
  if (result.decision === 'block') return refuse(blockedError(ardenName, result));
  if (toolCallId !== undefined) {
    rememberPaused(toolCallId, {
      actionId: result.actionId,
      inputKey: inputKeyOf(toolCall.args),
      index: pauseIndex,
    });
  }
  const interrupt = await loadInterrupt();
  const value: ArdenInterrupt = {
    type: 'arden_approval',
    actionId: result.actionId,
    toolName: ardenName,
    toolCallId,
    args: toolCall.args,
    message: result.message,
  };
  // Throws LangGraph's GraphInterrupt: the run stops here and returns `__interrupt__`.
  return interrupt(value);
}

/** A held call being resumed: its action, its Arden name, and (when paused here) its input. */
interface HeldCall {
  actionId: string;
  ardenName: string;
  inputKey: string | undefined;
}

/** The held call as core's resume helpers name it. */
function resumed(held: HeldCall): ResumedCall {
  return { actionId: held.actionId, toolName: held.ardenName };
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
 * That what Arden holds under the action (its decision, or while pending its hold) is for
 * exactly these arguments: its signed receipt binds the tool and the argument bytes (core's check
 * of guarded calls). Without a receipt (a server that signs none), only a call this process
 * paused itself, with this input, is known to be it.
 */
async function assertHeldCall(
  held: HeldCall,
  args: unknown,
  receipt: string | undefined,
  edited: EditedCall | undefined,
): Promise<void> {
  if (receipt === undefined) {
    if (held.inputKey !== undefined && held.inputKey === inputKeyOf(args)) return;
    throw refusedRun(
      held,
      'Arden sent no receipt to prove that the approval is for this call (receipts are off on the server), and this process did not pause it with these arguments.',
    );
  }
  try {
    await assertDecisionCoversCall(
      exactCall(held.ardenName, held.actionId, [policyInput(args)]),
      receipt,
      edited,
    );
  } catch (error) {
    throw refusedRun(
      held,
      `the approval is for another call (${error instanceof Error ? error.message : String(error)}); an approval runs only the exact call it was given for.`,
    );
  }
}

/**
 * What a resumed Arden interrupt does, asked of Arden whatever the resume value says: a denial
 * (Arden's or the app's) means the tool does not run; the app's approval of a call Arden still
 * holds is recorded as an in-app decision (when the policy wants Arden's approvers, or more
 * approvals, the tool waits for them); the decision's receipt must bind exactly the arguments
 * about to run; and the action's single run is claimed, so a replayed resume never runs a call
 * twice. Throws a `PolicyDeniedError` (or the approval's timeout) when the call must not run;
 * `'unchecked'` when Arden is unreachable and `onUnavailable` is `'allow'`.
 */
async function resumeHeld(
  arden: Arden,
  held: HeldCall,
  args: unknown,
  answer: ArdenResume,
  appUser: string | undefined,
): Promise<{ edited: EditedCall | undefined } | 'unchecked'> {
  const { actionId, ardenName } = held;
  const denied = (notes: string | undefined) =>
    new PolicyDeniedError({ toolName: ardenName, actionId, reason: 'denied', notes });
  let current: StatusResponseBody;
  try {
    current = await arden.status(actionId);
  } catch (error) {
    return unconfirmed(arden, held, error, 'read the held call');
  }
  let decided: DecidedCall | undefined =
    current.status === 'approved' || current.status === 'denied' ? decidedCall(current) : undefined;
  if (decided?.status === 'denied') throw denied(decided.message ?? answer.notes);
  if (!answer.approved) {
    // The app's user denied it: it does not run, whatever Arden says; a pending action records
    // the denial as an in-app decision (when that fails, the call still does not run).
    if (decided === undefined) {
      await arden
        .reportInAppDecision(actionId, {
          decision: 'deny',
          user: answer.user ?? appUser ?? 'app user',
          ...(answer.notes ? { notes: answer.notes.slice(0, 4000) } : {}),
        })
        .catch((error: unknown) => {
          arden.options.logger.warn("Arden could not record the app's denial.", {
            actionId,
            error: String(error),
          });
        });
    }
    throw denied(answer.notes);
  }
  if (decided === undefined) {
    // Still pending: the hold's receipt must be for this call before the end user's approval is
    // recorded (it is never recorded for a call they were not shown).
    await assertHeldCall(held, args, current.receipt, undefined);
    const recorded = await recordAppApproval(arden, held, answer, appUser);
    if (recorded === 'unchecked') return recorded;
    try {
      decided =
        recorded === 'wait'
          ? await arden.waitForDecision(actionId, ardenName)
          : decidedCall(await arden.status(actionId));
    } catch (error) {
      // A denial or the approval's timeout: the call does not run, and the model is told.
      if (denialOf(error, ardenName) && !ArdenUnavailableError.isInstance(error)) throw error;
      return unconfirmed(arden, held, error, 'read the decision');
    }
    if (decided.status === 'denied') throw denied(decided.message);
  }
  await assertHeldCall(held, args, decided.receipt, decided.edited);
  try {
    await arden.claimRun(actionId);
  } catch (error) {
    if (ArdenApiError.isInstance(error) && error.statusCode === 409) {
      throw refusedRun(
        held,
        'this approval was already used for a run (an approval runs one call once), so the tool did not run again.',
      );
    }
    return unconfirmed(arden, held, error, 'record the run of the approved call');
  }
  return { edited: decided.edited };
}

/**
 * Records the app's approval of a held call as an in-app decision; what the tool does next.
 * 403 (the policy takes no in-app decisions) → it waits for Arden's approvers; 409 (decided
 * meanwhile) → Arden's decision is read again. Arden out of reach or another error: the call
 * does not run (unless `onUnavailable: 'allow'`).
 */
async function recordAppApproval(
  arden: Arden,
  held: HeldCall,
  answer: ArdenResume,
  appUser: string | undefined,
): Promise<'decided' | 'wait' | 'unchecked'> {
  try {
    const recorded = await arden.reportInAppDecision(held.actionId, {
      decision: 'approve',
      user: answer.user ?? appUser ?? 'app user',
      ...(answer.notes ? { notes: answer.notes.slice(0, 4000) } : {}),
    });
    // Pending: the policy wants more approvals (approvals: 2).
    return recorded.status === 'pending' ? 'wait' : 'decided';
  } catch (error) {
    if (ArdenApiError.isInstance(error) && error.statusCode === 403) {
      arden.options.logger.warn(
        `The policy of "${held.ardenName}" does not allow in-app decisions (approve_in); the call waits for an approver in Arden.`,
        { actionId: held.actionId },
      );
      return 'wait';
    }
    if (ArdenApiError.isInstance(error) && error.statusCode === 409) return 'decided';
    return unconfirmed(arden, held, error, "record the app's approval");
  }
}

/** Options of `resolveArdenInterrupts()`. */
export interface ResolveInterruptsOptions {
  /** Wait up to this many seconds (long-poll) for each undecided action. Default 0: just read. */
  waitSeconds?: number;
  /** The Arden instance. Default: the one `configure()` made. */
  arden?: Arden | (() => Arden);
}

/**
 * Turns decisions taken in Arden (dashboard, CLI) into the answers that resume a paused agent:
 * for each Arden interrupt in `interrupts` (the run's `__interrupt__`), reads its action and, if
 * it was decided, adds `{ approved, notes, actionId }` under the interrupt's id. Resume with
 * `agent.invoke(new Command({ resume }), config)` when `resume` is not empty.
 */
export async function resolveArdenInterrupts(
  interrupts: readonly { id?: string; value?: unknown }[] | undefined,
  options: ResolveInterruptsOptions = {},
): Promise<{ resume: Record<string, ArdenResume>; pending: string[] }> {
  const arden = resolveAdapterOptions({
    ...(options.arden ? { arden: options.arden } : {}),
  }).resolveArden();
  const resume: Record<string, ArdenResume> = {};
  const pending: string[] = [];
  for (const item of interrupts ?? []) {
    const value = item.value as Partial<ArdenInterrupt> | undefined;
    if (value?.type !== 'arden_approval' || typeof value.actionId !== 'string' || !item.id)
      continue;
    const status = await arden.status(value.actionId, options.waitSeconds || undefined);
    if (status.status === 'pending') {
      pending.push(item.id);
      continue;
    }
    resume[item.id] = {
      approved: status.status === 'approved',
      actionId: value.actionId,
      ...(status.message ? { notes: status.message } : {}),
    };
  }
  return { resume, pending };
}

/**
 * A `createAgent` middleware (langchain 1.x) whose `wrapToolCall` checks every tool call with
 * Arden before the tool runs — for apps that prefer wiring Arden into the agent over the
 * automatic patch. A blocked or denied call answers the model with a `ToolMessage`
 * (`status: 'error'`) that says so and why, and the agent continues; the tool does not run.
 * Tools it checked are not checked again by the automatic patch, and tools wrapped by
 * `protectTools()`/`protectMcpTools()` are left to their wrapper (one check, one action per call).
 *
 * ```ts
 * const agent = createAgent({ model, tools, middleware: [ardenMiddleware()] });
 * ```
 */
export function ardenMiddleware(options: ArdenMiddlewareOptions = {}): AgentMiddleware {
  const resolved = resolveAdapterOptions(options);
  const wrapToolCall = (request: ToolCallRequestLike, handler: Handler) => {
    // A tool wrapped by protectTools()/protectMcpTools() (or already checked by an outer Arden
    // middleware) checks its own calls, under its own name and options: checking here too would
    // make two actions of one call, under two names.
    if (request.tool && isGuarded(request.tool)) return handler(request);
    // An @langchain/mcp-adapters tool is checked as mcp.<server>.<tool>, as under configure();
    // when its name does not say its server, the call is refused rather than checked under its
    // bare name (which no mcp.<server>.* policy would govern).
    const tool = request.tool;
    const checked =
      tool && isLangchainMcpTool(tool)
        ? mcpCheckOptions(resolved, tool as { name: string; metadata?: { annotations?: unknown } })
        : resolved;
    if (checked instanceof Error) {
      resolved
        .resolveArden()
        .options.logger.error(checked.message, { tool: request.toolCall.name });
      return Promise.reject(checked);
    }
    if (options.approval === 'interrupt') {
      return interruptingCall(checked, request, handler, options.appUser);
    }
    const { toolCall } = request;
    return runGuardedCall({
      toolName: toolCall.name,
      args: toolCall.args,
      toolCallId: toolCall.id,
      config: { configurable: request.runtime?.configurable },
      run: (edited) => {
        // Approved with edit: the tool runs with the approver's arguments.
        const next = edited
          ? { ...request, toolCall: { ...toolCall, args: editedToolInput(toolCall.args, edited) } }
          : request;
        return handler(next.tool ? { ...next, tool: markGuarded(next.tool) } : next);
      },
      options: checked,
      ToolMessage: () => ToolMessage as unknown as ToolMessageConstructor,
    });
  };
  return {
    [middlewareBrand]: true,
    name: options.name ?? 'ArdenMiddleware',
    wrapToolCall,
  } as unknown as AgentMiddleware;
}
