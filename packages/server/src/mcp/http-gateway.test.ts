// The Streamable HTTP gateway (issue #15): a real MCP SDK server on Streamable HTTP as the
// upstream, the real MCP SDK Client with StreamableHTTPClientTransport against `/mcp/<name>` of
// a listening Arden server. Blocked calls never reach the upstream, held ones run after an
// admin approves, credentials reach the upstream and nothing else.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { EventStore } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  type JSONRPCMessage,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { mcpCommand } from '../cli/commands/mcp';
import type { Logger } from '../logger';
import { openEvents } from '../test-fixtures/sse';
import { mcpHttpGatewayOf } from './agent-routes';

const bearer = 'upstream-bearer-0123456789-secret';
const customHeader = 'custom-header-value-abcdef-secret';

/** What the upstream received: each request's headers, each tool call. */
const seen = {
  headers: [] as IncomingHttpHeaders[],
  /** The text of each POST body, byte for byte. */
  bodies: [] as string[],
  calls: [] as { tool: string; args: unknown }[],
};

function upstreamServer(): McpServer {
  const mcp = new McpServer(
    { name: 'remote-test', version: '1.0.0' },
    { capabilities: { logging: {} } },
  );
  mcp.registerTool(
    'echo',
    { description: 'Echo', inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } },
    async ({ text }) => {
      seen.calls.push({ tool: 'echo', args: { text } });
      return { content: [{ type: 'text', text: `echo: ${text}` }] };
    },
  );
  mcp.registerTool(
    'delete_file',
    {
      description: 'Delete',
      inputSchema: { path: z.string() },
      annotations: { destructiveHint: true },
    },
    async ({ path }) => {
      seen.calls.push({ tool: 'delete_file', args: { path } });
      return { content: [{ type: 'text', text: `deleted ${path}` }] };
    },
  );
  mcp.registerTool(
    'transfer',
    { description: 'Transfer', inputSchema: { amount: z.number() } },
    async ({ amount }) => {
      seen.calls.push({ tool: 'transfer', args: { amount } });
      return { content: [{ type: 'text', text: `sent ${amount}` }] };
    },
  );
  mcp.registerTool(
    'ask',
    { description: 'Asks the client: sampling, elicitation and a log message' },
    async (extra) => {
      const related = { relatedRequestId: extra.requestId };
      const sampled = await mcp.server.createMessage(
        { messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }], maxTokens: 10 },
        related,
      );
      const elicited = await mcp.server.elicitInput(
        {
          message: 'Your name?',
          requestedSchema: { type: 'object', properties: { name: { type: 'string' } } },
        },
        related,
      );
      await extra.sendNotification({
        method: 'notifications/message',
        params: { level: 'info', data: 'logged from the tool' },
      });
      const said = sampled.content.type === 'text' ? sampled.content.text : '?';
      return { content: [{ type: 'text', text: `${said} / ${String(elicited.content?.name)}` }] };
    },
  );
  mcp.registerResource('greeting', 'test://greeting', {}, async (uri) => ({
    contents: [{ uri: uri.href, text: 'hello from the upstream' }],
  }));
  return mcp;
}

let upstream: Server;
let upstreamUrl: string;
let t: AdminTestServer;
const logLines: string[] = [];

function capturingLogger(fields: Record<string, unknown> = {}): Logger {
  const write = (level: string) => (message: string, more?: Record<string, unknown>) =>
    logLines.push(JSON.stringify({ level, message, ...fields, ...more }));
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => capturingLogger({ ...fields, ...more }),
  };
}

beforeAll(async () => {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  upstream = createServer(async (request, response) => {
    seen.headers.push(request.headers);
    let parsedBody: unknown;
    if (request.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      seen.bodies.push(text);
      parsedBody = JSON.parse(text);
    }
    const sessionId = request.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, created);
        },
      });
      await upstreamServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(request, response, parsedBody);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`;

  t = await startAdminTestServer({ logger: capturingLogger() });
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'No deletes', tool: 'mcp.remote.delete_file', action: 'block' },
    {
      name: 'Transfers need a human',
      tool: 'mcp.remote.transfer',
      // 40 is allowed: the amount an approver edits a held transfer down to (an edited call
      // that still needed approval would wait for a second approver).
      rules: [{ if: 'args.amount == 40', then: 'allow' }],
      default: 'requires_approval',
    },
  ]);
  const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
    body: {
      name: 'remote',
      url: upstreamUrl,
      bearer_token: bearer,
      headers: { 'X-Custom': customHeader },
    },
  });
  expect(added.status).toBe(201);
  expect(added.text).not.toContain(bearer);
  expect(added.text).not.toContain(customHeader);
  expect(added.json).toMatchObject({
    name: 'remote',
    endpoint: '/mcp/remote',
    origin: new URL(upstreamUrl).origin,
    header_names: ['X-Custom', 'Authorization'],
  });
  const gateway = mcpHttpGatewayOf(t.server);
  if (gateway) gateway.progressIntervalMs = 1_000;
});

afterAll(async () => {
  await mcpHttpGatewayOf(t.server)?.close();
  await t.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

async function connect(key = t.liveKey, name = 'remote'): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/${name}`), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

function text(result: unknown): string {
  return ((result as { content: { text: string }[] }).content[0] as { text: string }).text;
}

/**
 * A second upstream for faults: sessions opened while `resumable` have an event store (`pause`
 * closes its call's SSE stream and answers after), `crash` goes away mid-answer, `forget()` ends
 * every session (then any request with a session id gets the SDK's 404), `hang` never answers
 * (and records the cancellations it receives in `cancelled`; `openPosts()` counts the POSTs
 * still answering), `late` answers 1 s after it was
 * called even when it was cancelled meanwhile (a careless server: the SDK's would not).
 */
