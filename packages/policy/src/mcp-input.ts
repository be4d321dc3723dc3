import type { McpCallInfo } from './types';

/** The MCP hints a condition reads (`mcp.annotations.destructiveHint`); others are dropped. */
const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;

/** What a condition sees as `mcp`: `{server, tool, annotations}`, or null for a non-MCP tool. */
export interface McpVariable {
  server: string;
  tool: string;
  annotations: Record<string, boolean | string>;
}

/**
 * The `mcp` variable of a call: from `input.mcp` when the caller knows it (the MCP gateway sends
 * the annotations of the upstream's `tools/list`); the server and tool come from a tool named
 * `mcp.<server>.<tool>`, else from `input.mcp`; null when neither names them. Only the MCP hint fields
 * with boolean values, and a string `title`, are kept: upstream data is untrusted.
 */
export function mcpVariable(
  tool: string,
  info: McpCallInfo | null | undefined,
): McpVariable | null {
  let server: string | undefined;
  let name: string | undefined;
  if (tool.startsWith('mcp.')) {
    const dot = tool.indexOf('.', 4);
    if (dot > 4 && dot < tool.length - 1) {
      server = tool.slice(4, dot);
      name = tool.slice(dot + 1);
    }
  }
  // A tool named mcp.<server>.<tool> names its server itself: what the call's metadata says
  // fills in only for tools the app named otherwise, so a condition on `mcp.server` always
  // agrees with the policy the name matched.
  if (server === undefined && info !== null && typeof info === 'object') {
    if (typeof info.server === 'string' && info.server !== '') server = info.server;
    if (typeof info.tool === 'string' && info.tool !== '') name = info.tool;
  }
  if (server === undefined || name === undefined) return null;
  const annotations: Record<string, boolean | string> = {};
  const source = info?.annotations;
  if (source !== null && typeof source === 'object') {
    for (const hint of HINTS) {
      if (typeof source[hint] === 'boolean') annotations[hint] = source[hint];
    }
    if (typeof source.title === 'string') annotations.title = source.title.slice(0, 200);
  }
  return { server, tool: name, annotations };
}
