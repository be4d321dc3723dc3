import { configure, flush, uninstallAdapters } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { loadMcpTools } from '@langchain/mcp-adapters';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createAgent } from 'langchain';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { mcpOwnToolName, protectMcpTools } from './index';
import { answer, scriptedModel, textOf } from './test-helpers';

// The real @langchain/mcp-adapters over a real MCP SDK server and client, in a real LangChain
// agent driven by the scripted model, against a real Arden server.
let t: TestServer;
const ran: string[] = [];
let client: Client;

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      { name: 'Notes are never deleted', tool: 'mcp.notes.delete_note', action: 'block' },
      { name: 'Notes', tool: 'mcp.notes.*', action: 'allow' },
    ],
  });
  configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
  const server = new McpServer({ name: 'notes', version: '1.0.0' });
  server.registerTool(
    'read_note',
    {
      description: 'Read a note',
      inputSchema: { id: z.string() },
      annotations: { readOnlyHint: true },
    },
    async ({ id }) => {
      ran.push(`read ${id}`);
      return { content: [{ type: 'text', text: `note ${id}: buy milk` }] };
    },
  );
  server.registerTool(
    'delete_note',
    {
      description: 'Delete a note',
      inputSchema: { id: z.string() },
      annotations: { destructiveHint: true },
    },
    async ({ id }) => {
      ran.push(`delete ${id}`);
      return { content: [{ type: 'text', text: 'deleted' }] };
    },
  );
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientSide);
});

afterAll(async () => {
  await client?.close();
  await flush();
  uninstallAdapters();
  await t.close();
});

describe('protectMcpTools with @langchain/mcp-adapters', () => {
  test("the adapters' prefixes come off: every tool is checked as mcp.<server>.<tool>", () => {
    expect(mcpOwnToolName('delete_note', 'notes')).toBe('delete_note');
    expect(mcpOwnToolName('notes__delete_note', 'notes')).toBe('delete_note');
    expect(mcpOwnToolName('mcp__notes__delete_note', 'notes')).toBe('delete_note');
    expect(mcpOwnToolName('mcp__other__delete_note', 'notes')).toBe('mcp__other__delete_note');
    expect(() => protectMcpTools([], { server: 'my.notes' })).toThrow(/not usable in Arden/);
  });

  test('a blocked MCP tool never reaches the server; the allowed one runs and is logged with its server', async () => {
    const loaded = await loadMcpTools('notes', client, {
      prefixToolNameWithServerName: true,
      additionalToolNamePrefix: 'mcp',
    });
    expect(loaded.map((tool) => tool.name).sort()).toEqual([
      'mcp__notes__delete_note',
      'mcp__notes__read_note',
    ]);
    const agent = createAgent({
      model: scriptedModel(
        answer('', [
          { name: 'mcp__notes__read_note', args: { id: '7' }, id: 'c1' },
          { name: 'mcp__notes__delete_note', args: { id: '7' }, id: 'c2' },
        ]),
        answer('Read it; not deleting.'),
      ),
      tools: protectMcpTools(loaded, { server: 'notes' }),
    });
    const result = await agent.invoke({ messages: [new HumanMessage('tidy my notes')] });
    expect(ran).toEqual(['read 7']);
    const messages = result.messages.filter((message): message is ToolMessage =>
      ToolMessage.isInstance(message),
    );
    expect(textOf(messages[0])).toContain('buy milk');
    expect(messages[1]?.status).toBe('error');
    expect(textOf(messages[1])).toMatch(
      /Arden blocked this call to "mcp\.notes\.delete_note" by policy.*"Notes are never deleted"/,
    );

    await flush();
    const actions = await t.actions();
    const read = actions.find((action) => action.toolName === 'mcp.notes.read_note');
    expect(read).toMatchObject({ decision: 'allow' });
    expect(read?.metadata).toMatchObject({
      mcp: { server: 'notes', tool: 'read_note', annotations: { readOnlyHint: true } },
    });
    expect(actions.find((action) => action.toolName === 'mcp.notes.delete_note')).toMatchObject({
      decision: 'block',
    });
  });
});