async function flakyUpstream() {
  const events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  const eventStore: EventStore = {
    async storeEvent(streamId, message) {
      const id = `${streamId}_${events.size}`;
      events.set(id, { streamId, message });
      return id;
    },
    async getStreamIdForEventId(eventId) {
      return events.get(eventId)?.streamId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const streamId = events.get(lastEventId)?.streamId ?? '';
      let after = false;
      for (const [id, event] of events) {
        if (after && event.streamId === streamId) await send(id, event.message);
        if (id === lastEventId) after = true;
      }
      return streamId;
    },
  };
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const ended: StreamableHTTPServerTransport[] = [];
  const cancelled: unknown[] = [];
  let openPosts = 0;
  let current: import('node:http').ServerResponse | undefined;
  const server = createServer(async (request, response) => {
    current = response;
    if (request.method === 'POST') {
      openPosts += 1;
      response.once('close', () => {
        openPosts -= 1;
      });
    }
    const sessionId = request.headers['mcp-session-id'];
    // An ended session's id reaches a transport of another session: the SDK answers 404.
    let transport =
      typeof sessionId === 'string' ? (sessions.get(sessionId) ?? ended[0]) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        ...(upstream.resumable ? { eventStore, retryInterval: 20 } : {}),
        onsessioninitialized: (id) => {
          sessions.set(id, created);
        },
      });
      const mcp = new McpServer(
        { name: 'flaky', version: '1.0.0' },
        { capabilities: { logging: {} } },
      );
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
        content: [{ type: 'text', text: `flaky echo: ${text}` }],
      }));
      mcp.registerTool('pause', {}, async (extra) => {
        extra.closeSSEStream?.();
        await new Promise((resolve) => setTimeout(resolve, 60));
        return { content: [{ type: 'text', text: 'after the pause' }] };
      });
      mcp.registerTool('crash', {}, async (extra) => {
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', data: 'working' },
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
        current?.socket?.destroy();
        return { content: [{ type: 'text', text: 'never seen' }] };
      });
      mcp.registerTool('hang', {}, async (extra) => {
        extra.signal.addEventListener('abort', () => cancelled.push(extra.requestId));
        return new Promise(() => {});
      });
      mcp.registerTool('late', {}, async (extra) => {
        setTimeout(() => {
          void created
            .send({
              jsonrpc: '2.0',
              id: extra.requestId,
              result: { content: [{ type: 'text', text: 'too late' }] },
            })
            .catch(() => undefined);
        }, 1_000);
        return new Promise(() => {});
      });
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstream = {
    resumable: true,
    cancelled,
    /** The POSTs whose answer has not ended. */
    openPosts: () => openPosts,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    forget() {
      ended.push(...sessions.values());
      sessions.clear();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return upstream;
}

/**
 * An upstream with faults for `tools/call`: `hang` never answers, `garbage` answers JSON that is
 * not JSON-RPC, `garbage_sse` an SSE event that is not JSON and keeps the stream open, `huge` and
 * `huge_sse` a 1 MiB answer; everything else (and `echo`) is the real MCP SDK server.
 */
async function faultyUpstream() {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const bodies: string[] = [];
  const hanging: import('node:http').ServerResponse[] = [];
  const huge = 'x'.repeat(1024 * 1024);
  const server = createServer(async (request, response) => {
    let parsedBody: unknown;
    if (request.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      bodies.push(text);
      parsedBody = JSON.parse(text);
    }
    const message = parsedBody as {
      id?: number;
      method?: string;
      params?: { name?: string; uri?: string };
    };
    // A huge resource, as JSON and as SSE: through the MCP SDK's transport, not the lean POST.
    if (message?.method === 'resources/read' && message.params?.uri?.startsWith('test://huge')) {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: message.id,
        result: { contents: [{ uri: message.params.uri, text: huge }] },
      });
      if (message.params.uri === 'test://huge') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(body);
      } else {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(`event: message\ndata: ${body}\n\n`);
        hanging.push(response);
      }
      return;
    }
    if (message?.method === 'tools/call') {
      const answer = (result: unknown) =>
        JSON.stringify({ jsonrpc: '2.0', id: message.id, result });
      switch (message.params?.name) {
        case 'hang':
          hanging.push(response);
          return;
        case 'garbage':
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end('{"jsonrpc":"2.0","id":oops');
          return;
        case 'garbage_sse':
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.write('event: message\ndata: {"jsonrpc":"2.0","id":oops\n\n');
          hanging.push(response);
          return;
        case 'huge':
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(answer({ content: [{ type: 'text', text: huge }] }));
          return;
        case 'huge_sse':
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.end(`data: ${answer({ content: [{ type: 'text', text: huge }] })}\n\n`);
          return;
      }
    }
    const sessionId = request.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, created);
        },
      });
      const mcp = new McpServer({ name: 'faulty', version: '1.0.0' });
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
        content: [{ type: 'text', text: `faulty echo: ${text}` }],
      }));
      for (const name of ['hang', 'garbage', 'garbage_sse', 'huge', 'huge_sse']) {
        mcp.registerTool(name, {}, async () => ({ content: [{ type: 'text', text: 'unused' }] }));
      }
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(request, response, parsedBody);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    bodies,
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The outcome Arden recorded for the newest action of a tool, once reported. */
async function recordedOutcome(tool: string): Promise<{ status: string; error: string | null }> {
  let outcome: { status: string; error: string | null } | null = null;
  await vi.waitFor(
    async () => {
      const actions = await t.admin('GET', `/api/v1/actions?tool=${tool}&limit=1`);
      outcome = actions.json.items[0]?.outcome ?? null;
      expect(outcome).not.toBeNull();
    },
    { timeout: 10_000, interval: 100 },
  );
  return outcome as unknown as { status: string; error: string | null };
}

