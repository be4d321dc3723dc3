import {
  type Arden,
  ardenToolName,
  blockedError,
  buildCallContext,
  type CheckResult,
  decisionOf,
  denialOf,
  denialText,
  PolicyDeniedError,
  resolveAdapterOptions,
  runsUnchecked,
} from '@arden/core';
import { ToolMessage } from '@langchain/core/messages';
import type { AgentMiddleware } from 'langchain';
import {
  markGuarded,
  policyInput,
  runGuardedCall,
  sessionOf,
  type ToolMessageConstructor,
} from './guard';
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
}

function isArdenResume(value: unknown): value is ArdenResume {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ArdenResume).approved === 'boolean'
  );
}

/**
 * The resume value LangGraph holds for this task, read without consuming it, so that a
 * re-executed tool call is not checked a second time. (LangGraph re-runs an interrupted task from
 * its start on resume; the first `interrupt()` of the task is Arden's.)
 */
function pendingResume(configurable: Record<string, unknown> | undefined): unknown {
  const scratchpad = configurable?.__pregel_scratchpad as
    | { resume?: unknown[]; nullResume?: unknown }
    | undefined;
  if (!scratchpad) return undefined;
  if (Array.isArray(scratchpad.resume) && scratchpad.resume.length > 0) return scratchpad.resume[0];
  return scratchpad.nullResume;
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

// Held calls this process paused, by tool call id, for resumes that do not name the action.
const pausedCalls = new Map<string, string>();

/** Runs an allowed or approved call, reporting its outcome when it has an Arden action. */
function reportedRun(arden: Arden, actionId: string | undefined, run: () => Promise<unknown>) {
  return actionId ? arden.runAndReport(actionId, run) : run();
}

/** The native route: a held call pauses the graph with `interrupt()` instead of waiting. */
async function interruptingCall(
  options: ResolvedOptions,
  request: ToolCallRequestLike,
  handler: Handler,
): Promise<unknown> {
  const { toolCall } = request;
  const arden = options.resolveArden();
  const ardenName = ardenToolName(options, toolCall.name);
  const toolCallId = toolCall.id;
  const run = () =>
    handler(request.tool ? { ...request, tool: markGuarded(request.tool) } : request);
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
  const resume = pendingResume(request.runtime?.configurable);
  if (isArdenResume(resume)) {
    const interrupt = await loadInterrupt();
    const answer = interrupt(undefined) as ArdenResume;
    const actionId =
      answer.actionId ?? (toolCallId === undefined ? undefined : pausedCalls.get(toolCallId));
    if (toolCallId !== undefined) pausedCalls.delete(toolCallId);
    let notes = answer.notes;
    let deniedInArden = false;
    if (actionId) {
      // Pending, or Arden is unreachable: the answer given on resume stands.
      const decided = await decisionOf(arden, actionId);
      if (decided?.status === 'denied') {
        deniedInArden = true;
        notes = decided.notes ?? notes;
      }
    }
    if (deniedInArden || !answer.approved) {
      return refuse(
        new PolicyDeniedError({ toolName: ardenName, actionId, reason: 'denied', notes }),
      );
    }
    return reportedRun(arden, actionId, run);
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
  if (toolCallId !== undefined) pausedCalls.set(toolCallId, result.actionId);
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
 * Tools it checked are not checked again by the automatic patch.
 *
 * ```ts
 * const agent = createAgent({ model, tools, middleware: [ardenMiddleware()] });
 * ```
 */
export function ardenMiddleware(options: ArdenMiddlewareOptions = {}): AgentMiddleware {
  const resolved = resolveAdapterOptions(options);
  const wrapToolCall = (request: ToolCallRequestLike, handler: Handler) => {
    if (options.approval === 'interrupt') return interruptingCall(resolved, request, handler);
    const { toolCall } = request;
    return runGuardedCall({
      toolName: toolCall.name,
      args: toolCall.args,
      toolCallId: toolCall.id,
      config: { configurable: request.runtime?.configurable },
      run: () => handler(request.tool ? { ...request, tool: markGuarded(request.tool) } : request),
      options: resolved,
      ToolMessage: () => ToolMessage as unknown as ToolMessageConstructor,
    });
  };
  return {
    [middlewareBrand]: true,
    name: options.name ?? 'ArdenMiddleware',
    wrapToolCall,
  } as unknown as AgentMiddleware;
}
