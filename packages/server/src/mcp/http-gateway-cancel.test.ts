// A call the MCP client cancels gets no answer (MCP), and the SSE stream its POST opened ends
// then rather than when the session ends — for a call held for approval in Arden and for one
// already forwarded to a slow upstream. A client that resumes that stream (`Last-Event-ID`, as
// the MCP SDK client does after a stream that ended without its answer) is told it is over
// (204), and the gateway keeps nothing of the request. The real MCP SDK client and server, and
// raw fetch reading the SSE stream.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { mcpHttpGatewayOf } from './agent-routes';

/** The `slow` calls the upstream started, and those it heard cancelled. */
const slow = { started: [] as unknown[], cancelled: [] as unknown[] };
/** The `gate` calls waiting: each answers when the test calls its function. */
const gates: (() => void)[] = [];
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
      const mcp = new McpServer({ name: 'cancel-test', version: '1.0.0' });
      mcp.registerTool('transfer', { inputSchema: { amount: z.number() } }, async () => ({
        content: [{ type: 'text', text: 'transferred' }],
      }));
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
        content: [{ type: 'text', text: `echo: ${text}` }],
      }));
      // Answers only when cancelled (with nothing, as the SDK's server does).
      mcp.registerTool('slow', {}, async (extra) => {
        slow.started.push(extra.requestId);
        return new Promise((resolve) => {
          extra.signal.addEventListener('abort', () => {
            slow.cancelled.push(extra.requestId);
            resolve({ content: [] });
          });
        });
      });
      // Answers when the test opens its gate.
      mcp.registerTool('gate', {}, async () => {
        await new Promise<void>((resolve) => gates.push(resolve));
        return { content: [{ type: 'text', text: 'through the gate' }] };
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
    {
      name: 'Transfers need a human',
      tool: 'mcp.remote.transfer',
      default: 'requires_approval',
    },
    { name: 'The rest runs', tool: 'mcp.remote.*', action: 'allow' },
  ]);
  const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
    body: { name: 'remote', url },
  });
  expect(added.status, added.text).toBe(201);
  const gateway = mcpHttpGatewayOf(t.server);
  if (gateway) gateway.progressIntervalMs = 500;
});

