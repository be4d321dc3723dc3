// The Streamable HTTP gateway gives each MCP session (Mcp-Session-Id) an Arden session: a
// refused call repeated in it is refused at once as a repeat, and `session.calls` counts its
// calls — each MCP session apart. The real MCP SDK client and server on both ends.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as z from 'zod';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { mcpHttpGatewayOf } from './agent-routes';

const ran: string[] = [];
let upstream: Server;
let t: AdminTestServer;

beforeAll(async () => {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  upstream = createServer(async (request, response) => {
    const sessionId = request.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, created);
        },
      });
      const mcp = new McpServer({ name: 'session-test', version: '1.0.0' });
      for (const name of ['echo', 'delete_file']) {
        mcp.registerTool(name, { inputSchema: { text: z.string() } }, async ({ text }) => {
          ran.push(`${name} ${text}`);
          return { content: [{ type: 'text', text: `${name}: ${text}` }] };
        });
      }
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(request, response);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
  t = await startAdminTestServer({});
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'No deletes', tool: 'mcp.remote.delete_file', action: 'block' },
    {
      name: 'Two echoes a session',
      tool: 'mcp.remote.echo',
      rules: [{ if: 'session.calls("mcp.remote.echo") >= 2', then: 'block' }],
      default: 'allow',
    },
  ]);
  const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
    body: { name: 'remote', url },
  });
  expect(added.status, added.text).toBe(201);
});

afterAll(async () => {
  await mcpHttpGatewayOf(t.server)?.close();
  await t.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

async function connect(): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/remote`), {
    requestInit: { headers: { authorization: `Bearer ${t.liveKey}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

const text = (result: unknown) =>
  ((result as { content: { text: string }[] }).content[0] as { text: string }).text;

async function actionsOf(sessionId: string) {
  const listed = await t.admin('GET', `/api/v1/actions?session=${sessionId}&limit=50`);
  expect(listed.status, listed.text).toBe(200);
  return (listed.json.items as Record<string, unknown>[]).filter(
    (action) => action.session_id === sessionId,
  );
}

test('an MCP session is an Arden session: a refused call repeated in it is refused as a repeat', async () => {
  const { client, transport } = await connect();
  const sessionId = transport.sessionId as string;
  expect(sessionId).toEqual(expect.any(String));
  const first = await client.callTool({ name: 'delete_file', arguments: { text: 'a.txt' } });
  expect(first.isError).toBe(true);
  const again = await client.callTool({ name: 'delete_file', arguments: { text: 'a.txt' } });
  expect(again.isError).toBe(true);
  expect(text(again)).toMatch(/already/i);
  expect(ran.filter((entry) => entry.startsWith('delete_file'))).toEqual([]);
  const actions = await actionsOf(sessionId);
  expect(actions).toHaveLength(2);
  const original = actions.find((action) => action.reason !== 'repeat_refused');
  const repeat = actions.find((action) => action.reason === 'repeat_refused');
  expect(original).toMatchObject({ tool_name: 'mcp.remote.delete_file', decision: 'block' });
  expect(repeat).toMatchObject({ decision: 'block', repeat_of: original?.id });
  await client.close();
});

test('session.calls counts the calls of one MCP session, each session apart', async () => {
  const one = await connect();
  for (const word of ['a', 'b']) {
    expect(text(await one.client.callTool({ name: 'echo', arguments: { text: word } }))).toBe(
      `echo: ${word}`,
    );
  }
  const third = await one.client.callTool({ name: 'echo', arguments: { text: 'c' } });
  expect(third.isError).toBe(true);
  expect(ran).not.toContain('echo c');
  // Another MCP session starts its count at 0.
  const two = await connect();
  expect(text(await two.client.callTool({ name: 'echo', arguments: { text: 'd' } }))).toBe(
    'echo: d',
  );
  expect(await actionsOf(one.transport.sessionId as string)).toHaveLength(3);
  await one.client.close();
  await two.client.close();
});
