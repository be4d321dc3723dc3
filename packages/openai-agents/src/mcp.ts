// The tools the SDK makes of an agent's `mcpServers`: checked as `mcp.<server>.<tool>`, at the
// point where both are known for certain — the MCP server's `callTool`/`callToolResult`, which
// the SDK's MCP tool calls with the MCP tool's own name (not the name the model saw, which
// `includeServerInToolNames` prefixes and may shorten with a hash).
import {
  ConfigurationError,
  type EditedCall,
  isValidMcpServerName,
  mcpToolName,
  withMcpEditNote,
} from '@arden/core';
import type { FunctionTool, RunContext } from '@openai/agents';
import {
  applyArden,
  type CallSite,
  denialFor,
  guardNeedsApproval,
  markGuarded,
  originalsKey,
  type ToolOriginals,
} from './guard';
import { adapterState, type ResolvedProtectOptions } from './state';

type Invoke = FunctionTool['invoke'];
type ToolCallDetails = Parameters<Invoke>[2];

interface AsyncStore<T> {
  run<R>(store: T, fn: () => R): R;
  getStore(): T | undefined;
}

/** What flows from a guarded MCP tool's `invoke` (or a guarded server method) to the server. */
interface McpCallScope {
  /** The SDK's tool call, for the check's call id and the native route's links. */
  site?: { toolName: string; callId: string | undefined; runContext: RunContext | undefined };
  /** The server and tool whose call Arden already applied (a method calling another one). */
  cleared?: { server: object; tool: string };
}

/** A new AsyncLocalStorage, or `null` on a runtime without one. */
function newStorage<T>(): AsyncStore<T> | null {
  const hooks = (
    globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  ).process?.getBuiltinModule?.('node:async_hooks') as
    | { AsyncLocalStorage?: new () => AsyncStore<T> }
    | undefined;
  return hooks?.AsyncLocalStorage ? new hooks.AsyncLocalStorage() : null;
}

let callStorage: AsyncStore<McpCallScope> | null | undefined;
let lookUpStorage: AsyncStore<McpServerLike[]> | null | undefined;

/** The scopes of MCP calls (`null`: no AsyncLocalStorage on this runtime). */
function scopes(): AsyncStore<McpCallScope> | null {
  if (callStorage === undefined) callStorage = newStorage();
  return callStorage;
}

/** The servers whose tools the current `getMcpTools` lookup made, in order. */
function lookUps(): AsyncStore<McpServerLike[]> | null {
  if (lookUpStorage === undefined) lookUpStorage = newStorage();
  return lookUpStorage;
}

/** An MCP server as the SDK sees it (the `MCPServer` interface), loosely. */
interface McpServerLike {
  name: string;
  callTool?: (...args: unknown[]) => Promise<unknown>;
  callToolResult?: (...args: unknown[]) => Promise<unknown>;
  errorFunction?: unknown;
}

/** Which server an SDK MCP tool came from, and the MCP tool's own name when the SDK kept it. */
interface McpToolIdentity {
  server: string;
  /** `undefined` when the SDK renamed the tool (`includeServerInToolNames`). */
  tool: string | undefined;
}

/** On a server: Arden guards its `callTool`/`callToolResult`. */
const guardedServerKey = Symbol.for('arden.openai-agents.mcp-server');
/** The MCP tools the SDK made (identity `undefined`: its server is not known). */
const mcpTools = new WeakMap<object, McpToolIdentity | undefined>();

function settings(): ResolvedProtectOptions | undefined {
  const state = adapterState();
  return state.installed ? state.options : undefined;
}

/** @internal Whether the SDK made this tool of an MCP server (seen by the `getMcpTools` patch). */
export function isMcpTool(tool: unknown): boolean {
  return typeof tool === 'object' && tool !== null && mcpTools.has(tool);
}

/**
 * @internal Refuses, before any tool is listed, an agent whose MCP servers Arden cannot check:
 * a server without a name usable in `mcp.<server>.<tool>`, or a runtime without
 * AsyncLocalStorage (which ties a call to its server method).
 */
export function assertCheckable(agentName: string, servers: readonly McpServerLike[]): void {
  for (const server of servers) {
    const name = server?.name;
    if (typeof name !== 'string' || !isValidMcpServerName(name)) {
      throw new ConfigurationError(
        `Agent "${agentName}" has an MCP server named ${JSON.stringify(String(name).slice(0, 80))}, which Arden cannot use in tool names (mcp.<server>.<tool>), so its tools would not be governed by your mcp.* policies. Give the server a name of 1 to 64 letters, digits, "_" or "-": new MCPServerStdio({ name: 'github', ... }).`,
        { option: 'mcpServers' },
      );
    }
  }
  if (servers.length > 0 && !scopes()) {
    throw new ConfigurationError(
      `Agent "${agentName}" has MCP servers, and this runtime has no AsyncLocalStorage, which Arden needs to check their tools. Run on Node, or put each server behind the Arden MCP gateway (arden mcp run --name NAME -- COMMAND).`,
      { option: 'mcpServers' },
    );
  }
}

/** @internal Guards a server's `callTool` and `callToolResult` (once; they read the options at call time). */
export function guardServer(server: McpServerLike): void {
  const record = server as unknown as Record<symbol, unknown>;
  if (record[guardedServerKey]) return;
  for (const method of ['callTool', 'callToolResult'] as const) {
    const original = server[method];
    if (typeof original !== 'function') continue;
    server[method] = guardedMethod(server, original, method === 'callToolResult');
  }
  Object.defineProperty(server, guardedServerKey, { value: true, configurable: true });
}

function denialContent(text: string, fullResult: boolean): unknown {
  const content = [{ type: 'text', text }];
  return fullResult ? { content, isError: true } : content;
}

