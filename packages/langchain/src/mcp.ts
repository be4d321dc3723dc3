import { mcpToolName } from '@arden/core';
import type { ProtectToolsOptions } from './options';
import { type InvokableTool, protectTool } from './protect';

/** Options of `protectMcpTools()`: those of `protectTools()` and the MCP server's name. */
export interface ProtectMcpToolsOptions extends ProtectToolsOptions {
  /**
   * The MCP server's name in Arden (1 to 64 letters, digits, `_` or `-`): each tool is checked as
   * `mcp.<server>.<tool>`. Use the same name as in the `mcpServers` of `MultiServerMCPClient`.
   */
  server: string;
}

/**
 * The MCP tool's own name: the LangChain tool's name less the prefix `@langchain/mcp-adapters`
 * adds with `prefixToolNameWithServerName` (`<server>__`) and `additionalToolNamePrefix`
 * (`<prefix>__<server>__`).
 */
export function mcpOwnToolName(name: string, server: string): string {
  const marker = `${server}__`;
  if (name.startsWith(marker) && name.length > marker.length) return name.slice(marker.length);
  const separator = name.indexOf('__');
  if (separator > 0) {
    const rest = name.slice(separator + 2);
    if (rest.startsWith(marker) && rest.length > marker.length) return rest.slice(marker.length);
  }
  return name;
}

/**
 * `protectTools` for the tools of one MCP server, as `@langchain/mcp-adapters` makes them
 * (`await client.getTools('github')` of a `MultiServerMCPClient`, or `loadMcpTools('github',
 * mcpClient)`): each is checked as `mcp.<server>.<tool>` — the name the Arden MCP gateway and
 * every adapter give an MCP tool, so one policy for `mcp.github.*` governs them wherever they are
 * called — with `{mcp: {server, tool, annotations}}` in the check's metadata (the annotations the
 * adapters keep in the tool's `metadata`). A bad `server` throws `ConfigurationError`.
 *
 * ```ts
 * const tools = protectMcpTools(await client.getTools('github'), { server: 'github' });
 * ```
 */
export function protectMcpTools<T extends InvokableTool>(
  tools: readonly T[],
  options: ProtectMcpToolsOptions,
): T[] {
  const { server, ...rest } = options;
  mcpToolName(server, 'tool'); // refuses a server name Arden cannot use, before any call
  return tools.map((tool) => {
    const own = mcpOwnToolName(tool.name, server);
    const annotations = (tool as { metadata?: { annotations?: unknown } }).metadata?.annotations;
    return protectTool(tool, {
      ...rest,
      toolNames: { ...rest.toolNames, [tool.name]: mcpToolName(server, own) },
      metadata: {
        ...rest.metadata,
        mcp: {
          server,
          tool: own,
          ...(annotations !== null && typeof annotations === 'object' ? { annotations } : {}),
        },
      },
    });
  });
}
