import { ConfigurationError, configure, uninstallAdapters } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import { Agent, MCPServerStdio } from '@openai/agents';
import { afterEach, describe, expect, it } from 'vitest';
import { guardAgentTools, install, uninstall } from './index';

// The explicit route cannot reach the tools the SDK makes of an agent's MCP servers at run time:
// it must say so rather than leave them unchecked.
afterEach(() => {
  uninstallAdapters();
  uninstall();
});

function agentWithMcp() {
  return new Agent({
    name: 'coder',
    mcpServers: [new MCPServerStdio({ name: 'filesystem', fullCommand: 'node server.js' })],
  });
}

describe('guardAgentTools and mcpServers', () => {
  it('refuses an agent with MCP servers when nothing else checks their tools', () => {
    uninstall();
    expect(() => guardAgentTools(agentWithMcp())).toThrow(ConfigurationError);
    expect(() => guardAgentTools(agentWithMcp())).toThrow(
      /MCP servers \("filesystem"\).*configure\(\).*arden mcp run/,
    );
  });

  it('accepts it when configure() checks MCP tools at run time', () => {
    install({});
    configure(createTestArden().options());
    expect(guardAgentTools(agentWithMcp()).name).toBe('coder');
  });

  it('leaves agents without MCP servers as they were', () => {
    uninstall();
    expect(guardAgentTools(new Agent({ name: 'plain' })).name).toBe('plain');
  });
});