describe('the Streamable HTTP gateway at /mcp/<name>', () => {
  it('passes an allowed call through, with the credentials sent to the upstream only', async () => {
    const client = await connect();
    const callsBefore = seen.calls.length;
    const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(text(result)).toBe('echo: hi');
    expect(seen.calls.slice(callsBefore)).toEqual([{ tool: 'echo', args: { text: 'hi' } }]);
    // Every request to the upstream carried the registered credentials, never the agent key.
    expect(seen.headers.length).toBeGreaterThan(0);
    for (const headers of seen.headers) {
      expect(headers.authorization).toBe(`Bearer ${bearer}`);
      expect(headers['x-custom']).toBe(customHeader);
      expect(JSON.stringify(headers)).not.toContain(t.liveKey);
    }
    // Resources pass through unchanged.
    const resource = await client.readResource({ uri: 'test://greeting' });
    expect(resource.contents[0]).toMatchObject({ text: 'hello from the upstream' });
    // The action records the server and the MCP name.
    const actions = await t.admin('GET', '/api/v1/actions?tool=mcp.remote.echo');
    expect(actions.status).toBe(200);
    expect(JSON.stringify(actions.json)).toContain('mcp.remote.echo');
    await client.close();
  });

  it('reports the tool list it relays: the dashboards’ stream hears of it (no secret)', async () => {
    const dashboard = await openEvents(t.url, t.tokens.viewer);
    try {
      const client = await connect();
      await client.listTools();
      const reported = await dashboard.waitFor(
        (event) =>
          event.event === 'mcp.tools_reported' && event.data.mcp_upstream?.name === 'remote',
      );
      expect(reported.data.mcp_upstream).toMatchObject({
        agent_id: t.agent.id,
        environment: 'live',
        transport: 'http',
        tool_count: expect.any(Number),
      });
      expect(reported.data.mcp_upstream.tool_count).toBeGreaterThan(0);
      expect(JSON.stringify(reported.data)).not.toContain(bearer);
      expect(JSON.stringify(reported.data)).not.toContain(new URL(upstreamUrl).pathname);
      await client.close();
    } finally {
      await dashboard.close();
    }
  });

  it('checks each call in process, with the agent API’s own check: logged, no loopback request', async () => {
    const client = await connect();
    const match = vi.spyOn(t.server.router, 'match');
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'in process' } });
      expect(text(result)).toBe('echo: in process');
      const blocked = await client.callTool({ name: 'delete_file', arguments: { path: '/x' } });
      expect(blocked.isError).toBe(true);
      const paths = match.mock.calls.map(([, path]) => path);
      expect(paths).toContain('/mcp/remote');
      expect(paths).not.toContain('/policy/check');
    } finally {
      match.mockRestore();
    }
    // Both checks were logged as any check is, with the gateway's metadata.
    const actions = await t.admin('GET', '/api/v1/actions?limit=5');
    const logged = (actions.json.items as { tool_name: string; decision: string }[]).slice(0, 2);
    expect(logged.map((item) => [item.tool_name, item.decision])).toEqual([
      ['mcp.remote.delete_file', 'block'],
      ['mcp.remote.echo', 'allow'],
    ]);
    await client.close();
  });

  it('answers a call without a progress token with application/json, one with a token over SSE', async () => {
    const types: string[] = [];
    const client = new Client({ name: 'test-client', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/remote`), {
        requestInit: { headers: { authorization: `Bearer ${t.liveKey}` } },
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          const body = typeof init?.body === 'string' ? init.body : '';
          if (body.includes('"tools/call"'))
            types.push(String(response.headers.get('content-type')));
          return response;
        },
      }),
    );
    // Plain JSON once the client's own stream (GET) is open, which the SDK client opens after
    // initialize: what the upstream sends during a call needs somewhere to go.
    await vi.waitFor(() => {
      const sessions = [...(mcpHttpGatewayOf(t.server)?.sessions.values() ?? [])];
      expect(sessions.some((session) => session.openStreams > 0)).toBe(true);
    });
    const plain = await client.callTool({ name: 'echo', arguments: { text: 'plain' } });
    expect(text(plain)).toBe('echo: plain');
    const refused = await client.callTool({ name: 'delete_file', arguments: { path: '/x' } });
    expect(refused.isError).toBe(true);
    const streamed = await client.callTool(
      { name: 'echo', arguments: { text: 'streamed' } },
      undefined,
      { onprogress: () => undefined },
    );
    expect(text(streamed)).toBe('echo: streamed');
    expect(types).toEqual(['application/json', 'application/json', 'text/event-stream']);
    await client.close();

    // A client with no GET stream open gets its call's answer over SSE.
    const headers = {
      authorization: `Bearer ${t.liveKey}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const opened = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      }),
    });
    await opened.text();
    const session = {
      ...headers,
      'mcp-session-id': String(opened.headers.get('mcp-session-id')),
      'mcp-protocol-version': '2025-06-18',
    };
    const initialized = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: session,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    expect(initialized.status).toBe(202);
    const called = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: session,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'no stream' } },
      }),
    });
    expect(called.headers.get('content-type')).toBe('text/event-stream');
    expect(await called.text()).toContain('echo: no stream');
    await fetch(`${t.url}/mcp/remote`, { method: 'DELETE', headers: session });
  });

  it('forwards the exact bytes of numbers JavaScript would rewrite, and checks them exactly', async () => {
    const raw = (text: string) =>
      (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(text);
    const client = await connect();
    for (const progress of [undefined, () => undefined]) {
      const bodiesBefore = seen.bodies.length;
      const result = await client.callTool(
        {
          name: 'echo',
          arguments: {
            text: 'numbers',
            big: raw('12345678901234567891'),
            nested: { one: raw('1.0'), zero: raw('-0'), list: [raw('1E2')] },
          },
        },
        undefined,
        progress ? { onprogress: progress } : {},
      );
      expect(text(result)).toBe('echo: numbers');
      const sent = seen.bodies.slice(bodiesBefore).find((body) => body.includes('"tools/call"'));
      expect(sent).toContain(
        '"big":12345678901234567891,"nested":{"one":1.0,"zero":-0,"list":[1E2]}',
      );
    }
    // The check saw the integer exactly.
    const actions = await t.admin('GET', '/api/v1/actions?tool=mcp.remote.echo&limit=1');
    expect(actions.text).toContain('12345678901234567891');
    expect(actions.text).not.toContain('12345678901234567000');
    // A number no value holds is refused, never forwarded.
    const bodiesBefore = seen.bodies.length;
    await expect(
      client.callTool({ name: 'echo', arguments: { text: 'x', huge: raw('1e400') } }),
    ).rejects.toThrow(/cannot be checked exactly/);
    expect(seen.bodies.slice(bodiesBefore).some((body) => body.includes('1e400'))).toBe(false);
    await client.close();
  });

  it("relays the upstream's sampling and elicitation requests, the client's answers and log messages", async () => {
    const client = new Client(
      { name: 'test-client', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: {} } },
    );
    const asked: string[] = [];
    const logged: unknown[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked.push('sampling');
      return {
        role: 'assistant',
        content: { type: 'text', text: 'hi from the model' },
        model: 'mock',
      };
    });
    client.setRequestHandler(ElicitRequestSchema, async () => {
      asked.push('elicitation');
      return { action: 'accept', content: { name: 'Ada' } };
    });
    client.setNotificationHandler(LoggingMessageNotificationSchema, async (notification) => {
      logged.push(notification.params.data);
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/remote`), {
        requestInit: { headers: { 'x-api-key': t.liveKey } },
      }),
    );
    const result = await client.callTool({ name: 'ask', arguments: {} });
    expect(text(result)).toBe('hi from the model / Ada');
    expect(asked).toEqual(['sampling', 'elicitation']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(logged).toContain('logged from the tool');
    await client.close();
  });

  it('refuses a call of more JSON values than ARDEN_CHECK_VALUE_LIMIT in its in-process check: never run', async () => {
    const client = await connect();
    const limit = t.server.config.checkValueLimit;
    const callsBefore = seen.calls.length;
    // The upstream's schema takes `text` only; the check sees every argument the client sent.
    const result = await client.callTool({
      name: 'echo',
      arguments: { text: 'many', items: Array(limit).fill(0) },
    });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('did not run');
    expect(text(result)).toContain('ARDEN_CHECK_VALUE_LIMIT');
    expect(seen.calls.length).toBe(callsBefore);
    // Within the limit the same tool runs.
    const small = await client.callTool({ name: 'echo', arguments: { text: 'few', items: [0] } });
    expect(text(small)).toBe('echo: few');
    await client.close();
  });

  it('hides the always-blocked tool and never lets a blocked call reach the upstream', async () => {
    const client = await connect();
    const tools = await client.listTools();
    expect(tools.tools.map((tool) => tool.name).sort()).toEqual(['ask', 'echo', 'transfer']);
    const callsBefore = seen.calls.length;
    const result = await client.callTool({ name: 'delete_file', arguments: { path: '/etc/x' } });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('No deletes');
    expect(seen.calls.length).toBe(callsBefore);
    // The upstream was recorded with its tools for this agent, as an HTTP upstream.
    const upstreams = await t.admin('GET', `/api/v1/mcp/upstreams?agent=${t.agent.name}`);
    expect(upstreams.json.items).toContainEqual(
      expect.objectContaining({ name: 'remote', transport: 'http', tool_count: 4 }),
    );
    await client.close();
  });

  it('keeps the always-blocked tool in tools/list when the upstream says so (show_blocked_tools), still blocking it', async () => {
    const out: string[] = [];
    const io = {
      stdout: (chunk: string) => out.push(chunk),
      stderr: (chunk: string) => out.push(chunk),
      env: {},
      cwd: '/',
    };
    const connection = ['--url', t.url, '--token', t.tokens.admin];
    expect(
      await mcpCommand(['upstreams', 'set', 'remote', '--show-blocked-tools', ...connection], io),
    ).toBe(0);
    expect(out.join('')).toContain('remote: tools/list keeps the tools a policy always blocks');
    const shown = await t.admin('GET', '/api/v1/mcp/http-upstreams/remote');
    expect(shown.json.show_blocked_tools).toBe(true);
    try {
      const client = await connect();
      const tools = await client.listTools();
      expect(tools.tools.map((tool) => tool.name).sort()).toEqual([
        'ask',
        'delete_file',
        'echo',
        'transfer',
      ]);
      // Listed, and still blocked.
      const callsBefore = seen.calls.length;
      const result = await client.callTool({ name: 'delete_file', arguments: { path: '/x' } });
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('No deletes');
      expect(seen.calls.length).toBe(callsBefore);
      await client.close();
    } finally {
      const hidden = await t.admin('PATCH', '/api/v1/mcp/http-upstreams/remote', {
        body: { show_blocked_tools: false },
      });
      expect(hidden.status).toBe(200);
      expect(hidden.json.show_blocked_tools).toBe(false);
    }
    const again = await connect();
    expect((await again.listTools()).tools.map((tool) => tool.name)).not.toContain('delete_file');
    await again.close();
    // Set at registration too; only an admin changes it.
    const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'shown', url: upstreamUrl, show_blocked_tools: true },
    });
    expect(added.status).toBe(201);
    expect(added.json.show_blocked_tools).toBe(true);
    const viewer = await t.admin('PATCH', '/api/v1/mcp/http-upstreams/shown', {
      as: 'viewer',
      body: { show_blocked_tools: false },
    });
    expect(viewer.status).toBe(403);
    expect((await t.admin('DELETE', '/api/v1/mcp/http-upstreams/shown')).status).toBe(200);
  });

  it('holds a call until an admin approves it, with progress meanwhile, then runs it', async () => {
    const client = await connect();
    const callsBefore = seen.calls.length;
    const progress: unknown[] = [];
    const pending = client.callTool({ name: 'transfer', arguments: { amount: 7 } }, undefined, {
      onprogress: (update) => progress.push(update),
      timeout: 20_000,
    });
    let actionId: string | undefined;
    for (let attempt = 0; attempt < 100 && !actionId; attempt++) {
      const held = await t.admin('GET', '/api/v1/approvals');
      actionId = held.json.items.find(
        (item: { tool_name: string }) => item.tool_name === 'mcp.remote.transfer',
      )?.id;
      if (!actionId) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(actionId).toBeDefined();
    // Held: the upstream has not been called.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(seen.calls.length).toBe(callsBefore);
    const approved = await t.admin('POST', `/api/v1/approvals/${actionId}/approve`, {
      as: 'approver',
      body: {},
    });
    expect(approved.status).toBe(200);
    const result = await pending;
    expect(text(result)).toBe('sent 7');
    expect(seen.calls.slice(callsBefore)).toEqual([{ tool: 'transfer', args: { amount: 7 } }]);
    expect(progress.length).toBeGreaterThan(0);
    expect(JSON.stringify(progress[0])).toContain('Waiting for a human');
    await client.close();
  });

  it('runs a call approved with an edit with the edited arguments, byte for byte, never the original', async () => {
    const client = await connect();
    const callsBefore = seen.calls.length;
    const bodiesBefore = seen.bodies.length;
    const pending = client.callTool({ name: 'transfer', arguments: { amount: 4000 } }, undefined, {
      timeout: 20_000,
    });
    let actionId: string | undefined;
    for (let attempt = 0; attempt < 100 && !actionId; attempt++) {
      const held = await t.admin('GET', '/api/v1/approvals');
      actionId = held.json.items.find(
        (item: { tool_name: string }) => item.tool_name === 'mcp.remote.transfer',
      )?.id;
      if (!actionId) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(actionId).toBeDefined();
    const approved = await t.admin('POST', `/api/v1/approvals/${actionId}/approve`, {
      as: 'approver',
      body: { kwargs: { amount: 40 }, notes: 'forty, not four thousand' },
    });
    expect(approved.status).toBe(200);
    const result = await pending;
    expect(result.isError).toBeFalsy();
    expect(seen.calls.slice(callsBefore)).toEqual([{ tool: 'transfer', args: { amount: 40 } }]);
    // The upstream received exactly the approved bytes as the call's arguments.
    const posted = seen.bodies
      .slice(bodiesBefore)
      .find((body) => body.includes('"method":"tools/call"'));
    expect(posted).toContain('"arguments":{"amount":40}');
    expect(posted).not.toContain('4000');
    // The model reads what the approver changed before the result.
    const content = result.content as Array<{ type: string; text: string }>;
    expect(content[0]?.text).toMatch(/^\[Arden\] .*changed arguments/s);
    expect(content[1]?.text).toBe('sent 40');
    await client.close();
  });

  it('resumes a client whose SSE stream broke mid-call: it reconnects with Last-Event-ID and gets what it missed', async () => {
    // The client's network drops the held call's SSE stream after its first progress event.
    const resumedFrom: string[] = [];
    /** How many progress notifications the client had when it resumed. */
    let progressAtResume: number | undefined;
    let cut = false;
    const progress: { progress: number }[] = [];
    const flakyFetch: typeof fetch = async (input, init) => {
      const lastEventId = new Headers(init?.headers).get('last-event-id');
      if (init?.method === 'GET' && lastEventId) {
        resumedFrom.push(lastEventId);
        progressAtResume ??= progress.length;
      }
      const response = await fetch(input, init);
      const type = response.headers.get('content-type') ?? '';
      if (cut || init?.method !== 'POST' || !type.includes('text/event-stream')) return response;
      if (!String(init.body).includes('"transfer"') || !response.body) return response;
      cut = true;
      const reader = response.body.getReader();
      let breakNow = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (breakNow) {
            await reader.cancel();
            controller.error(new TypeError('network connection lost'));
            return;
          }
          const { value, done } = await reader.read();
          if (done) {
            controller.close();
            return;
          }
          controller.enqueue(value);
          if (new TextDecoder().decode(value).includes('notifications/progress')) breakNow = true;
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const client = new Client({ name: 'test-client', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${t.url}/mcp/remote`), {
        requestInit: { headers: { authorization: `Bearer ${t.liveKey}` } },
        fetch: flakyFetch,
        reconnectionOptions: {
          initialReconnectionDelay: 2_500,
          maxReconnectionDelay: 3_000,
          reconnectionDelayGrowFactor: 1.5,
          maxRetries: 3,
        },
      }),
    );
    const errors: string[] = [];
    client.onerror = (error) => errors.push(error.message);
    const pending = client.callTool({ name: 'transfer', arguments: { amount: 11 } }, undefined, {
      onprogress: (update) => progress.push(update),
      timeout: 20_000,
    });
    let actionId: string | undefined;
    await vi.waitFor(
      async () => {
        const held = await t.admin('GET', '/api/v1/approvals');
        actionId = held.json.items.find(
          (item: { tool_name: string }) => item.tool_name === 'mcp.remote.transfer',
        )?.id;
        expect(actionId).toBeDefined();
      },
      { timeout: 5_000, interval: 50 },
    );
    // The stream broke after the first progress; the client resumed from its last event, and
    // the progress sent while it was away reached it on the resumed stream.
    await vi.waitFor(
      () => {
        expect(cut).toBe(true);
        expect(resumedFrom.length).toBeGreaterThan(0);
        expect(progress.length).toBeGreaterThanOrEqual(4);
      },
      { timeout: 10_000, interval: 100 },
    );
    const approved = await t.admin('POST', `/api/v1/approvals/${actionId}/approve`, {
      as: 'approver',
      body: {},
    });
    expect(approved.status).toBe(200);
    expect(text(await pending)).toBe('sent 11');
    // Away for 2.5 s with progress every second: what was sent meanwhile came by the replay.
    expect(progressAtResume).toBe(1);
    // Nothing missed, nothing twice: progress 1, 2, 3, … in order.
    expect(progress.map((update) => update.progress)).toEqual(
      progress.map((_, index) => index + 1),
    );
    expect(errors.filter((message) => !/network connection lost/.test(message))).toEqual([]);
    await client.close();
  });

  it('records a held call the client cancelled as cancelled: it never runs, approving it is a 409', async () => {
    const client = await connect();
    const callsBefore = seen.calls.length;
    const controller = new AbortController();
    const pending = client.callTool({ name: 'transfer', arguments: { amount: 99 } }, undefined, {
      signal: controller.signal,
    });
    let actionId: string | undefined;
    for (let attempt = 0; attempt < 100 && !actionId; attempt++) {
      const held = await t.admin('GET', '/api/v1/approvals');
      actionId = held.json.items.find(
        (item: { tool_name: string; arguments?: unknown }) =>
          item.tool_name === 'mcp.remote.transfer',
      )?.id;
      if (!actionId) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(actionId).toBeDefined();
    controller.abort('changed my mind');
    await expect(pending).rejects.toThrow();
    // The gateway records the held call as cancelled; approving it afterwards is a 409.
    let status: string | undefined;
    for (let attempt = 0; attempt < 100 && status !== 'cancelled'; attempt++) {
      status = (await t.admin('GET', `/api/v1/actions/${actionId}`)).json.status;
      if (status !== 'cancelled') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe('cancelled');
    const approved = await t.admin('POST', `/api/v1/approvals/${actionId}/approve`, {
      as: 'approver',
      body: {},
    });
    expect(approved.status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(seen.calls.slice(callsBefore)).toEqual([]);
    await client.close();
  });

  it('answers 401 JSON for a missing or wrong agent key, and 404 for an unknown upstream', async () => {
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'curl', version: '1' },
      },
    };
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
        body: JSON.stringify(initialize),
      });
    const missing = await post('/mcp/remote', {});
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: string }).error).toMatch(/Missing API key/);
    const wrong = await post('/mcp/remote', {
      authorization: 'Bearer arden_live_00000000000000000000000000000000',
    });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/not valid/);
    const unknown = await post('/mcp/nowhere', { 'x-api-key': t.liveKey });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/arden mcp upstreams add/);
    // A session of another key is not found.
    const client = await connect();
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId as string;
    const other = await fetch(`${t.url}/mcp/remote`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-api-key': t.testKey,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(other.status).toBe(404);
    await client.close();
  });

  it('answers a clear error when the upstream is down, and stays up', async () => {
    const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'down', url: 'http://127.0.0.1:9/mcp', bearer_token: bearer },
    });
    expect(added.status).toBe(201);
    await expect(connect(t.liveKey, 'down')).rejects.toThrow(/"down".*could not be reached/);
    // The gateway still serves the other upstream.
    const client = await connect();
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'still' } }))).toBe(
      'echo: still',
    );
    await client.close();
    const removed = await t.admin('DELETE', '/api/v1/mcp/http-upstreams/down');
    expect(removed.status).toBe(200);
  });

  it('resumes an answer whose SSE stream the upstream closed, reports a crash mid-call, and passes a 404 session end on', async () => {
    const flaky = await flakyUpstream();
    const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'flaky', url: flaky.url },
    });
    expect(added.status).toBe(201);
    try {
      const client = await connect(t.liveKey, 'flaky');
      // The call's stream ends before its answer; the gateway resumes it (Last-Event-ID).
      expect(text(await client.callTool({ name: 'pause', arguments: {} }))).toBe('after the pause');
      await client.close();
      // A session without resumption from here on.
      flaky.resumable = false;
      const client2 = await connect(t.liveKey, 'flaky');
      // The upstream goes away mid-answer: a clear JSON-RPC error, and the gateway goes on.
      await expect(client2.callTool({ name: 'crash', arguments: {} })).rejects.toThrow(
        /"flaky".*could not be reached for tools\/call: .*broke off.*The Arden gateway is up/,
      );
      // Recorded as failed, with the reason: nothing is left half-recorded.
      expect(await recordedOutcome('mcp.flaky.crash')).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/could not be reached for tools\/call: .*broke off/),
      });
      expect(text(await client2.callTool({ name: 'echo', arguments: { text: 'on' } }))).toBe(
        'flaky echo: on',
      );
      // The upstream ends the session (404): the client is told, then its session is gone too.
      flaky.forget();
      await expect(client2.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow(
        /"flaky".*ended this session \(it answered 404 to tools\/call\).*initialize a new session/,
      );
      await vi.waitFor(
        async () => {
          await expect(
            client2.callTool({ name: 'echo', arguments: { text: 'y' } }),
          ).rejects.toThrow(/404/);
        },
        { timeout: 5_000, interval: 300 },
      );
      await client2.close().catch(() => undefined);
      const again = await connect(t.liveKey, 'flaky');
      expect(text(await again.callTool({ name: 'echo', arguments: { text: 'new' } }))).toBe(
        'flaky echo: new',
      );
      await again.close();
    } finally {
      await t.admin('DELETE', '/api/v1/mcp/http-upstreams/flaky');
      await flaky.close();
    }
  });

  it('ends a call the client cancels after it was forwarded: recorded as failed, the cancellation passed on, a late answer dropped', async () => {
    const flaky = await flakyUpstream();
    flaky.resumable = false;
    const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'careless', url: flaky.url },
    });
    expect(added.status).toBe(201);
    try {
      const client = await connect(t.liveKey, 'careless');
      const errors: Error[] = [];
      client.onerror = (error) => errors.push(error);
      await expect(
        client.callTool({ name: 'hang', arguments: {} }, undefined, { timeout: 1_500 }),
      ).rejects.toThrow(/timed out/i);
      // The upstream received the client's notifications/cancelled.
      await vi.waitFor(() => expect(flaky.cancelled).toHaveLength(1), { timeout: 5_000 });
      // The call's POST to the upstream is given up, not left open until the session ends.
      await vi.waitFor(() => expect(flaky.openPosts()).toBe(0), { timeout: 5_000 });
      // An upstream that answers anyway: the client never sees it — on a call answered with
      // plain JSON, and on one answered over SSE (a progress token).
      await expect(
        client.callTool({ name: 'late', arguments: {} }, undefined, { timeout: 300 }),
      ).rejects.toThrow(/timed out/i);
      await expect(
        client.callTool({ name: 'late', arguments: {} }, undefined, {
          timeout: 300,
          onprogress: () => undefined,
        }),
      ).rejects.toThrow(/timed out/i);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(errors.map((error) => error.message)).toEqual([]);
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'on' } }))).toBe(
        'flaky echo: on',
      );
      // Nothing half-recorded: each cancelled call has a failed outcome that says so.
      for (const [tool, count] of [
        ['hang', 1],
        ['late', 2],
      ] as const) {
        await vi.waitFor(
          async () => {
            const listed = await t.admin('GET', `/api/v1/actions?tool=mcp.careless.${tool}`);
            const outcomes = listed.json.items.map(
              (item: { outcome: { status: string; error: string } | null }) => item.outcome,
            );
            expect(outcomes).toHaveLength(count);
            for (const outcome of outcomes) {
              expect(outcome?.status).toBe('failed');
              expect(outcome?.error).toContain('The MCP client cancelled tools/call');
            }
          },
          // Outcomes are reported in batches, after the call: give a loaded machine time.
          { timeout: 15_000, interval: 100 },
        );
      }
      await client.close();
    } finally {
      await t.admin('DELETE', '/api/v1/mcp/http-upstreams/careless');
      await flaky.close();
    }
  });

  it('answers an upstream that hangs, sends malformed JSON-RPC or a huge answer with a clear error, records each as failed, and goes on', async () => {
    const faulty = await faultyUpstream();
    const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'faulty', url: faulty.url },
    });
    expect(added.status).toBe(201);
    const gateway = mcpHttpGatewayOf(t.server);
    if (!gateway) throw new Error('no HTTP gateway');
    const defaults = { timeout: gateway.upstreamTimeoutMs, max: gateway.maxMessageBytes };
    // The settings' defaults (ARDEN_MCP_UPSTREAM_TIMEOUT, ARDEN_MCP_MAX_MESSAGE_BYTES).
    expect(defaults).toEqual({ timeout: 0, max: 16 * 1024 * 1024 });
    gateway.upstreamTimeoutMs = 1_000;
    gateway.maxMessageBytes = 64 * 1024;
    try {
      const client = await connect(t.liveKey, 'faulty');
      const works = async () =>
        expect(text(await client.callTool({ name: 'echo', arguments: { text: 'on' } }))).toBe(
          'faulty echo: on',
        );
      // Hangs: an error after the timeout, the upstream told to cancel, the call failed in Arden.
      const started = Date.now();
      await expect(client.callTool({ name: 'hang', arguments: {} })).rejects.toThrow(
        /"faulty".*did not answer tools\/call within 1 s \(ARDEN_MCP_UPSTREAM_TIMEOUT\).*cancelled/,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      await vi.waitFor(() =>
        expect(faulty.bodies.some((body) => body.includes('notifications/cancelled'))).toBe(true),
      );
      expect(await recordedOutcome('mcp.faulty.hang')).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(/did not answer tools\/call within 1 s/),
      });
      await works();
      // Not JSON-RPC, as a JSON answer and as an SSE event on a stream left open.
      for (const tool of ['garbage', 'garbage_sse']) {
        await expect(client.callTool({ name: tool, arguments: {} })).rejects.toThrow(
          /"faulty".*broke the protocol in its answer to tools\/call: .*not a JSON-RPC 2\.0 message.*The Arden gateway is up/,
        );
        expect(await recordedOutcome(`mcp.faulty.${tool}`)).toMatchObject({
          status: 'failed',
          error: expect.stringMatching(/not a JSON-RPC 2\.0 message/),
        });
        await works();
      }
      // Over the size limit: dropped unread, as JSON and as SSE.
      for (const uri of ['test://huge', 'test://huge-sse']) {
        await expect(client.readResource({ uri })).rejects.toThrow(
          /"faulty".*broke the protocol in its answer to resources\/read: .*over the Arden gateway's limit of 65536/,
        );
        await works();
      }
      for (const tool of ['huge', 'huge_sse']) {
        await expect(client.callTool({ name: tool, arguments: {} })).rejects.toThrow(
          /"faulty".*broke the protocol.*bytes, over the Arden gateway's limit of 65536 \(ARDEN_MCP_MAX_MESSAGE_BYTES\)/,
        );
        expect(await recordedOutcome(`mcp.faulty.${tool}`)).toMatchObject({
          status: 'failed',
          error: expect.stringMatching(/over the Arden gateway's limit of 65536/),
        });
        await works();
      }
      await client.close();
      // The server is up for everyone else.
      const other = await connect();
      expect(text(await other.callTool({ name: 'echo', arguments: { text: 'up' } }))).toBe(
        'echo: up',
      );
      await other.close();
    } finally {
      gateway.upstreamTimeoutMs = defaults.timeout;
      gateway.maxMessageBytes = defaults.max;
      await t.admin('DELETE', '/api/v1/mcp/http-upstreams/faulty');
      await faulty.close();
    }
  });

  it('lists upstreams without secrets and refuses duplicates and reserved headers', async () => {
    const list = await t.admin('GET', '/api/v1/mcp/http-upstreams', { as: 'viewer' });
    expect(list.status).toBe(200);
    expect(list.json.items.map((item: { name: string }) => item.name)).toEqual(['remote']);
    expect(list.text).not.toContain(bearer);
    expect(list.text).not.toContain('/mcp"');
    const again = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'remote', url: upstreamUrl },
    });
    expect(again.status).toBe(409);
    const reserved = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'other', url: upstreamUrl, headers: { 'Mcp-Session-Id': 'x' } },
    });
    expect(reserved.status).toBe(400);
    const viewer = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      as: 'viewer',
      body: { name: 'other', url: upstreamUrl },
    });
    expect(viewer.status).toBe(403);
    // Stored sealed: the database holds neither the token nor the URL's path.
    const row = await t.server.store.database.get<{ secrets: string }>(
      "SELECT secrets FROM mcp_http_upstreams WHERE name = 'remote'",
    );
    expect(row?.secrets).toMatch(/^v1\./);
    expect(row?.secrets).not.toContain(bearer);
    // Nothing secret reached the log.
    const log = logLines.join('\n');
    expect(log).not.toContain(bearer);
    expect(log).not.toContain(customHeader);
  });

  it('`arden mcp upstreams add|list|remove` reads credentials from the environment and never prints them', async () => {
    const out: string[] = [];
    const io = {
      stdout: (chunk: string) => out.push(chunk),
      stderr: (chunk: string) => out.push(chunk),
      env: { CLI_TOKEN: 'cli-bearer-token-secret-42', CLI_KEY: 'cli-header-secret-43' },
      cwd: '/',
    };
    const connection = ['--url', t.url, '--token', t.tokens.admin];
    const add = [
      'upstreams',
      'add',
      'clitest',
      upstreamUrl,
      '--bearer-env',
      'CLI_TOKEN',
      '--header-env',
      'X-Api-Key=CLI_KEY',
      ...connection,
    ];
    expect(await mcpCommand(add, io)).toBe(0);
    expect(await mcpCommand(['upstreams', 'list', ...connection], io)).toBe(0);
    const printed = out.join('');
    expect(printed).toContain('Registered clitest');
    expect(printed).toMatch(
      /clitest\s+\/mcp\/clitest\s+http:\/\/127\.0\.0\.1:\d+\s+X-Api-Key, Authorization/,
    );
    expect(printed).not.toContain('cli-bearer-token-secret-42');
    expect(printed).not.toContain('cli-header-secret-43');
    // The registered credentials are what the upstream receives.
    const before = seen.headers.length;
    const client = await connect(t.liveKey, 'clitest');
    await client.listTools();
    await client.close();
    const sent = seen.headers.slice(before);
    expect(sent.length).toBeGreaterThan(0);
    expect(
      sent.every((headers) => headers.authorization === 'Bearer cli-bearer-token-secret-42'),
    ).toBe(true);
    expect(sent.every((headers) => headers['x-api-key'] === 'cli-header-secret-43')).toBe(true);
    expect(await mcpCommand(['upstreams', 'remove', 'clitest', ...connection], io)).toBe(0);
    expect((await t.admin('GET', '/api/v1/mcp/http-upstreams/clitest')).status).toBe(404);
  });

  it('serves @modelcontextprotocol/inspector-cli: the list without the blocked tool, a blocked call refused, an allowed one run', async () => {
    const cli = createRequire(import.meta.url).resolve('@modelcontextprotocol/inspector-cli');
    const inspect = async (...args: string[]) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          cli,
          '--cli',
          `${t.url}/mcp/remote`,
          '--transport',
          'http',
          '--header',
          `Authorization: Bearer ${t.liveKey}`,
          ...args,
        ],
        // inspector-cli 1.0.3 finds its package.json relative to the working directory (a
        // packaging slip: it looks for "../package.json" with fs, then imports it relative to
        // build/index.js): run it from build/, where both agree.
        { timeout: 90_000, cwd: dirname(cli) },
      );
      return JSON.parse(stdout.slice(stdout.indexOf('{')));
    };
    const listed = await inspect('--method', 'tools/list');
    expect(listed.tools.map((tool: { name: string }) => tool.name).sort()).toEqual([
      'ask',
      'echo',
      'transfer',
    ]);
    const callsBefore = seen.calls.length;
    const blocked = await inspect(
      '--method',
      'tools/call',
      '--tool-name',
      'delete_file',
      '--tool-arg',
      'path=/etc/passwd',
    );
    expect(blocked.isError).toBe(true);
    expect(blocked.content[0].text).toContain('No deletes');
    expect(seen.calls.length).toBe(callsBefore);
    const allowed = await inspect(
      '--method',
      'tools/call',
      '--tool-name',
      'echo',
      '--tool-arg',
      'text=from the inspector',
    );
    expect(allowed.content[0].text).toBe('echo: from the inspector');
    expect(seen.calls.slice(callsBefore)).toEqual([
      { tool: 'echo', args: { text: 'from the inspector' } },
    ]);
  }, 180_000);
});
