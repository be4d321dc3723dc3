import { ConfigurationError, isValidMcpServerName, mcpToolName } from '@arden/core';
import type { ResolvedOptions } from './options';

/**
 * @internal Whether a LangChain tool was made by `@langchain/mcp-adapters` (`loadMcpTools`,
 * `MultiServerMCPClient.getTools()`): such a tool answers with `responseFormat:
 * 'content_and_artifact'` and carries exactly `metadata: { annotations }` (the MCP tool's
 * annotations, `undefined` when the server gave none).
 */
export function isLangchainMcpTool(tool: unknown): boolean {
  if (typeof tool !== 'object' || tool === null) return false;
  const { responseFormat, metadata } = tool as { responseFormat?: unknown; metadata?: unknown };
  if (responseFormat !== 'content_and_artifact') return false;
  if (typeof metadata !== 'object' || metadata === null) return false;
  const keys = Object.keys(metadata);
  return keys.length === 1 && keys[0] === 'annotations';
}

/**
 * @internal The MCP server and tool that an `@langchain/mcp-adapters` tool name carries, when the
 * adapters prefixed it (`prefixToolNameWithServerName`: `<server>__<tool>`, with
 * `additionalToolNamePrefix` too: `<prefix>__<server>__<tool>`); `undefined` for a name without
 * the server (the adapters' default), which says nothing of it.
 */
export function mcpIdentityOfName(name: string): { server: string; tool: string } | undefined {
  const parts = name.split('__');
  const [server, tool] = parts.length === 2 ? parts : parts.length === 3 ? parts.slice(1) : [];
  if (server === undefined || tool === undefined || tool.length === 0) return undefined;
  return isValidMcpServerName(server) ? { server, tool } : undefined;
}

/**
 * @internal The options to check an `@langchain/mcp-adapters` tool's call with under the automatic
 * route: as `mcp.<server>.<tool>`, with `{mcp: {server, tool, annotations}}` in the metadata (as
 * `protectMcpTools` does); or a `ConfigurationError` when its name does not say its server.
 */
export function mcpCheckOptions(
  options: ResolvedOptions,
  tool: { name: string; metadata?: { annotations?: unknown } },
): ResolvedOptions | ConfigurationError {
  const identity = mcpIdentityOfName(tool.name);
  if (!identity) {
    return new ConfigurationError(
      `Arden did not run MCP tool "${tool.name}": it comes from @langchain/mcp-adapters, and Arden checks an MCP tool as mcp.<server>.<tool>, but the tool's name does not say which MCP server it belongs to, so no policy for that server could govern it. Wrap the server's tools with its name: protectMcpTools(await client.getTools('<name>'), { server: '<name>' }) from @arden/langchain (then each call is checked once, as mcp.<name>.${tool.name}), or load them with prefixToolNameWithServerName: true.`,
      { option: 'server' },
    );
  }
  const annotations = tool.metadata?.annotations;
  return {
    ...options,
    toolNames: { ...options.toolNames, [tool.name]: mcpToolName(identity.server, identity.tool) },
    metadata: {
      ...options.metadata,
      mcp: {
        ...identity,
        ...(annotations !== null && typeof annotations === 'object' ? { annotations } : {}),
      },
    },
  };
}
