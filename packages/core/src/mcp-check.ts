/**
 * One MCP `tools/call` checked with Arden: the check, the wait for a human decision on a held
 * call (with progress and cancellation), and the outcome turned into either "forward the call"
 * or the `CallToolResult` the client receives instead. Shared by `@arden/mcp` (the stdio gateway
 * and `guardMcpClient`) and the server's Streamable HTTP gateway, so that all of them name,
 * check and word denials the same way.
 */
import { defaultDenialMessage, denialOf, type ToolDenial } from './adapter-kit';
import type { Arden } from './arden';
import type { DecidedCall, EditedCall } from './call-types';
import { decidedCall } from './checks';
import {
  ApprovalTimeoutError,
  ArdenApiError,
  ArdenUnavailableError,
  PolicyDeniedError,
} from './errors';
import { assertDecisionCoversCall, editNotRunnable, notTheExactCall } from './exact-call';
import { blockedError, runsUnchecked } from './guard-rules';
import { stringifyWire } from './json-safe';
import { mcpToolName } from './mcp-names';

/** The MCP annotations of a tool, as the upstream lists them (hints, not guarantees). */
export interface McpToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** What the checker needs to know about one `tools/call`. */
export interface McpToolCall {
  /** The MCP server's name in Arden (`mcp.<server>.<tool>`). */
  server: string;
  /** The tool's own name, as the upstream lists it. */
  tool: string;
  /** The call's `arguments`, exactly as they will be forwarded (`{}` when the call has none). */
  arguments: Record<string, unknown>;
  /** The tool's annotations from the upstream's last `tools/list`, when known. */
  annotations?: McpToolAnnotations | undefined;
}

/** How a held call's wait is observed and ended. */
export interface WaitHooks {
  /** Aborted when the client cancels the call: the wait stops and the call never runs. */
  signal?: AbortSignal;
  /** Called every `progressIntervalMs` while the call is held (for `notifications/progress`). */
  onWaiting?: (actionId: string, waitedMs: number) => void;
  /** How often `onWaiting` is called, in ms. Default 10 000. */
  progressIntervalMs?: number;
}

/**
 * An approver's edit of a held MCP call, as the route must forward it: the same tool, with
 * `arguments` in place of the call's. `JSON.stringify(arguments)` is `argumentsJson`, the bytes
 * the approver approved and the receipt binds.
 */
export interface EditedMcpCall {
  /** The edit as core reads it (who edited, the patch, the note for the model). */
  call: EditedCall;
  /** The arguments to forward. */
  arguments: Record<string, unknown>;
  /** Their JSON text, byte for byte as approved. */
  argumentsJson: string;
}

/** What to do with a checked call. */
export type CheckOutcome =
  | {
      /**
       * Forward the call; report its outcome on `actionId` (undefined when unchecked). With
       * `edited` (only for a caller that passed `runsEdits`), an approver changed the arguments:
       * forward `edited.arguments` in place of the call's, never the call as it was made.
       */
      kind: 'run';
      actionId: string | undefined;
      edited?: EditedMcpCall;
    }
  | {
      /** Answer the client with `result` instead; the upstream is never called. */
      kind: 'refuse';
      result: DeniedToolResult;
      denial: ToolDenial;
    }
  | {
      /** The client cancelled the call while it was held: answer nothing (MCP cancellation). */
      kind: 'cancelled';
      actionId: string;
    };

/** The `CallToolResult` a refused call gets: the denial's text with `isError: true`. */
export interface DeniedToolResult {
  [key: string]: unknown;
  content: [{ type: 'text'; text: string }];
  isError: true;
}

/** Options of {@link checkMcpToolCall}. */
export interface CheckMcpToolCallOptions extends WaitHooks {
  /** The text the client receives when a call does not run. Default: core's `defaultDenialMessage`. */
  denialMessage?: (denial: ToolDenial) => string;
  /** Extra metadata sent with the check. */
  metadata?: Record<string, unknown>;
  /**
   * The caller forwards an approver's edited arguments (`outcome.edited`) in place of the call's.
   * Without it, an approval with edit is refused: running the call as it was made would run a
   * call nobody approved.
   */
  runsEdits?: boolean;
}

/** Why a route without `runsEdits` refuses an approval with edit. */
const noEditsReason =
  'this route forwards MCP calls only as they were made and cannot run edited arguments';

/** The metadata an MCP check carries: which server and tool, and the tool's annotations. */
export function mcpCheckMetadata(call: McpToolCall): Record<string, unknown> {
  const mcp: Record<string, unknown> = { server: call.server, tool: call.tool };
  if (call.annotations) mcp.annotations = pickAnnotations(call.annotations);
  return { mcp };
}

