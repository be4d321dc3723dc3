import { mcpToolName } from '@arden/core';

/** The prefix of Claude Code's built-in tools in Arden: `claude_code.Bash`, `claude_code.Write`. */
export const builtInToolPrefix = 'claude_code.';

/**
 * The name Arden checks a Claude Code (or Agent SDK) tool under: `claude_code.<Tool>` for the
 * built-in tools (`claude_code.Bash`, `claude_code.Write`, `claude_code.WebFetch`…), and
 * `mcp.<server>.<tool>` for an MCP tool, which Claude Code names `mcp__<server>__<tool>` — the
 * same name the MCP gateway and every adapter give it. `mcpServer` is the server's name when
 * Claude Code says it (hook input `mcp_server.name`); without it the server is the part between
 * `mcp__` and the next `__`. Throws `ConfigurationError` for a server name Arden cannot use.
 */
export function claudeToolName(toolName: string, mcpServer?: string): string {
  if (!toolName.startsWith('mcp__')) return `${builtInToolPrefix}${toolName}`;
  const rest = toolName.slice(5);
  if (mcpServer && rest.startsWith(`${mcpServer}__`) && rest.length > mcpServer.length + 2) {
    return mcpToolName(mcpServer, rest.slice(mcpServer.length + 2));
  }
  const separator = rest.indexOf('__');
  if (separator <= 0 || separator + 2 >= rest.length) return `${builtInToolPrefix}${toolName}`;
  return mcpToolName(rest.slice(0, separator), rest.slice(separator + 2));
}
