import { mcpToolName } from '@arden/core';

/**
 * The name Arden checks a Claude Code tool under: `claude_code.<Tool>` for the built-in tools
 * (`claude_code.Bash`, `claude_code.Write`…) and `mcp.<server>.<tool>` for an MCP tool, which
 * Claude Code names `mcp__<server>__<tool>` (the rule of `claudeToolName` in
 * `@arden/claude-agent-sdk`, which the server cannot depend on). `mcpServer` is the server's
 * name from the hook input's `mcp_server.name`, when given. Throws `ConfigurationError` for a
 * server name Arden cannot use.
 */
export function claudeCodeToolName(toolName: string, mcpServer?: string): string {
  if (!toolName.startsWith('mcp__')) return `claude_code.${toolName}`;
  const rest = toolName.slice(5);
  if (mcpServer && rest.startsWith(`${mcpServer}__`) && rest.length > mcpServer.length + 2) {
    return mcpToolName(mcpServer, rest.slice(mcpServer.length + 2));
  }
  const separator = rest.indexOf('__');
  if (separator <= 0 || separator + 2 >= rest.length) return `claude_code.${toolName}`;
  return mcpToolName(rest.slice(0, separator), rest.slice(separator + 2));
}
