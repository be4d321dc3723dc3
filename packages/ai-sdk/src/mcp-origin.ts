import { ConfigurationError } from '@arden/core';

/**
 * @internal Whether an AI SDK tool was made by `@ai-sdk/mcp` (`createMCPClient(…).tools()` or
 * `toolsFromDefinitions()`): such a tool carries `metadata: { clientName, toolName }` (the MCP
 * client's name and the tool's own name on its server) and an own `_meta` key (the server's
 * `_meta` for the tool, often `undefined`). A tool set with names of its own does not.
 */
export function isAiSdkMcpTool(tool: unknown): boolean {
  if (typeof tool !== 'object' || tool === null || !Object.hasOwn(tool, '_meta')) return false;
  return isMcpToolMetadata((tool as { metadata?: unknown }).metadata);
}

/**
 * @internal In a tool's `metadata` (which the SDK copies to each tool call as `toolMetadata`, also
 * when telemetry hides the tool set): `guardMcpTools` checks this tool's calls itself.
 */
export const guardedMetadataKey = 'ardenGuarded';

/**
 * @internal Whether a tool's `metadata` (or a tool call's `toolMetadata`) is that of an
 * `@ai-sdk/mcp` tool: `{ clientName, toolName }`.
 */
export function isMcpToolMetadata(metadata: unknown): boolean {
  if (typeof metadata !== 'object' || metadata === null) return false;
  const { clientName, toolName } = metadata as { clientName?: unknown; toolName?: unknown };
  return typeof clientName === 'string' && typeof toolName === 'string';
}

/**
 * @internal The error of a call to an `@ai-sdk/mcp` tool that the automatic route cannot name:
 * an MCP tool is checked as `mcp.<server>.<tool>`, and nothing on the tool says which server it
 * came from, so the call does not run (a policy for `mcp.<server>.*` would otherwise miss it).
 */
export function unnamedMcpToolError(toolName: string): ConfigurationError {
  return new ConfigurationError(
    `Arden did not run MCP tool "${toolName}": it comes from @ai-sdk/mcp, and Arden checks an MCP tool as mcp.<server>.<tool>, but the tool does not say which MCP server it belongs to, so no policy for that server could govern it. Wrap the MCP client's tools with their server's name: guardMcpTools(await client.tools(), { server: '<name>' }) from @arden/ai-sdk (then each call is checked once, as mcp.<name>.${toolName}).`,
    { option: 'server' },
  );
}
