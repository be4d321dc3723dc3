import { configure, flush, uninstallAdapters } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { loadMcpTools } from '@langchain/mcp-adapters';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createAgent } from 'langchain';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { ardenMiddleware, protectMcpTools } from './index';
import { answer, scriptedModel, textOf } from './test-helpers';

// configure() only (the class patch), the real @langchain/mcp-adapters over a real MCP SDK server
// and client, in a real LangChain agent, against a real Arden server on SQLite whose policy
// blocks mcp.notes.* and allows the rest. An MCP tool checked under its bare name (delete_note)
// would slip past mcp.notes.* and run.
let t: TestServer;
const ran: string[] = [];
let client: Client;

beforeAll(async () => {
  t = await startTestServer({
    policies: [{ name: 'No notes tools', tool: 'mcp.notes.*', action: 'block' }],
    defaultAction: 'allow',
  });
  configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
  const server = new McpServer({ name: 'notes', version: '1.0.0' });
  server.registerTool(
    'delete_note',
    { inputSchema: { id: z.string() }, annotations: { destructiveHint: true } },
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

beforeEach(() => {
  ran.length = 0;
});

async function runAgent(
  tools: Parameters<typeof createAgent>[0]['tools'],
  toolName: string,
  middleware?: Parameters<typeof createAgent>[0]['middleware'],
) {
  const agent = createAgent({
    model: scriptedModel(
      answer('', [{ name: toolName, args: { id: '7' }, id: 'c1' }]),
      answer('done'),
    ),
    tools,
    ...(middleware ? { middleware } : {}),
  });
  return agent.invoke({ messages: [new HumanMessage('delete note 7')] });
}

async function newActions(run: () => Promise<unknown>) {
  const before = (await t.actions()).length;
  const outcome = await run().then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );
  await flush();
  const actions = (await t.actions()).slice(before);
  return { ...outcome, actions: actions.map((action) => [action.toolName, action.decision]) };
}

describe('@langchain/mcp-adapters tools under configure() only', () => {
  test('a tool whose name does not say its server is refused, never runs, and the error says to use protectMcpTools', async () => {
    const loaded = await loadMcpTools('notes', client);
    expect(loaded.map((tool) => tool.name)).toEqual(['delete_note']);
    const { value, actions } = await newActions(() => runAgent(loaded, 'delete_note'));
    expect(ran).toEqual([]);
    expect(actions).toEqual([]);
    // The agent turns the thrown ConfigurationError into an error ToolMessage.
    const message = (value as { messages: unknown[] }).messages.find(
      (entry): entry is ToolMessage => ToolMessage.isInstance(entry),
    );
    expect(message?.status).toBe('error');
    expect(textOf(message)).toContain('Arden did not run MCP tool "delete_note"');
    expect(textOf(message)).toContain(
      "protectMcpTools(await client.getTools('<name>'), { server: '<name>' })",
    );
    // Invoked directly, too.
    await expect(loaded[0]?.invoke({ id: '8' })).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringContaining('did not run MCP tool "delete_note"'),
    });
    expect(ran).toEqual([]);
  });

  test('a tool named with its server (prefixToolNameWithServerName) is checked as mcp.<server>.<tool>', async () => {
    for (const [options, name] of [
      [{ prefixToolNameWithServerName: true }, 'notes__delete_note'],
      [
        { prefixToolNameWithServerName: true, additionalToolNamePrefix: 'mcp' },
        'mcp__notes__delete_note',
      ],
    ] as const) {
      const loaded = await loadMcpTools('notes', client, options);
      expect(loaded.map((tool) => tool.name)).toEqual([name]);
      const { value, actions } = await newActions(() => runAgent(loaded, name));
      expect(ran).toEqual([]);
      expect(actions).toEqual([['mcp.notes.delete_note', 'block']]);
      const message = (value as { messages: unknown[] }).messages.find(
        (entry): entry is ToolMessage => ToolMessage.isInstance(entry),
      );
      expect(textOf(message)).toContain('Arden blocked this call to "mcp.notes.delete_note"');
    }
    const action = (await t.actions()).at(-1);
    expect(action?.metadata).toMatchObject({
      mcp: { server: 'notes', tool: 'delete_note', annotations: { destructiveHint: true } },
    });
  });

  test('protectMcpTools tools are checked once, as mcp.<server>.<tool>', async () => {
    const loaded = await loadMcpTools('notes', client);
    const { actions } = await newActions(() =>
      runAgent(protectMcpTools(loaded, { server: 'notes' }), 'delete_note'),
    );
    expect(ran).toEqual([]);
    expect(actions).toEqual([['mcp.notes.delete_note', 'block']]);
  });

  test('ardenMiddleware() names them the same way: mcp.<server>.<tool>, or refused when the name does not say the server', async () => {
    const unprefixed = await loadMcpTools('notes', client);
    const refused = await newActions(() =>
      runAgent(unprefixed, 'delete_note', [ardenMiddleware()]),
    );
    expect(ran).toEqual([]);
    expect(refused.actions).toEqual([]);
    const message = (refused.value as { messages: unknown[] } | undefined)?.messages.find(
      (entry): entry is ToolMessage => ToolMessage.isInstance(entry),
    );
    const said =
      refused.error instanceof Error ? refused.error.message : textOf(message ?? undefined);
    expect(said).toContain('Arden did not run MCP tool "delete_note"');

    const prefixed = await loadMcpTools('notes', client, { prefixToolNameWithServerName: true });
    for (const approval of ['wait', 'interrupt'] as const) {
      const { actions } = await newActions(() =>
        runAgent(prefixed, 'notes__delete_note', [ardenMiddleware({ approval })]),
      );
      expect(ran).toEqual([]);
      expect(actions).toEqual([['mcp.notes.delete_note', 'block']]);
    }
  });
});
