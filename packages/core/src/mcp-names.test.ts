import { describe, expect, it } from 'vitest';
import { ConfigurationError } from './errors';
import { isValidMcpServerName, mcpToolName, parseMcpToolName } from './mcp-names';

describe('MCP tool names', () => {
  it('names an MCP tool mcp.<server>.<tool>, keeping dots in the tool part', () => {
    expect(mcpToolName('github', 'delete_file')).toBe('mcp.github.delete_file');
    expect(mcpToolName('fs-1', 'a.b')).toBe('mcp.fs-1.a.b');
    expect(parseMcpToolName('mcp.fs-1.a.b')).toEqual({ server: 'fs-1', tool: 'a.b' });
  });

  it('refuses a server name that would make the name ambiguous', () => {
    expect(() => mcpToolName('git.hub', 'x')).toThrow(ConfigurationError);
    expect(() => mcpToolName('', 'x')).toThrow(/letters, digits/);
    expect(isValidMcpServerName('a'.repeat(65))).toBe(false);
  });

  it('parses only names that are MCP tool names', () => {
    expect(parseMcpToolName('stripe.refund')).toBeUndefined();
    expect(parseMcpToolName('mcp.github.')).toBeUndefined();
    expect(parseMcpToolName('mcp.github')).toBeUndefined();
    expect(parseMcpToolName('mcp.bad name.tool')).toBeUndefined();
  });
});
