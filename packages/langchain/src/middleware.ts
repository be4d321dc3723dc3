import {
  type Arden,
  ArdenApiError,
  ardenToolName,
  blockedError,
  buildCallContext,
  type CheckResult,
  decidedCall,
  denialOf,
  denialText,
  type EditedCall,
  PolicyDeniedError,
  resolveAdapterOptions,
  runsUnchecked,
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
  appUser?: string,
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
    const settled = actionId
      ? await settleResume(arden, actionId, ardenName, answer, appUser)
      : { approved: answer.approved, notes: answer.notes, edited: undefined };
    if (!settled.approved) {
      return refuse(
        new PolicyDeniedError({
          toolName: ardenName,
          actionId,
          reason: 'denied',
          notes: settled.notes,
        }),
      );
    }
    const edited = settled.edited;
    if (edited) {
      // Approved with edit in Arden: the tool runs with the approver's arguments, and its
      // ToolMessage tells the model what changed.
      const editedRequest = { ...request, toolCall: { ...toolCall, args: edited.kwargs } };
      const output = await reportedRun(arden, actionId, () =>
        handler(
          editedRequest.tool
            ? { ...editedRequest, tool: markGuarded(editedRequest.tool) }
            : editedRequest,
        ),
      );
      return withEditNote(output, edited);
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

/**
 * What a resumed Arden interrupt does: Arden's decision when it has one (a denial wins; an
 * approval with edit runs the approver's arguments, read from Arden, never from the resume
 * value). Still pending: the app's answer is recorded as an in-app decision; when the policy
 * wants more approvals or does not allow in-app decisions, an approval waits for Arden's
 * approvers. Arden out of reach, or a server without in-app decisions: the answer stands.
 */
async function settleResume(
  arden: Arden,
  actionId: string,
  ardenName: string,
  answer: ArdenResume,
  appUser: string | undefined,
): Promise<{
  approved: boolean;
  notes: string | undefined;
  edited: EditedCall | undefined;
}> {
  const stands = { approved: answer.approved, notes: answer.notes, edited: undefined };
  const fromArden = (status: Awaited<ReturnType<Arden['status']>>) => {
    const decision = decidedCall(status);
    return {
      approved: decision.status === 'approved',
      notes: decision.message ?? answer.notes,
      edited: decision.edited,
    };
  };
  let current: Awaited<ReturnType<Arden['status']>>;
  try {
    current = await arden.status(actionId);
  } catch {
    return stands;
  }
  if (current.status !== 'pending') return fromArden(current);
  const waitForArden = async () => {
    const decision = await arden.waitForDecision(actionId, ardenName);
    return {
      approved: decision.status === 'approved',
      notes: decision.message,
      edited: decision.edited,
    };
  };
  try {
    const recorded = await arden.reportInAppDecision(actionId, {
      decision: answer.approved ? 'approve' : 'deny',
      user: answer.user ?? appUser ?? 'app user',
      ...(answer.notes ? { notes: answer.notes.slice(0, 4000) } : {}),
    });
    if (recorded.status === 'pending') return await waitForArden();
    return { approved: recorded.status === 'approved', notes: answer.notes, edited: undefined };
  } catch (error) {
    if (ArdenApiError.isInstance(error) && (error.statusCode === 403 || error.statusCode === 409)) {
      // In-app decisions not allowed (or decided meanwhile): Arden's approvers decide.
      return answer.approved || error.statusCode === 409 ? await waitForArden() : stands;
    }
    return stands;
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
