import { createMCPClient } from '@ai-sdk/mcp';
import { configure, flush, uninstallAdapters } from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { generateText, stepCountIs } from 'ai';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { guardMcpTools } from './index';
import { generatingModel } from './test-helpers';

// @ai-sdk/mcp's client against a real MCP SDK server (in memory), driven by the AI SDK's mock
// model: the tools are checked as mcp.<server>.<tool>.
let arden: TestArden;
const ran: string[] = [];

beforeEach(() => {
  ran.length = 0;
  arden = createTestArden({ decisions: { 'mcp.repo.delete_file': 'block' } });
  configure(arden.options());
});

afterEach(async () => {
  await flush();
  uninstallAdapters();
});

async function repoClient() {
  const server = new McpServer({ name: 'repo', version: '1.0.0' });
  for (const name of ['read_file', 'delete_file']) {
    server.registerTool(name, { inputSchema: { path: z.string() } }, async ({ path }) => {
      ran.push(`${name} ${path}`);
      return { content: [{ type: 'text', text: `${name} done on ${path}` }] };
    });
  }
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  return createMCPClient({ transport: clientSide as never });
}

describe('guardMcpTools with @ai-sdk/mcp', () => {
  test('MCP tools are checked as mcp.<server>.<tool>; a blocked one never reaches the server', async () => {
    const client = await repoClient();
    try {
      const tools = guardMcpTools(await client.tools(), { server: 'repo' });
      const model = generatingModel(
        {
          calls: [
            { name: 'read_file', input: { path: 'a.txt' }, id: 'call-1' },
            { name: 'delete_file', input: { path: 'a.txt' }, id: 'call-2' },
          ],
        },
        { text: 'done' },
      );
      const result = await generateText({
        model,
        tools,
        prompt: 'tidy up',
        stopWhen: stepCountIs(3),
      });
      expect(result.text).toBe('done');
      expect(ran).toEqual(['read_file a.txt']);
      expect(
        arden.checks.map((check) => [check.toolName, check.kwargs, check.metadata.mcp]),
      ).toEqual([
        ['mcp.repo.read_file', { path: 'a.txt' }, { server: 'repo' }],
        ['mcp.repo.delete_file', { path: 'a.txt' }, { server: 'repo' }],
      ]);
      const outputs = JSON.stringify(result.steps[0]?.toolResults);
      expect(outputs).toContain('Arden blocked this call to \\"mcp.repo.delete_file\\"');
    } finally {
      await client.close();
    }
  });

  test('a server name that cannot be part of a tool name is refused', () => {
    expect(() => guardMcpTools({}, { server: 'my.server' })).toThrow(
      /not usable in Arden tool names/,
    );
  });
});
