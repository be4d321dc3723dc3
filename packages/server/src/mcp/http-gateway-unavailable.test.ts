// The Streamable HTTP gateway fails closed: when its check cannot decide — the store is
// unreachable (the in-process check answers 503) or the check itself throws (500) — the MCP
// client gets an `isError` result and the upstream server is never called. The gateway's Arden
// client runs with `onUnavailable: 'block'` (http-gateway.ts); these tests break if it does not.
// The real MCP SDK client and server on both ends.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest';
import * as z from 'zod';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { StoreUnavailableError } from '../errors';
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
      const mcp = new McpServer({ name: 'unavailable-test', version: '1.0.0' });
      mcp.registerTool('write_file', { inputSchema: { path: z.string() } }, async ({ path }) => {
        ran.push(path);
        return { content: [{ type: 'text', text: `wrote ${path}` }] };
      });
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(request, response);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;
  t = await startAdminTestServer({});
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'Writes are fine', tool: 'mcp.files.write_file', action: 'allow' },
  ]);
  const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
    body: { name: 'files', url },
  });
  expect(added.status, added.text).toBe(201);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await mcpHttpGatewayOf(t.server)?.close();
  await t.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

async function connect(): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/files`), {
      requestInit: { headers: { authorization: `Bearer ${t.liveKey}` } },
    }),
  );
  return client;
}

const text = (result: unknown) =>
  ((result as { content: { text: string }[] }).content[0] as { text: string }).text;

test('the store unreachable (the check answers 503): the call is refused, the upstream never called', async () => {
  const client = await connect();
  // The allowed call runs while the check can decide: the upstream and the policy are fine.
  expect(text(await client.callTool({ name: 'write_file', arguments: { path: 'before' } }))).toBe(
    'wrote before',
  );
  const prepare = vi
    .spyOn(t.server.memory, 'prepare')
    .mockRejectedValue(new StoreUnavailableError('test database', 'connection refused'));
  const refused = await client.callTool({ name: 'write_file', arguments: { path: 'down' } });
  expect(prepare).toHaveBeenCalled();
  expect(refused.isError).toBe(true);
  expect(text(refused)).toMatch(/Arden/);
  expect(ran).toEqual(['before']);
  await client.close();
});

test('the check throws (500): the call is refused, the upstream never called', async () => {
  const client = await connect();
  const prepare = vi
    .spyOn(t.server.memory, 'prepare')
    .mockRejectedValue(new Error('a bug in the check'));
  const refused = await client.callTool({ name: 'write_file', arguments: { path: 'broken' } });
  expect(prepare).toHaveBeenCalled();
  expect(refused.isError).toBe(true);
  expect(ran).not.toContain('broken');
  await client.close();
});
