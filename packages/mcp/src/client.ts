/**
 * `guardMcpClient`: Arden checks for TypeScript code that calls MCP tools with the MCP SDK's
 * `Client` directly (no framework, no gateway process).
 */
import {
  type Arden,
  ardenResolver,
  mcpToolName,
  type ToolDenial,
  withMcpEditNote,
} from '@arden/core';
import { checkMcpToolCall, type McpToolAnnotations, pickAnnotations } from './checker';
import { ambiguousKey } from './keys';
import { reportToolOutcome } from './outcome';

/** The part of the MCP SDK `Client` that `guardMcpClient` patches. */
export interface McpToolClient {
  callTool(params: any, resultSchema?: any, options?: any): Promise<any>;
  listTools?(params?: any, options?: any): Promise<any>;
  /** The SDK's generic request: every other route to `tools/call` goes through it. */
  request?(request: any, resultSchema?: any, options?: any): Promise<any>;
}

/** Options of {@link guardMcpClient}. */
export interface GuardMcpClientOptions {
  /** The MCP server's name in Arden: its tools are checked as `mcp.<server>.<tool>`. */
  server: string;
  /** The Arden instance. Default: the one `configure()` made, looked up at call time. */
  arden?: Arden | (() => Arden);
  /** The text the model receives when a call does not run. Default: core's `defaultDenialMessage`. */
  denialMessage?: (denial: ToolDenial) => string;
  /** Extra metadata sent with every check. */
  metadata?: Record<string, unknown>;
  /** How often a held call reports progress to `onprogress` (when the caller gave one), in ms. Default 10 000. */
  progressIntervalMs?: number;
}

const guardedMarker = Symbol.for('arden.mcp.guardedClient');

/**
 * Makes every `client.callTool()` of an MCP SDK `Client` go through Arden first, checked as
 * `mcp.<server>.<tool>` with the call's `arguments`: allowed calls run; blocked or denied ones
 * resolve to a `CallToolResult` with `isError: true` and the denial's text (the server is never
 * called); held ones wait for the decision, calling the request's `onprogress` meanwhile and
 * stopping when its `signal` aborts (then `callTool` rejects with the abort reason). A call
 * approved with edit runs the same tool with the approved arguments, and its result starts with
 * a text item saying what the approver changed.
 * `listTools()` is watched to learn each tool's annotations, which are sent with its checks.
 *
 * The SDK's other routes to `tools/call` — `client.request({ method: 'tools/call', … })`,
 * `client.requestStream()` and `client.experimental.tasks.callToolStream()`, which all send
 * through `client.request` — are checked the same way: `request` is patched too, and lets a
 * `tools/call` through unchecked only when it is the one the guarded `callTool` sends. A refused
 * call there resolves to the same `isError` result, or (a task-augmented request, which expects a
 * task) rejects with the denial's text; either way the server is not called.
 * Patches `client` in place and returns it; guarding twice throws. Throws `ConfigurationError`
 * when `server` is not a usable name.
 */