function guardedMethod(
  server: McpServerLike,
  original: (...args: unknown[]) => Promise<unknown>,
  fullResult: boolean,
): (...args: unknown[]) => Promise<unknown> {
  return async function (this: unknown, ...args: unknown[]) {
    const options = settings();
    const scope = scopes();
    const [tool, input, ...rest] = args;
    if (!options || !scope || typeof tool !== 'string') return original.apply(this, args);
    const current = scope.getStore();
    // callTool calling callToolResult (as the SDK's own servers do): applied once, by the outer.
    if (current?.cleared?.server === server && current.cleared.tool === tool) {
      return original.apply(this, args);
    }
    const ardenName = mcpToolName(server.name, tool);
    const site: CallSite = {
      toolName: current?.site?.toolName ?? tool,
      ardenName,
      callId: current?.site?.callId,
      runContext: current?.site?.runContext,
      input,
      metadata: { mcp: { server: server.name, tool } },
    };
    const run = async (edited?: EditedCall) => {
      const output = await scope.run({ cleared: { server, tool } }, () =>
        original.call(this, tool, edited?.kwargs ?? input, ...rest),
      );
      return edited ? withMcpEditNote(output, edited) : output;
    };
    try {
      return await applyArden(options, site, run);
    } catch (error) {
      return denialContent(denialFor(options, error, ardenName), fullResult);
    }
  };
}

/**
 * @internal Runs the SDK's `getMcpTools` for an agent, with every server guarded, and learns each
 * tool's server: the SDK reads a server's `errorFunction` exactly once for each tool it makes of
 * it, in the order of the tools it returns, so the reads during this lookup name the tools'
 * servers. When they do not add up (another SDK version), the tools' servers stay unknown: their
 * calls are still checked, at the server, with the MCP tool's own name.
 */
export async function lookUpMcpTools(
  agent: { name?: string; mcpServers?: McpServerLike[]; mcpConfig?: unknown },
  lookUp: () => Promise<unknown[]>,
): Promise<unknown[]> {
  const servers = agent.mcpServers ?? [];
  if (servers.length === 0) return lookUp();
  assertCheckable(String(agent.name), servers);
  for (const server of servers) {
    guardServer(server);
    watchConversions(server);
  }
  const reads: McpServerLike[] = [];
  const tools = await (lookUps()?.run(reads, lookUp) ?? lookUp());
  const renamed =
    (agent.mcpConfig as { includeServerInToolNames?: unknown } | undefined)
      ?.includeServerInToolNames === true;
  const known = reads.length === tools.length;
  tools.forEach((tool, index) => {
    if (typeof tool !== 'object' || tool === null) return;
    const server = known ? reads[index] : undefined;
    mcpTools.set(
      tool,
      server
        ? { server: server.name, tool: renamed ? undefined : (tool as { name: string }).name }
        : undefined,
    );
  });
  return tools;
}

const watchedKey = Symbol.for('arden.openai-agents.mcp-conversions');

/** Notes each read of a server's `errorFunction` in the lookup that made it (value unchanged). */
function watchConversions(server: McpServerLike): void {
  const record = server as unknown as Record<symbol, unknown>;
  if (record[watchedKey]) return;
  const descriptor = Object.getOwnPropertyDescriptor(server, 'errorFunction');
  if (descriptor && !descriptor.configurable) return;
  let value = descriptor
    ? descriptor.get
      ? descriptor.get.call(server)
      : descriptor.value
    : server.errorFunction;
  Object.defineProperty(server, 'errorFunction', {
    configurable: true,
    enumerable: descriptor?.enumerable ?? true,
    get() {
      lookUps()?.getStore()?.push(server);
      return descriptor?.get ? descriptor.get.call(server) : value;
    },
    set(next: unknown) {
      if (descriptor?.set) descriptor.set.call(server, next);
      else value = next;
    },
  });
  Object.defineProperty(server, watchedKey, { value: true, configurable: true });
}

/**
 * @internal Patches an MCP tool the SDK made: its `invoke` hands the call's id and run context to
 * the guarded server method (which checks the call), and on the native route its `needsApproval`
 * checks it as `mcp.<server>.<tool>` when the SDK kept the tool's own name.
 */
export function patchMcpToolInPlace(tool: FunctionTool<any, any, any>): void {
  const record = tool as unknown as Record<symbol, unknown>;
  let originals = record[originalsKey] as ToolOriginals | undefined;
  if (!originals) {
    originals = { invoke: tool.invoke, needsApproval: tool.needsApproval };
    Object.defineProperty(tool, originalsKey, {
      value: originals,
      configurable: true,
      enumerable: false,
    });
    tool.invoke = scopedInvoke(originals.invoke, tool.name);
  }
  const identity = mcpTools.get(tool);
  if (
    adapterState().options.approval === 'native' &&
    tool.needsApproval === originals.needsApproval
  ) {
    tool.needsApproval = guardNeedsApproval(originals.needsApproval, tool.name, settings, () =>
      identity?.tool === undefined
        ? undefined
        : {
            ardenName: mcpToolName(identity.server, identity.tool),
            metadata: { mcp: { server: identity.server, tool: identity.tool } },
          },
    );
  }
}

function scopedInvoke(original: Invoke, toolName: string): Invoke {
  const invoke = function (
    this: unknown,
    runContext: RunContext,
    input: string,
    details?: ToolCallDetails,
  ) {
    const scope = scopes();
    if (!settings() || !scope) return original.call(this, runContext, input, details);
    const site = { toolName, callId: details?.toolCall?.callId, runContext };
    return scope.run({ site }, () => original.call(this, runContext, input, details));
  };
  return markGuarded(invoke as Invoke);
}
