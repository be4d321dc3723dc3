import { createMCPClient } from '@ai-sdk/mcp';
import { configure, flush, uninstallAdapters } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { generateText, stepCountIs, type ToolSet } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { guardMcpTools } from './index';
import { generatingModel } from './test-helpers';

// configure() only (the telemetry route), @ai-sdk/mcp's real client against a real MCP SDK
// server, a real Arden server on SQLite whose policy blocks mcp.notes.* and allows the rest.
// An MCP tool checked under its bare name (delete_note) would slip past mcp.notes.* and run.
let t: TestServer;
const ran: string[] = [];

beforeAll(async () => {
  t = await startTestServer({
    policies: [{ name: 'No notes tools', tool: 'mcp.notes.*', action: 'block' }],
    defaultAction: 'allow',
  });
  configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
});

afterAll(async () => {
  await flush();
  uninstallAdapters();
  await t.close();
});

beforeEach(() => {
  ran.length = 0;
});

async function notesClient() {
  const server = new McpServer({ name: 'notes', version: '1.0.0' });
  server.registerTool('delete_note', { inputSchema: { id: z.string() } }, async ({ id }) => {
    ran.push(`delete_note ${id}`);
    return { content: [{ type: 'text', text: `deleted ${id}` }] };
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  return createMCPClient({ transport: clientSide as never });
}

const deleteCall = (id: string) =>
  generatingModel({ calls: [{ name: 'delete_note', input: { id: 'n1' }, id }] }, { text: 'done' });

describe('@ai-sdk/mcp tools under configure() only', () => {
  test('an unwrapped MCP tool is refused, never runs, and the error says to use guardMcpTools', async () => {
    const client = await notesClient();
    try {
      const result = await generateText({
        model: deleteCall('c1'),
        // Typed loosely: @ai-sdk/mcp is built against another provider-utils than this `ai`.
        tools: (await client.tools()) as unknown as ToolSet,
        prompt: 'delete note n1',
        stopWhen: stepCountIs(2),
      });
      expect(ran).toEqual([]);
      const error = result.steps[0]?.content.find((part) => part.type === 'tool-error') as
        | { error: Error }
        | undefined;
      expect(error?.error.name).toBe('ConfigurationError');
      expect(error?.error.message).toContain('Arden did not run MCP tool "delete_note"');
      expect(error?.error.message).toContain(
        "guardMcpTools(await client.tools(), { server: '<name>' })",
      );
      // Nothing was checked under the bare name (which the allowing default would have let run).
      expect((await t.actions()).map((action) => action.toolName)).not.toContain('delete_note');
    } finally {
      await client.close();
    }
  });

  test('guardMcpTools tools are checked once, as mcp.<server>.<tool>, and the policy blocks them', async () => {
    const client = await notesClient();
    try {
      const before = (await t.actions()).length;
      const result = await generateText({
        model: deleteCall('c2'),
        tools: guardMcpTools(await client.tools(), { server: 'notes' }),
        prompt: 'delete note n1',
        stopWhen: stepCountIs(2),
      });
      expect(ran).toEqual([]);
      const actions = (await t.actions()).slice(before);
      expect(actions.map((action) => [action.toolName, action.decision])).toEqual([
        ['mcp.notes.delete_note', 'block'],
      ]);
      expect(JSON.stringify(result.steps[0]?.toolResults)).toContain('mcp.notes.delete_note');
    } finally {
      await client.close();
    }
  });

  test('with recordInputs: false (the tool set hidden) an unwrapped MCP tool is still refused, a guardMcpTools one checked once', async () => {
    const client = await notesClient();
    try {
      const before = (await t.actions()).length;
      const refused = await generateText({
        model: deleteCall('c3'),
        tools: (await client.tools()) as unknown as ToolSet,
        prompt: 'delete note n1',
        stopWhen: stepCountIs(2),
        telemetry: { recordInputs: false },
      });
      expect(ran).toEqual([]);
      const error = refused.steps[0]?.content.find((part) => part.type === 'tool-error') as
        | { error: Error }
        | undefined;
      expect(error?.error.message).toContain('Arden did not run MCP tool "delete_note"');
      await generateText({
        model: deleteCall('c4'),
        tools: guardMcpTools(await client.tools(), { server: 'notes' }),
        prompt: 'delete note n1',
        stopWhen: stepCountIs(2),
        telemetry: { recordInputs: false },
      });
      expect(ran).toEqual([]);
      const actions = (await t.actions()).slice(before);
      expect(actions.map((action) => [action.toolName, action.decision, action.kwargs])).toEqual([
        ['mcp.notes.delete_note', 'block', { id: 'n1' }],
      ]);
    } finally {
      await client.close();
    }
  });
});