export function guardMcpClient<C extends McpToolClient>(
  client: C,
  options: GuardMcpClientOptions,
): C {
  mcpToolName(options.server, 'x');
  const marked = client as C & { [guardedMarker]?: string };
  if (marked[guardedMarker] !== undefined) {
    throw new TypeError(
      `This MCP client is already guarded by Arden (as server "${marked[guardedMarker]}"); guard it once.`,
    );
  }
  Object.defineProperty(client, guardedMarker, { value: options.server });
  const resolveArden = ardenResolver(options.arden);
  const annotations = new Map<string, McpToolAnnotations>();
  const callTool = client.callTool;
  const listTools = client.listTools;
  if (typeof listTools === 'function') {
    client.listTools = async function (this: unknown, ...parameters: unknown[]) {
      const listed = await listTools.apply(this ?? client, parameters as []);
      for (const tool of Array.isArray(listed?.tools) ? listed.tools : []) {
        if (typeof tool?.name !== 'string') continue;
        if (tool.annotations === undefined) annotations.delete(tool.name);
        else annotations.set(tool.name, pickAnnotations(tool.annotations));
      }
      return listed;
    };
  }
  const request = client.request;
  // The params objects the guarded `callTool` checked and hands to the SDK's own `callTool`, which
  // sends them through `request` as they are: the only `tools/call` that `request` lets through.
  const checked = new WeakSet<object>();

  /** Checks a call and, unless refused, sends it with `send` (the approved arguments if edited). */
  async function guardedCall(
    params: any,
    requestOptions: any,
    send: (params: any) => Promise<any>,
  ): Promise<{ refused: any } | { result: any }> {
    const arden = resolveArden();
    // A copy, checked and then sent: a caller that changes its params object while the call is
    // held (or a getter that answers differently) cannot run other arguments than Arden checked.
    params = structuredClone(params);
    const tool = params?.name;
    if (typeof tool !== 'string' || tool.length === 0) {
      throw new TypeError('callTool needs params.name, the tool to call.');
    }
    const signal: AbortSignal | undefined = requestOptions?.signal;
    let progress = 0;
    const outcome = await checkMcpToolCall(
      arden,
      {
        server: options.server,
        tool,
        arguments: (params.arguments ?? {}) as Record<string, unknown>,
        annotations: annotations.get(tool),
      },
      {
        denialMessage: options.denialMessage,
        metadata: options.metadata,
        // An approver's edit is sent in place of the call's arguments (below).
        runsEdits: true,
        signal,
        progressIntervalMs: options.progressIntervalMs,
        onWaiting: (actionId, waitedMs) => {
          if (typeof requestOptions?.onprogress !== 'function') return;
          progress += 1;
          requestOptions.onprogress({
            progress,
            message: `Waiting for a human to approve this call in Arden (action ${actionId}, ${Math.round(waitedMs / 1000)} s so far).`,
          });
        },
      },
    );
    if (outcome.kind === 'cancelled' || (outcome.kind === 'run' && signal?.aborted)) {
      // Still held: recorded cancelled in Arden, so nobody approves a call that is gone.
      if (outcome.kind === 'cancelled') {
        await arden
          .cancelHeld(outcome.actionId, 'the caller aborted the call while it was held')
          .catch((error: unknown) =>
            arden.options.logger.warn('Could not record the held call as cancelled in Arden', {
              actionId: outcome.actionId,
              error,
            }),
          );
      }
      throw signal?.reason ?? new Error(`The call to ${tool} was cancelled while Arden held it.`);
    }
    if (outcome.kind === 'refuse') return { refused: outcome.result };
    const edited = outcome.edited;
    // Approved with edit: the same tool with the approved arguments (the SDK writes them with
    // JSON.stringify, which gives back exactly the approved bytes), never the call as made.
    if (edited) params = { ...params, arguments: edited.arguments };
    const call = { method: 'tools/call', started: performance.now(), actionId: outcome.actionId };
    try {
      const result = await send(params);
      reportToolOutcome(arden, call, { result });
      // A task-augmented request answers with the task, not the tool's result: no note in it.
      return {
        result: edited && !requestOptions?.task ? withMcpEditNote(result, edited.call) : result,
      };
    } catch (error) {
      reportToolOutcome(arden, call, {
        error: {
          message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        },
      });
      throw error;
    }
  }

  client.callTool = async function (
    this: unknown,
    params: any,
    resultSchema?: any,
    requestOptions?: any,
  ) {
    const self = this ?? client;
    const answer = await guardedCall(params, requestOptions, (approved) => {
      checked.add(approved);
      return callTool.call(self, approved, resultSchema, requestOptions);
    });
    return 'refused' in answer ? answer.refused : answer.result;
  };

  if (typeof request === 'function') {
    client.request = async function (
      this: unknown,
      message: any,
      resultSchema?: any,
      requestOptions?: any,
    ) {
      const self = this ?? client;
      // One read of the caller's object: what is decided on is what is sent.
      const sent = typeof message === 'object' && message !== null ? { ...message } : message;
      // The SDK sends the request's own keys as they are: a `"Method"` or `"Params"` beside them
      // could be read as the method by a server that matches keys case-insensitively (as the
      // stdio gateway refuses it, see keys.ts).
      const ambiguous = typeof sent === 'object' && sent !== null ? ambiguousKey(sent) : undefined;
      if (ambiguous !== undefined) {
        throw new Error(
          `Arden refused this MCP request: the key ${JSON.stringify(ambiguous)} differs only in case from another the server may read, so it could run another method or tool than Arden checked. Spell each key once, in lower case.`,
        );
      }
      if (sent?.method !== 'tools/call') {
        return request.call(self, sent, resultSchema, requestOptions);
      }
      if (typeof sent.params === 'object' && sent.params !== null && checked.has(sent.params)) {
        checked.delete(sent.params);
        return request.call(self, sent, resultSchema, requestOptions);
      }
      const answer = await guardedCall(sent.params, requestOptions, (approved) =>
        request.call(self, { ...sent, params: approved }, resultSchema, requestOptions),
      );
      if ('result' in answer) return answer.result;
      if (requestOptions?.task) {
        const text = answer.refused?.content?.[0]?.text;
        throw new Error(typeof text === 'string' ? text : 'Arden refused this tool call.');
      }
      return answer.refused;
    };
  }
  return client;
}