/** Only the annotation fields MCP defines, with the types it defines (upstream data is untrusted). */
export function pickAnnotations(annotations: unknown): McpToolAnnotations {
  const picked: McpToolAnnotations = {};
  if (typeof annotations !== 'object' || annotations === null) return picked;
  const source = annotations as Record<string, unknown>;
  if (typeof source.title === 'string') picked.title = source.title.slice(0, 200);
  for (const hint of [
    'readOnlyHint',
    'destructiveHint',
    'idempotentHint',
    'openWorldHint',
  ] as const) {
    if (typeof source[hint] === 'boolean') picked[hint] = source[hint];
  }
  return picked;
}

/** A `CallToolResult` that tells the model why the call did not run. */
export function deniedToolResult(text: string): DeniedToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * Checks one MCP tool call with Arden under `mcp.<server>.<tool>`. Allowed → `run`; blocked,
 * denied, timed out or Arden unreachable (with `onUnavailable: 'block'`) → `refuse` with the
 * `CallToolResult` to answer; held → waits for the decision (long-poll), calling `onWaiting`
 * meanwhile, and ends with `cancelled` when `signal` aborts first. An approval is checked against
 * its receipt as `guardTool` checks it; one with an approver's edit is `run` with `edited` when
 * `runsEdits` is set, else refused. Never throws for a denial;
 * a misconfiguration (a bad server name) throws `ConfigurationError`.
 */
export async function checkMcpToolCall(
  arden: Arden,
  call: McpToolCall,
  options: CheckMcpToolCallOptions = {},
): Promise<CheckOutcome> {
  const toolName = mcpToolName(call.server, call.tool);
  const refuse = (error: unknown): CheckOutcome => {
    const denial = denialOf(error, toolName) ?? {
      toolName,
      actionId: undefined,
      reason: 'unavailable' as const,
      notes: undefined,
      error: error instanceof Error ? error : new Error(String(error)),
    };
    const text = (options.denialMessage ?? defaultDenialMessage)(denial);
    return { kind: 'refuse', result: deniedToolResult(text), denial };
  };
  let result: Awaited<ReturnType<Arden['check']>>;
  try {
    result = await arden.check(
      toolName,
      { args: [], kwargs: call.arguments as never },
      { ...options.metadata, ...mcpCheckMetadata(call) },
    );
  } catch (error) {
    if (runsUnchecked(arden, error)) {
      arden.options.logger.warn(
        `Arden is unreachable; running "${toolName}" unchecked because onUnavailable is 'allow'.`,
      );
      return { kind: 'run', actionId: undefined };
    }
    if (ArdenApiError.isInstance(error) && !error.isRetryable) {
      // A refused check (a bad key, a malformed call) is not a decision: fail closed, and say so.
      arden.options.logger.error(`Arden refused the check of "${toolName}": ${error.message}`);
      return refuse(new ArdenUnavailableError({ toolName, message: error.message, cause: error }));
    }
    return refuse(error);
  }
  switch (result.decision) {
    case 'allow':
      return { kind: 'run', actionId: result.actionId };
    case 'block':
      return refuse(blockedError(toolName, result));
    case 'requires_approval':
      break;
  }
  try {
    const decision = await waitForDecision(arden, result.actionId, toolName, options);
    if (decision === 'cancelled') return { kind: 'cancelled', actionId: result.actionId };
    if (decision.status === 'approved') {
      return await approvedOutcome(toolName, result.actionId, call, decision, options);
    }
    return refuse(
      new PolicyDeniedError({
        toolName,
        actionId: result.actionId,
        reason: 'denied',
        notes: decision.message,
      }),
    );
  } catch (error) {
    return refuse(error);
  }
}

/**
 * An approved call's outcome: run it as checked, or — approved with edit — with the edited
 * arguments, once the receipt is shown to bind what runs (as `guardTool` does). Throws the
 * denial when the call cannot run exactly as approved.
 */
async function approvedOutcome(
  toolName: string,
  actionId: string,
  call: McpToolCall,
  decision: DecidedCall,
  options: CheckMcpToolCallOptions,
): Promise<CheckOutcome> {
  const edited = decision.edited;
  const checked = {
    toolName,
    actionId,
    argsJson: stringifyWire([]),
    kwargsJson: stringifyWire(call.arguments),
  };
  try {
    await assertDecisionCoversCall(checked, decision.receipt, edited);
  } catch (error) {
    throw notTheExactCall(toolName, actionId, error);
  }
  if (!edited) return { kind: 'run', actionId };
  if (!options.runsEdits) throw editNotRunnable(toolName, actionId, edited, noEditsReason);
  const forwarded = editedArguments(edited);
  if (forwarded === undefined) {
    throw editNotRunnable(
      toolName,
      actionId,
      edited,
      'the edited arguments cannot be forwarded byte for byte as they were approved',
    );
  }
  return {
    kind: 'run',
    actionId,
    edited: { call: edited, arguments: forwarded, argumentsJson: edited.kwargsJson },
  };
}

