import { ConfigurationError } from '@arden/core';
import { expect, test } from 'vitest';
import { claudeToolName } from './index';

test('built-in tools are claude_code.<Tool>; MCP tools mcp.<server>.<tool>', () => {
  expect(claudeToolName('Bash')).toBe('claude_code.Bash');
  expect(claudeToolName('WebFetch')).toBe('claude_code.WebFetch');
  expect(claudeToolName('mcp__github__create_issue')).toBe('mcp.github.create_issue');
  // The server's name as Claude Code gives it wins over splitting at the first "__".
  expect(claudeToolName('mcp__my__srv__do_it', 'my__srv')).toBe('mcp.my__srv.do_it');
  expect(claudeToolName('mcp__my__srv__do_it')).toBe('mcp.my.srv__do_it');
  expect(claudeToolName('mcp__odd')).toBe('claude_code.mcp__odd');
});

test('an MCP server name Arden cannot use is refused', () => {
  expect(() => claudeToolName('mcp__a.b__tool', 'a.b')).toThrow(ConfigurationError);
});
