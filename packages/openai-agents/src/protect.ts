import { ConfigurationError, resolveAdapterOptions } from '@arden/core';
import type { Agent, FunctionTool, Tool } from '@openai/agents';
import {
  explicitKey,
  guardInvoke,
  guardNeedsApproval,
  isGuarded,
  originalsKey,
  originalsOf,
  type ToolOriginals,
} from './guard';
import { isMcpTool, patchMcpToolInPlace } from './mcp';
import { adapterState, type ProtectOptions } from './state';

/** Options of `protectFunctionTool()`: the shared options, plus this tool's name in Arden. */
export interface ProtectToolOptions extends ProtectOptions {
  /** The tool's name in Arden, exactly as written (default: `toolNamePrefix` + its SDK name). */
  ardenName?: string;
}

function isFunctionTool(tool: unknown): tool is FunctionTool<any, any, any> {
  return (
    typeof tool === 'object' &&
    tool !== null &&
    (tool as { type?: unknown }).type === 'function' &&
    typeof (tool as { invoke?: unknown }).invoke === 'function'
  );
}

function defineHidden(target: object, key: symbol, value: unknown) {
  Object.defineProperty(target, key, { value, configurable: true, enumerable: false });
}

/**
 * Returns a copy of a function tool (made with the SDK's `tool()`) whose calls Arden checks first.
 * The original tool is left as it was. A tool protected this way is never checked a second time
 * by the automatic patching that `configure()` installs.
 */
export function protectFunctionTool<T extends FunctionTool<any, any, any>>(
  tool: T,
  options: ProtectToolOptions = {},
): T {
  if (!isFunctionTool(tool)) {
    throw new TypeError(
      'protectFunctionTool(tool) needs a function tool made with tool() from @openai/agents.',
    );
  }
  const { ardenName, ...rest } = options;
  const resolved = resolveAdapterOptions(
    ardenName === undefined
      ? rest
      : { ...rest, toolNames: { ...rest.toolNames, [tool.name]: ardenName } },
  );
  const originals = originalsOf(tool);
  const copy = Object.create(
    Object.getPrototypeOf(tool),
    Object.getOwnPropertyDescriptors(tool),
  ) as T;
  const settings = () => resolved;
  copy.invoke = guardInvoke(originals.invoke, tool.name, settings);
  copy.needsApproval =
    resolved.approval === 'native'
      ? guardNeedsApproval(originals.needsApproval, tool.name, settings)
      : originals.needsApproval;
  defineHidden(copy, originalsKey, originals);
  defineHidden(copy, explicitKey, true);
  return copy;
}

/**
 * Returns the tools with every function tool protected by Arden (see `protectFunctionTool`);
 * hosted, computer and shell tools are returned unchanged. Use it when you build an agent:
 * `new Agent({ tools: protectFunctionTools([refund, lookup]) })`.
 */
export function protectFunctionTools<T extends readonly unknown[]>(
  tools: T,
  options: ProtectOptions = {},
): T {
  return tools.map((tool) =>
    isFunctionTool(tool) ? protectFunctionTool(tool, options) : tool,
  ) as unknown as T;
}

/**
 * Protects the function tools of an existing agent in place (its `tools` array is replaced by
 * protected copies) and returns the agent. Agents reached through handoffs are not changed:
 * call it for each, or rely on `configure()`'s automatic interception. An agent with
 * `mcpServers` is refused (`ConfigurationError`) unless `configure()`'s interception is on, which
 * checks the tools the SDK makes of them at run time: this function cannot reach those tools, and
 * leaving them unchecked without a word would be a way around Arden.
 */
export function guardAgentTools<A extends Agent<any, any>>(
  agent: A,
  options: ProtectOptions = {},
): A {
  const servers = (agent as { mcpServers?: Array<{ name?: unknown }> }).mcpServers ?? [];
  if (servers.length > 0 && !adapterState().installed) {
    const names = servers.map((server) => JSON.stringify(String(server.name ?? '?'))).join(', ');
    throw new ConfigurationError(
      `guardAgentTools cannot check the tools of agent "${agent.name}"'s MCP servers (${names}): the SDK makes them at run time. Call configure() (with @arden/openai-agents imported), which checks them, or put each server behind the Arden MCP gateway (arden mcp run --name NAME -- COMMAND, from @arden/mcp).`,
      { option: 'mcpServers' },
    );
  }
  agent.tools = protectFunctionTools(agent.tools as Tool<any>[], options);
  return agent;
}

/**
 * @internal The automatic patch: wraps a tool's functions in place (once), reading the adapter's
 * options at call time. Tools protected explicitly are left alone.
 */
export function patchToolInPlace(tool: unknown): void {
  if (!isFunctionTool(tool)) return;
  // A tool the SDK made of an MCP server: checked at the server, as mcp.<server>.<tool>.
  if (isMcpTool(tool)) {
    patchMcpToolInPlace(tool);
    return;
  }
  const record = tool as unknown as Record<symbol, unknown>;
  if (record[explicitKey]) return;
  const state = adapterState();
  const settings = () => (state.installed ? state.options : undefined);
  let originals = record[originalsKey] as ToolOriginals | undefined;
  if (!originals) {
    if (isGuarded(tool)) return;
    originals = { invoke: tool.invoke, needsApproval: tool.needsApproval };
    defineHidden(tool, originalsKey, originals);
    tool.invoke = guardInvoke(originals.invoke, tool.name, settings);
  }
  // The SDK treats a tool with a function-valued needsApproval as conditional, so it is replaced
  // only when the native route is on.
  if (state.options.approval === 'native' && tool.needsApproval === originals.needsApproval) {
    tool.needsApproval = guardNeedsApproval(originals.needsApproval, tool.name, settings);
  }
}
