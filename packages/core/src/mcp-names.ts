import { ConfigurationError } from './errors';

/**
 * The characters an MCP server's name may hold in Arden: letters, digits, `_` and `-`. A dot
 * would make `mcp.<server>.<tool>` ambiguous (is `mcp.a.b.c` server `a` or `a.b`?), so it is
 * refused where the name is configured.
 */
const SERVER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Whether `server` can name an MCP server in Arden tool names (see {@link mcpToolName}). */
export function isValidMcpServerName(server: string): boolean {
  return SERVER_NAME.test(server);
}

/**
 * The name Arden checks an MCP tool under, the same wherever the tool is seen (the MCP gateway,
 * every adapter's MCP path, coding-agent hooks): `mcp.<server>.<tool>`, where `server` is the
 * name the gateway or adapter was given for the MCP server and `tool` the tool's own name as the
 * server lists it. Policies for `mcp.github.*` then govern every tool of that server. Throws
 * `ConfigurationError` when `server` holds anything but letters, digits, `_` and `-`.
 */
export function mcpToolName(server: string, tool: string): string {
  if (!isValidMcpServerName(server)) {
    throw new ConfigurationError(
      `MCP server name ${JSON.stringify(server.slice(0, 80))} is not usable in Arden tool names: use 1 to 64 letters, digits, "_" or "-" (it becomes mcp.<server>.<tool>).`,
      { option: 'server' },
    );
  }
  return `mcp.${server}.${tool}`;
}

/**
 * The server and tool of an Arden MCP tool name (`mcp.<server>.<tool>`), or `undefined` when the
 * name is not one. The tool part keeps any dots it holds.
 */
export function parseMcpToolName(name: string): { server: string; tool: string } | undefined {
  if (!name.startsWith('mcp.')) return undefined;
  const dot = name.indexOf('.', 4);
  if (dot < 0 || dot === name.length - 1) return undefined;
  const server = name.slice(4, dot);
  if (!isValidMcpServerName(server)) return undefined;
  return { server, tool: name.slice(dot + 1) };
}
