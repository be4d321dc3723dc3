import type {
  CanUseTool,
  HookCallback,
  HookCallbackMatcher,
  HookEvent,
  HookInput,
  Options,
  PermissionResult,
} from '@anthropic-ai/claude-agent-sdk';
import {
  type Arden,
  ardenToolName,
  blockedError,
  buildCallContext,
  ConfigurationError,
  denialOf,
  denialText,
  getSession,
  PolicyDeniedError,
  parseMcpToolName,
  resolveAdapterOptions,
  runsUnchecked,
  type ToolDenial,
  type ToolNaming,
} from '@arden/core';
import { claudeToolName } from './names';

/** Options of {@link withArden}. */
export interface WithArdenOptions extends ToolNaming {
  /**
   * Arden names by the SDK's tool name (`Bash`, `mcp__github__create_issue`), used exactly as
   * written; else `toolNamePrefix` + the default name (`claude_code.Bash`, `mcp.github.create_issue`).
   */
  toolNames?: Record<string, string>;
  /** The Arden instance to use. Default: the one `configure()` made, looked up at call time. */
  arden?: Arden | (() => Arden);
  /** The text the model receives when a call did not run. Default: `defaultDenialMessage`. */
  denialMessage?: (denial: ToolDenial) => string;
  /** Extra metadata sent with every check. */
  metadata?: Record<string, unknown>;
  /**
   * The Arden session of every check and usage event. Default: the session set with
   * `setSession()`/`withSession()`, else the SDK's `session_id`.
   */
  sessionId?: string;
  /**
   * How held calls are handled. Only `'wait'` (the default): the SDK runs its tools itself, so
   * a held call waits in the hook (long-poll) until it is decided, `maxWaitMs` passes, or the
   * SDK aborts it.
   */
  approvalMode?: 'wait';
}

/** The options `withArden` returns: the app's, with Arden's hooks and `canUseTool`. */
export type WithArdenResult<T extends Options> = Omit<T, 'hooks' | 'canUseTool'> &
  Required<Pick<Options, 'hooks' | 'canUseTool'>>;

/** Arden's verdict on one tool call. */
export type Verdict =
  | {
      allowed: true;
      actionId: string | undefined;
      /** Approved with edit: the input the approver wants run, and a sentence saying what changed. */
      updatedInput?: Record<string, unknown>;
      note?: string;
    }
  | { allowed: false; message: string; actionId: string | undefined };

/** What {@link withArden} keeps per query: the actions of allowed calls by `tool_use_id`. */
interface CallState {
  allowed: Map<string, { actionId: string | undefined; started: number; input: string }>;
}

const adapterMarker = Symbol.for('arden.claude-agent-sdk.options');