afterAll(async () => {
  await mcpHttpGatewayOf(t.server)?.close();
  await t.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

/** The SDK transport's own bookkeeping (private): how many streams and requests it holds. */
interface SdkTransport {
  _webStandardTransport: {
    _streamMapping: Map<string, unknown>;
    _requestToStreamMapping: Map<unknown, string>;
    _requestResponseMap: Map<unknown, unknown>;
  };
}

/** What the gateway's session holds: nothing under way, and in the SDK's transport no stream but the GET one. */
function heldBy(sessionId: string) {
  const session = mcpHttpGatewayOf(t.server)?.sessions.get(sessionId);
  if (!session) throw new Error(`no gateway session ${sessionId}`);
  const sdk = (session.downstream as unknown as SdkTransport)._webStandardTransport;
  return {
    ...session.underWay(),
    sdkStreams: [...sdk._streamMapping.keys()].filter((id) => id !== '_GET_stream').length,
    sdkRequests: sdk._requestToStreamMapping.size,
    sdkAnswers: sdk._requestResponseMap.size,
  };
}

const nothingHeld = {
  held: 0,
  forwarded: 0,
  jsonAnswers: 0,
  posts: 0,
  sdkStreams: 0,
  sdkRequests: 0,
  sdkAnswers: 0,
};

async function heldAction(amount: number): Promise<string> {
  let actionId: string | undefined;
  await vi.waitFor(
    async () => {
      const held = await t.admin('GET', '/api/v1/approvals');
      actionId = held.json.items.find(
        (item: { tool_name: string; kwargs?: { amount?: number } }) =>
          item.tool_name === 'mcp.remote.transfer' && item.kwargs?.amount === amount,
      )?.id;
      expect(actionId).toBeDefined();
    },
    { timeout: 10_000, interval: 50 },
  );
  return actionId as string;
}

/** A fetch for the SDK client that notes each response: its status, and when its body ended. */
function watchingFetch() {
  const seen: {
    method: string;
    body: string;
    lastEventId: string | null;
    status: number;
    ended: boolean;
  }[] = [];
  const watching: typeof fetch = async (input, init) => {
    // Noted when sent: a response held back (plain JSON) is still seen, with status 0 until it comes.
    const entry = {
      method: init?.method ?? 'GET',
      body: typeof init?.body === 'string' ? init.body : '',
      lastEventId: new Headers(init?.headers).get('last-event-id'),
      status: 0,
      ended: false,
    };
    seen.push(entry);
    const response = await fetch(input, init);
    entry.status = response.status;
    entry.ended = response.body === null;
    if (!response.body) return response;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) {
          entry.ended = true;
          controller.close();
          return;
        }
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: watching, seen };
}

async function sdkClient(watched: typeof fetch) {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/remote`), {
    requestInit: { headers: { authorization: `Bearer ${t.liveKey}` } },
    fetch: watched,
    // Resumes a stream that ended without its answer after 200 ms (the SDK's default is 1 s).
    reconnectionOptions: {
      initialReconnectionDelay: 200,
      maxReconnectionDelay: 200,
      reconnectionDelayGrowFactor: 1,
      maxRetries: 2,
    },
  });
  await client.connect(transport);
  const errors: string[] = [];
  client.onerror = (error) => errors.push(error.message);
  return { client, sessionId: transport.sessionId as string, errors };
}

const headers = (sessionId?: string) => ({
  authorization: `Bearer ${t.liveKey}`,
  accept: 'application/json, text/event-stream',
  'content-type': 'application/json',
  'mcp-protocol-version': '2025-11-25',
  ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
});

/** A session opened with raw fetch (no GET stream: each call is answered over its POST's SSE stream). */
async function rawSession(): Promise<string> {
  const initialized = await fetch(`${t.url}/mcp/remote`, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'raw', version: '1.0.0' },
      },
    }),
  });
  expect(initialized.status).toBe(200);
  await initialized.text();
  const sessionId = initialized.headers.get('mcp-session-id') as string;
  const notified = await fetch(`${t.url}/mcp/remote`, {
    method: 'POST',
    headers: headers(sessionId),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(notified.status).toBe(202);
  return sessionId;
}

/** Reads an SSE response to its end: the events it carried (the test's timeout catches a stream that never ends). */
async function readToEnd(response: Response): Promise<{ id?: string; data: string }[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const id = lines
        .find((line) => line.startsWith('id:'))
        ?.slice(3)
        .trim();
      const data = lines
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .join('\n');
      return { ...(id ? { id } : {}), data };
    });
}

async function cancel(
  sessionId: string,
  requestId: number | string,
  reason: string,
): Promise<void> {
  const sent = await fetch(`${t.url}/mcp/remote`, {
    method: 'POST',
    headers: headers(sessionId),
    body: JSON.stringify({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId, reason },
    }),
  });
  expect(sent.status).toBe(202);
}

describe('a call the client cancels', () => {
  it('held for approval: its SSE stream ends without an answer, a resumption is told 204, nothing is kept (raw fetch)', async () => {
    const sessionId = await rawSession();
    const call = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: headers(sessionId),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'transfer', arguments: { amount: 701 }, _meta: { progressToken: 'p7' } },
      }),
    });
    expect(call.status).toBe(200);
    expect(call.headers.get('content-type')).toContain('text/event-stream');
    const events = readToEnd(call);
    const actionId = await heldAction(701);
    await cancel(sessionId, 7, 'changed my mind');
    // The stream ends: a priming event and progress, never an answer to request 7.
    const received = await events;
    const messages = received.filter((event) => event.data !== '').map((e) => JSON.parse(e.data));
    expect(messages.every((message) => message.method === 'notifications/progress')).toBe(true);
    const primed = received.find((event) => event.id !== undefined);
    expect(primed?.id).toEqual(expect.any(String));
    // Resuming it (as the SDK client does after a stream that ended without its answer): 204.
    const resumed = await fetch(`${t.url}/mcp/remote`, {
      method: 'GET',
      headers: { ...headers(sessionId), 'last-event-id': primed?.id as string },
    });
    expect(resumed.status).toBe(204);
    expect(await resumed.text()).toBe('');
    await vi.waitFor(() => expect(heldBy(sessionId)).toEqual(nothingHeld), { timeout: 5_000 });
    await vi.waitFor(
      async () =>
        expect((await t.admin('GET', `/api/v1/actions/${actionId}`)).json.status).toBe('cancelled'),
      { timeout: 5_000, interval: 50 },
    );
    await fetch(`${t.url}/mcp/remote`, { method: 'DELETE', headers: headers(sessionId) });
  });

  it('forwarded to a slow upstream: its SSE stream ends without an answer, the upstream hears of it (raw fetch)', async () => {
    const sessionId = await rawSession();
    const startedBefore = slow.started.length;
    const call = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: headers(sessionId),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'slow-1',
        method: 'tools/call',
        params: { name: 'slow', arguments: {} },
      }),
    });
    expect(call.headers.get('content-type')).toContain('text/event-stream');
    const events = readToEnd(call);
    await vi.waitFor(() => expect(slow.started.length).toBe(startedBefore + 1), {
      timeout: 10_000,
    });
    const cancelledBefore = slow.cancelled.length;
    const sent = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: headers(sessionId),
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 'slow-1', reason: 'took too long' },
      }),
    });
    expect(sent.status).toBe(202);
    const received = await events;
    expect(received.filter((event) => event.data !== '')).toEqual([]);
    await vi.waitFor(() => expect(slow.cancelled.length).toBe(cancelledBefore + 1), {
      timeout: 5_000,
    });
    await vi.waitFor(() => expect(heldBy(sessionId)).toEqual(nothingHeld), { timeout: 5_000 });
    // The session goes on: another call is answered, and its stream ends as usual.
    const next = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: headers(sessionId),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'echo-1',
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'still here' } },
      }),
    });
    const answered = (await readToEnd(next)).filter((event) => event.data !== '');
    expect(answered.map((event) => JSON.parse(event.data).result?.content?.[0]?.text)).toEqual([
      'echo: still here',
    ]);
    expect(heldBy(sessionId)).toEqual(nothingHeld);
    await fetch(`${t.url}/mcp/remote`, { method: 'DELETE', headers: headers(sessionId) });
  });

  it('in a batch: the stream carries the other answers, and ends once each request is answered or cancelled (raw fetch)', async () => {
    const sessionId = await rawSession();
    const call = (id: string, name: string, args: Record<string, unknown> = {}) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: args },
    });
    // A held call, then one the upstream answers when the test says: the held one is cancelled
    // first, and the stream stays open for the other's answer, then ends.
    const gatesBefore = gates.length;
    const first = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: headers(sessionId),
      body: JSON.stringify([call('a', 'transfer', { amount: 901 }), call('b', 'gate')]),
    });
    expect(first.headers.get('content-type')).toContain('text/event-stream');
    const firstEvents = readToEnd(first);
    await heldAction(901);
    await vi.waitFor(() => expect(gates.length).toBe(gatesBefore + 1), { timeout: 10_000 });
    await cancel(sessionId, 'a', 'not this one');
    await vi.waitFor(() => expect(heldBy(sessionId).held).toBe(0), { timeout: 5_000 });
    gates[gatesBefore]?.();
    const answers = (await firstEvents)
      .filter((event) => event.data !== '')
      .map((event) => JSON.parse(event.data));
    expect(answers).toEqual([
      {
        jsonrpc: '2.0',
        id: 'b',
        result: { content: [{ type: 'text', text: 'through the gate' }] },
      },
    ]);
    await vi.waitFor(() => expect(heldBy(sessionId)).toEqual(nothingHeld), { timeout: 5_000 });

    // An answered call, then a forwarded one that is cancelled: the stream ends at the cancel.
    const second = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: headers(sessionId),
      body: JSON.stringify([call('c', 'echo', { text: 'first' }), call('d', 'slow')]),
    });
    const secondEvents = readToEnd(second);
    await vi.waitFor(() => expect(heldBy(sessionId).forwarded).toBe(1), { timeout: 10_000 });
    await cancel(sessionId, 'd', 'too slow');
    const secondAnswers = (await secondEvents)
      .filter((event) => event.data !== '')
      .map((event) => JSON.parse(event.data));
    expect(secondAnswers.map((answer) => answer.id)).toEqual(['c']);
    await vi.waitFor(() => expect(heldBy(sessionId)).toEqual(nothingHeld), { timeout: 5_000 });
    await fetch(`${t.url}/mcp/remote`, { method: 'DELETE', headers: headers(sessionId) });
  });

  for (const [how, progress] of [
    ['over SSE (a progress token)', true],
    ['with plain JSON', false],
  ] as const) {
    it(`held or forwarded, with the MCP SDK client, answered ${how}: each call's response ends, and the session goes on`, async () => {
      const watched = watchingFetch();
      const { client, sessionId, errors } = await sdkClient(watched.fetch);
      const options = (signal: AbortSignal) => ({
        signal,
        ...(progress ? { onprogress: () => undefined } : {}),
      });
      // Held: cancelled while waiting for approval.
      const amount = progress ? 801 : 802;
      const heldController = new AbortController();
      const held = client.callTool(
        { name: 'transfer', arguments: { amount } },
        undefined,
        options(heldController.signal),
      );
      const actionId = await heldAction(amount);
      heldController.abort('changed my mind');
      await expect(held).rejects.toThrow();
      // Forwarded: cancelled while the upstream works on it.
      const startedBefore = slow.started.length;
      const slowController = new AbortController();
      const forwarded = client.callTool(
        { name: 'slow', arguments: {} },
        undefined,
        options(slowController.signal),
      );
      await vi.waitFor(() => expect(slow.started.length).toBe(startedBefore + 1), {
        timeout: 10_000,
      });
      slowController.abort('took too long');
      await expect(forwarded).rejects.toThrow();
      const calls = watched.seen.filter(
        (entry) => entry.method === 'POST' && entry.body.includes('"tools/call"'),
      );
      expect(calls).toHaveLength(2);
      await vi.waitFor(() => expect(calls.map((entry) => entry.ended)).toEqual([true, true]), {
        timeout: 5_000,
      });
      expect(
        calls.map((entry) => entry.status),
        'both answered 200 (SSE, or JSON that ends without an answer)',
      ).toEqual([200, 200]);
      if (progress) {
        // The client resumes each stream that ended without its answer, and is told it is over.
        await vi.waitFor(
          () =>
            expect(
              watched.seen
                .filter((entry) => entry.lastEventId !== null)
                .map((entry) => [entry.status, entry.ended]),
            ).toEqual([
              [204, true],
              [204, true],
            ]),
          { timeout: 5_000 },
        );
      }
      await vi.waitFor(() => expect(heldBy(sessionId)).toEqual(nothingHeld), { timeout: 5_000 });
      await vi.waitFor(
        async () =>
          expect((await t.admin('GET', `/api/v1/actions/${actionId}`)).json.status).toBe(
            'cancelled',
          ),
        { timeout: 5_000, interval: 50 },
      );
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'on' } });
      expect((echoed.content as { text: string }[])[0]?.text).toBe('echo: on');
      expect(errors).toEqual([]);
      expect(heldBy(sessionId)).toEqual(nothingHeld);
      await client.close();
    });
  }
});