/**
 * The edited arguments as an object that serializes back to exactly the approved bytes
 * (`JSON.stringify` of it is `kwargsJson`), or undefined when no such object exists.
 */
function editedArguments(edited: EditedCall): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(edited.kwargsJson);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return JSON.stringify(parsed) === edited.kwargsJson
    ? (parsed as Record<string, unknown>)
    : undefined;
}

const longPollSeconds = 30;

/**
 * Core's wait, cut into long-polls no longer than the progress interval so that progress can be
 * sent between them, and stopped by `signal` (a cancelled call must not keep a poll going).
 */
async function waitForDecision(
  arden: Arden,
  actionId: string,
  toolName: string,
  hooks: WaitHooks,
): Promise<DecidedCall | 'cancelled'> {
  const started = Date.now();
  const maxWaitMs = arden.options.maxWaitMs;
  const interval = Math.max(1000, hooks.progressIntervalMs ?? 10_000);
  const cancelled = abortPromise(hooks.signal);
  let nextProgress = started + interval;
  for (;;) {
    if (hooks.signal?.aborted) return 'cancelled';
    const now = Date.now();
    const remaining = started + maxWaitMs - now;
    if (remaining <= 0) {
      throw new ApprovalTimeoutError({ toolName, actionId, timeoutMs: maxWaitMs });
    }
    if (now >= nextProgress) {
      hooks.onWaiting?.(actionId, now - started);
      nextProgress = now + interval;
    }
    const slice = Math.min(remaining, nextProgress - now, longPollSeconds * 1000);
    const waitSeconds = Math.max(1, Math.floor(slice / 1000));
    const sliceStarted = Date.now();
    let answer: Awaited<ReturnType<Arden['status']>> | 'cancelled' | undefined;
    try {
      answer = await Promise.race([arden.status(actionId, waitSeconds), cancelled]);
    } catch (error) {
      if (ArdenApiError.isInstance(error) && !error.isRetryable) throw error;
      arden.options.logger.warn('Lost contact with Arden while waiting for approval; retrying.', {
        actionId,
      });
      answer = undefined;
    }
    if (answer === 'cancelled') return 'cancelled';
    if (answer?.status === 'approved' || answer?.status === 'denied') {
      // With the receipt and an approver's edit, if any.
      return decidedCall(answer);
    }
    // A pending answer well before the wait elapsed (a server without long-poll) or an error:
    // pause before asking again, so that nothing spins.
    const elapsed = Date.now() - sliceStarted;
    if (elapsed < waitSeconds * 1000 - 500) {
      const pause = Math.min(arden.options.pollIntervalMs, Math.max(0, nextProgress - Date.now()));
      await Promise.race([sleep(pause), cancelled]);
    }
  }
}

function abortPromise(signal: AbortSignal | undefined): Promise<'cancelled'> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve('cancelled');
    else signal.addEventListener('abort', () => resolve('cancelled'), { once: true });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    (timer as { unref?: () => void }).unref?.();
  });
}

/** What a gateway answers a `tools/call` whose params {@link toolCallParams} refused. */
export const invalidToolCallText =
  'Invalid params: tools/call needs a tool name and, optionally, an arguments object.';

/**
 * The tool name and arguments of a `tools/call`'s `params`, or undefined when they are malformed
 * (no tool name, or arguments that are not an object): answer {@link invalidToolCallText} then.
 */
export function toolCallParams(
  params: unknown,
): { tool: string; arguments: Record<string, unknown> | undefined } | undefined {
  const record = asObject(params);
  const tool = record?.name;
  const rawArguments = record?.arguments;
  if (typeof tool !== 'string' || tool.length === 0) return undefined;
  if (rawArguments !== undefined && !asObject(rawArguments)) return undefined;
  return { tool, arguments: rawArguments as Record<string, unknown> | undefined };
}

/**
 * Records a held call that will never run (its client cancelled it, or went away) as cancelled
 * in Arden, so that nobody approves a call that is gone. `ended` is the reason when the session
 * ended; otherwise the reason the client gave with its cancel (`signal.reason`) is quoted. A
 * failure is logged through `log`, never thrown: the call stays held until it expires, and
 * approving it runs nothing.
 */
export async function recordHeldCallCancelled(
  arden: Arden,
  actionId: string,
  options: { signal: AbortSignal; ended: string | undefined; log: (message: string) => void },
): Promise<void> {
  const given = options.signal.reason;
  const reason =
    options.ended ??
    `the MCP client cancelled the call${typeof given === 'string' && given ? `: ${given}` : ''}`;
  try {
    await arden.cancelHeld(actionId, reason);
  } catch (error) {
    options.log(
      `could not record action ${actionId} as cancelled in Arden (${error instanceof Error ? error.message : String(error)}); it stays held until it expires, and approving it runs nothing`,
    );
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