function aborted(signal: AbortSignal | undefined): Promise<never> | undefined {
  if (!signal) return undefined;
  return new Promise<never>((_, reject) => {
    const fail = () => reject(new AbortedError());
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

class AbortedError extends Error {
  constructor() {
    super('The SDK aborted the call while it was held for approval.');
  }
}

/** The session a check or usage event is recorded under. */
export function sessionOf(options: WithArdenOptions, sdkSessionId: string | undefined) {
  return options.sessionId ?? getSession() ?? sdkSessionId;
}

/**
 * Checks one tool call with Arden: allowed, or not with the text the model reads. A call held
 * for approval waits for the decision (long-poll) unless `signal` aborts. Never throws: anything
 * that is not an allow (including an error) is a denial, except that Arden being unreachable
 * allows the call when the instance's `onUnavailable` is `'allow'`.
 */
export async function checkToolCall(
  options: WithArdenOptions,
  call: {
    toolName: string;
    input: unknown;
    mcpServer?: string | undefined;
    sessionId?: string | undefined;
    toolUseId?: string | undefined;
    signal?: AbortSignal | undefined;
  },
): Promise<Verdict> {
  const resolved = resolveAdapterOptions(options);
  let name = call.toolName;
  let arden: Arden | undefined;
  try {
    name = Object.hasOwn(options.toolNames ?? {}, call.toolName)
      ? ardenToolName(options, call.toolName)
      : `${options.toolNamePrefix ?? ''}${claudeToolName(call.toolName, call.mcpServer)}`;
    arden = resolved.resolveArden();
    const mcp = call.toolName.startsWith('mcp__') ? parseMcpToolName(name) : undefined;
    const session = sessionOf(options, call.sessionId);
    const metadata = {
      ...options.metadata,
      source: 'claude-agent-sdk',
      // An MCP tool's server, for the policies' `mcp` variable.
      ...(mcp ? { mcp: { server: mcp.server } } : {}),
      ...(session === undefined ? {} : { session_id: session }),
      ...(call.toolUseId === undefined ? {} : { tool_use_id: call.toolUseId }),
    };
    const result = await arden.check(name, buildCallContext([call.input ?? {}]), metadata);
    if (result.decision === 'allow') return { allowed: true, actionId: result.actionId };
    if (result.decision === 'block') throw blockedError(name, result);
    const abort = aborted(call.signal);
    const decision = await (abort
      ? Promise.race([arden.waitForDecision(result.actionId, name), abort])
      : arden.waitForDecision(result.actionId, name));
    if (decision.status === 'approved') {
      return decision.edited
        ? {
            allowed: true,
            actionId: result.actionId,
            updatedInput: decision.edited.kwargs,
            note: decision.edited.message,
          }
        : { allowed: true, actionId: result.actionId };
    }
    throw new PolicyDeniedError({
      toolName: name,
      actionId: result.actionId,
      reason: 'denied',
      notes: decision.message,
    });
  } catch (error) {
    if (arden && runsUnchecked(arden, error)) {
      arden.options.logger.warn(
        `Arden is unreachable; running "${name}" unchecked because onUnavailable is 'allow'.`,
      );
      return { allowed: true, actionId: undefined };
    }
    const denial = denialOf(error, name);
    if (denial) {
      return { allowed: false, message: denialText(options, denial), actionId: denial.actionId };
    }
    if (error instanceof AbortedError) {
      return { allowed: false, message: error.message, actionId: undefined };
    }
    // A misconfiguration or a refusal of the key: fail closed, saying why.
    const reason = error instanceof Error ? error.message : String(error);
    return {
      allowed: false,
      message: `Arden could not check this call to "${name}", so it did not run: ${reason}`,
      actionId: undefined,
    };
  }
}

let unreadableInputs = 0;

/** A tool input as text, to tell whether the input that runs is the one Arden checked. */
function inputText(input: unknown): string {
  try {
    return JSON.stringify(input ?? {}) ?? '';
  } catch {
    // Not serialisable (a cycle): equal to no other input's text, so it is checked again.
    unreadableInputs += 1;
    return `\u0000unreadable input ${unreadableInputs}`;
  }
}

function appendHook(
  hooks: Options['hooks'],
  event: HookEvent,
  matcher: HookCallbackMatcher,
): NonNullable<Options['hooks']> {
  const existing = hooks?.[event] ?? [];
  return { ...hooks, [event]: [...existing, matcher] };
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function inputOf(input: HookInput) {
  const record = input as unknown as Record<string, unknown>;
  const server = record.mcp_server as { name?: unknown } | undefined;
  return {
    toolName: stringOf(record.tool_name) ?? '',
    toolInput: record.tool_input,
    toolUseId: stringOf(record.tool_use_id),
    mcpServer: stringOf(server?.name),
    sessionId: stringOf(record.session_id),
  };
}

/**
 * Adds Arden to the options of the Claude Agent SDK's `query()`: a PreToolUse hook checks every
 * tool call (built-in tools as `claude_code.<Tool>`, MCP tools as `mcp.<server>.<tool>`) before
 * it runs — a blocked or denied call does not run and the model reads Arden's reason; a held
 * call waits for a human (long-poll), honouring the SDK's abort signal. A `canUseTool` lets the
 * calls Arden allowed through the SDK's permission step (the app's own `canUseTool` still
 * decides after Arden, when it has one). PostToolUse and PostToolUseFailure hooks report each
 * call's outcome. The app's own hooks are kept and run as before.
 *
 * Usage and cost are in the result message: record them with `recordResultUsage()` (or run the
 * query through `queryWithArden()`, which does both).
 */
export function withArden<T extends Options>(
  options?: T,
  arden: WithArdenOptions = {},
): WithArdenResult<T> {
  const base = (options ?? {}) as T;
  if ((base as Record<symbol, unknown>)[adapterMarker]) return base as WithArdenResult<T>;
  if (arden.approvalMode !== undefined && arden.approvalMode !== 'wait') {
    throw new ConfigurationError(
      `approvalMode must be 'wait' for the Claude Agent SDK (it runs its tools itself, so a held call waits in the hook); got ${String(arden.approvalMode)}.`,
      { option: 'approvalMode' },
    );
  }
  const state: CallState = { allowed: new Map() };
  const resolveArden = resolveAdapterOptions(arden).resolveArden;

  const preToolUse: HookCallback = async (input, toolUseId, { signal }) => {
    const call = inputOf(input);
    const id = call.toolUseId ?? toolUseId;
    const verdict = await checkToolCall(arden, {
      ...call,
      toolUseId: id,
      input: call.toolInput,
      signal,
    });
    if (!verdict.allowed) {
      return {
        hookSpecificOutput: {
          hookEventName: 'PreToolUse',
          permissionDecision: 'deny',
          permissionDecisionReason: verdict.message,
        },
      };
    }
    if (id !== undefined) {
      state.allowed.set(id, {
        actionId: verdict.actionId,
        started: performance.now(),
        input: inputText(verdict.updatedInput ?? call.toolInput),
      });
    }
    if (verdict.updatedInput) {
      // Approved with edit: the SDK runs the approver's input (updatedInput), and says why.
      return {
        hookSpecificOutput: {
          hookEventName: 'PreToolUse',
          permissionDecision: 'allow',
          permissionDecisionReason: verdict.note ?? 'An approver changed the input.',
          updatedInput: verdict.updatedInput,
        },
      };
    }
    // No decision: the SDK's own permission step (permission mode, rules, canUseTool) goes on.
    return {};
  };

  const report = (succeeded: boolean) => {
    const hook: HookCallback = async (input, toolUseId) => {
      const call = inputOf(input);
      const id = call.toolUseId ?? toolUseId;
      const entry = id === undefined ? undefined : state.allowed.get(id);
      if (id !== undefined) state.allowed.delete(id);
      if (entry?.actionId === undefined) return {};
      const record = input as unknown as Record<string, unknown>;
      const duration =
        typeof record.duration_ms === 'number'
          ? record.duration_ms
          : Math.round(performance.now() - entry.started);
      try {
        resolveArden().reportResult(entry.actionId, {
          status: succeeded ? 'succeeded' : 'failed',
          duration_ms: duration,
          ...(succeeded ? {} : { error: stringOf(record.error)?.slice(0, 2000) ?? 'failed' }),
        });
      } catch {
        // Reporting an outcome never breaks the agent.
      }
      return {};
    };
    return hook;
  };

  const appCanUseTool = base.canUseTool;
  const canUseTool: CanUseTool = async (
    toolName,
    input,
    context,
  ): Promise<PermissionResult | null> => {
    const id = context.toolUseID;
    const check = async (checkedInput: Record<string, unknown>) => {
      const verdict = await checkToolCall(arden, {
        toolName,
        input: checkedInput,
        mcpServer: context.mcpServer?.name,
        toolUseId: id,
        signal: context.signal,
      });
      if (verdict.allowed && id !== undefined) {
        state.allowed.set(id, {
          actionId: verdict.actionId,
          started: performance.now(),
          input: inputText(verdict.updatedInput ?? checkedInput),
        });
      }
      return verdict;
    };
    const seen = id === undefined ? undefined : state.allowed.get(id);
    // The hook did not see this call (it should have), or another hook changed its input: check
    // the input that will run.
    if (seen === undefined || seen.input !== inputText(input)) {
      const verdict = await check(input);
      if (!verdict.allowed) return { behavior: 'deny', message: verdict.message };
      // Approved with edit: the approver's input runs.
      if (verdict.updatedInput) return { behavior: 'allow', updatedInput: verdict.updatedInput };
    }
    if (!appCanUseTool) return { behavior: 'allow', updatedInput: input };
    const decision = await appCanUseTool(toolName, input, context);
    // The app's canUseTool may run the call with other input (a user edited it): check that too.
    if (
      decision?.behavior === 'allow' &&
      decision.updatedInput !== undefined &&
      inputText(decision.updatedInput) !== inputText(input)
    ) {
      const verdict = await check(decision.updatedInput);
      if (!verdict.allowed) return { behavior: 'deny', message: verdict.message };
    }
    return decision;
  };

  // A held call may wait up to maxWaitMs in the hook: its timeout leaves room for that.
  let timeout = 330;
  try {
    timeout = Math.ceil(resolveArden().options.maxWaitMs / 1000) + 30;
  } catch {
    // Not configured yet: the instance is looked up at call time; keep the default.
  }
  let hooks = appendHook(base.hooks, 'PreToolUse', {
    hooks: [preToolUse],
    timeout,
    onFailure: 'block',
  });
  hooks = appendHook(hooks, 'PostToolUse', { hooks: [report(true)] });
  hooks = appendHook(hooks, 'PostToolUseFailure', { hooks: [report(false)] });
  const result = { ...base, hooks, canUseTool };
  Object.defineProperty(result, adapterMarker, { value: true });
  return result as WithArdenResult<T>;
}
