// The gateway's lean POST to an upstream (upstream-post.ts) against the real MCP SDK server on
// Streamable HTTP: an SSE answer and a JSON one, the session's headers and the upstream's
// credentials, a 404 for an ended session, an upstream that breaks off mid-call, a stream the
// server closes before the answer (resumable from its last event id), a redirect, and the SSE
// format's corners (CRLF, split chunks, comments, multi-line data) from a hand-written server.
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { EventStore } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  limitedFetch,
  UpstreamHttpError,
  UpstreamMessageError,
  UpstreamPoster,
} from './upstream-post';

class MemoryEventStore implements EventStore {
  private readonly events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${streamId}_${this.events.size}`;
    this.events.set(id, { streamId, message });
    return id;
  }
  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.events.get(eventId)?.streamId;
  }
  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const streamId = this.events.get(lastEventId)?.streamId ?? '';
    let after = false;
    for (const [id, event] of this.events) {
      if (after && event.streamId === streamId) await send(id, event.message);
      if (id === lastEventId) after = true;
    }
    return streamId;
  }
}

interface Upstream {
  url: string;
  headers: IncomingHttpHeaders[];
  server: Server;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

/** A real MCP SDK server: `echo`, `crash` (breaks the connection of its POST), `pause` (closes its SSE stream, answers later). */
async function sdkUpstream(
  options: { json?: boolean; resumable?: boolean } = {},
): Promise<Upstream> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const headers: IncomingHttpHeaders[] = [];
  let current: ServerResponse | undefined;
  const server = createServer(async (request, response) => {
    headers.push(request.headers);
    current = response;
    const sessionId = request.headers['mcp-session-id'];
    // An unknown session id goes to a session's transport, which answers 404 as the SDK does.
    let transport =
      typeof sessionId === 'string'
        ? (sessions.get(sessionId) ?? [...sessions.values()][0])
        : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: options.json ?? false,
        ...(options.resumable ? { eventStore: new MemoryEventStore(), retryInterval: 25 } : {}),
        onsessioninitialized: (id) => {
          sessions.set(id, created);
        },
      });
      const mcp = new McpServer(
        { name: 'post-test', version: '1.0.0' },
        { capabilities: { logging: {} } },
      );
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
        content: [{ type: 'text', text: `echo: ${text}` }],
      }));
      mcp.registerTool('crash', {}, async (extra) => {
        // The answer's stream has begun (a log message) when the upstream goes away.
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', data: 'working' },
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
        current?.socket?.destroy();
        return { content: [{ type: 'text', text: 'never seen' }] };
      });
      mcp.registerTool('crash_early', {}, async () => {
        current?.socket?.destroy();
        return { content: [{ type: 'text', text: 'never seen' }] };
      });
      mcp.registerTool('pause', {}, async (extra) => {
        extra.closeSSEStream?.();
        await new Promise((resolve) => setTimeout(resolve, 50));
        return { content: [{ type: 'text', text: 'after the pause' }] };
      });
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(request, response);
  });
  return { url: await listen(server), headers, server };
}

const protocolVersion = '2025-11-25';

/** Opens a session with plain fetch, as any client would: its id. */
async function initialize(url: string): Promise<string> {
  const common = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  const opened = await fetch(url, {
    method: 'POST',
    headers: common,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion, capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
  expect(opened.status).toBe(200);
  await opened.text();
  const sessionId = opened.headers.get('mcp-session-id') as string;
  const initialized = await fetch(url, {
    method: 'POST',
    headers: { ...common, 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(initialized.status).toBe(202);
  return sessionId;
}

function call(id: number, name: string, args: Record<string, unknown> = {}): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args },
  });
}

async function post(poster: UpstreamPoster, body: string, sessionId: string | undefined, id = 1) {
  const delivered: Record<string, unknown>[] = [];
  const outcome = await poster.post(
    body,
    { sessionId, protocolVersion },
    (message) => delivered.push(message),
    (message) => message.id === id && ('result' in message || 'error' in message),
  );
  return { outcome, delivered };
}

describe('the lean POST of a tools/call to an upstream', () => {
  it('reads an SSE answer, with the session and the upstream credentials in the headers', async () => {
    const upstream = await sdkUpstream();
    const sessionId = await initialize(upstream.url);
    const poster = new UpstreamPoster(upstream.url, { Authorization: 'Bearer secret-token' });
    for (const id of [1, 2, 3]) {
      const { outcome, delivered } = await post(
        poster,
        call(id, 'echo', { text: `n${id}` }),
        sessionId,
        id,
      );
      expect(outcome).toEqual({ kind: 'done' });
      expect(delivered).toEqual([
        { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: `echo: n${id}` }] } },
      ]);
    }
    const sent = upstream.headers.at(-1) as IncomingHttpHeaders;
    expect(sent).toMatchObject({
      'mcp-session-id': sessionId,
      'mcp-protocol-version': protocolVersion,
      authorization: 'Bearer secret-token',
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
    });
    // The connection is kept alive between calls.
    expect(sent.connection).toBe('keep-alive');
    poster.close();
  });

  it('reads a JSON answer', async () => {
    const upstream = await sdkUpstream({ json: true });
    const sessionId = await initialize(upstream.url);
    const poster = new UpstreamPoster(upstream.url, {});
    const { outcome, delivered } = await post(poster, call(7, 'echo', { text: 'j' }), sessionId, 7);
    expect(outcome).toEqual({ kind: 'done' });
    expect(delivered).toEqual([
      { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'echo: j' }] } },
    ]);
    poster.close();
  });

  it('rejects with the status and the text of a 404 for a session the upstream ended', async () => {
    const upstream = await sdkUpstream();
    await initialize(upstream.url);
    const poster = new UpstreamPoster(upstream.url, {});
    const failed = post(poster, call(1, 'echo', { text: 'x' }), randomUUID());
    await expect(failed).rejects.toBeInstanceOf(UpstreamHttpError);
    await expect(failed).rejects.toMatchObject({
      status: 404,
      message: /HTTP 404.*Session not found/,
    });
    poster.close();
  });

  it('ends a call whose upstream breaks off before answering, and a refused connection rejects', async () => {
    const upstream = await sdkUpstream();
    const sessionId = await initialize(upstream.url);
    const poster = new UpstreamPoster(upstream.url, {});
    const { outcome, delivered } = await post(poster, call(1, 'crash'), sessionId);
    expect(outcome.kind).toBe('ended');
    expect(delivered).toEqual([
      {
        jsonrpc: '2.0',
        method: 'notifications/message',
        params: { level: 'info', data: 'working' },
      },
    ]);
    // Gone before its answer began: the POST fails.
    await expect(post(poster, call(3, 'crash_early'), sessionId, 3)).rejects.toThrow(
      /socket hang up/,
    );
    // The poster still works: a new connection for the next call.
    const again = await post(poster, call(2, 'echo', { text: 'after' }), sessionId, 2);
    expect(again.outcome).toEqual({ kind: 'done' });
    poster.close();
    const down = new UpstreamPoster('http://127.0.0.1:9/mcp', {});
    await expect(post(down, call(1, 'echo', { text: 'x' }), sessionId)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    down.close();
  });

  it('gives the last event id and the retry of a stream the upstream closed before the answer', async () => {
    const upstream = await sdkUpstream({ resumable: true });
    const sessionId = await initialize(upstream.url);
    const poster = new UpstreamPoster(upstream.url, {});
    const { outcome, delivered } = await post(poster, call(1, 'pause'), sessionId);
    expect(outcome).toMatchObject({ kind: 'resume', retryMs: 25 });
    expect(outcome.kind === 'resume' && outcome.lastEventId).toMatch(/.+/);
    expect(delivered).toEqual([]);
    // Resuming (what the gateway leaves to the SDK's transport) replays the answer.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const resumed = await fetch(upstream.url, {
      headers: {
        accept: 'text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': protocolVersion,
        'last-event-id': outcome.kind === 'resume' ? outcome.lastEventId : '',
      },
    });
    const reader = (resumed.body as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain('after the pause');
    await reader.cancel();
    poster.close();
  });

  it('leaves a redirect to the caller, and rejects an unexpected content type', async () => {
    const server = createServer((request, response) => {
      request.resume();
      if (request.url === '/moved') {
        response.writeHead(307, { location: '/mcp' }).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    });
    const url = await listen(server);
    const moved = new UpstreamPoster(url.replace('/mcp', '/moved'), {});
    expect((await post(moved, call(1, 'echo'), 's')).outcome).toEqual({ kind: 'redirect' });
    moved.close();
    const plain = new UpstreamPoster(url, {});
    await expect(post(plain, call(1, 'echo'), 's')).rejects.toThrow(
      /Unexpected content type: text\/plain/,
    );
    plain.close();
  });

  it('reads the SSE format: CRLF and CR line ends, chunks split anywhere, comments, multi-line data, other events', async () => {
    const chunks = [
      ': a comment\r\n\r\nretry: 7\r',
      '\nevent: ping\ndata: {"ignored":true}\n\nid: e1\r\ndata: {"jsonrpc":"2.0",\r\ndata: "method":"notifications/message","params":{"level":"info","data":"é"}}\r\n\r',
      '\nid: e2\nevent: message\ndata:{"jsonrpc":"2.0","id":1,',
      '"result":{"ok":true}}\n',
      '\ndata: not json\n\n',
    ];
    const server = createServer(async (request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      for (const chunk of chunks) {
        response.write(Buffer.from(chunk, 'utf8'));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      response.end();
    });
    const poster = new UpstreamPoster(await listen(server), {});
    const invalid: Error[] = [];
    poster.onerror = (error) => invalid.push(error);
    const { outcome, delivered } = await post(poster, call(1, 'echo'), undefined);
    expect(outcome).toEqual({ kind: 'done' });
    expect(delivered).toEqual([
      {
        jsonrpc: '2.0',
        method: 'notifications/message',
        params: { level: 'info', data: 'é' },
      },
      { jsonrpc: '2.0', id: 1, result: { ok: true } },
    ]);
    expect(invalid).toHaveLength(1);
    poster.close();
  });

  it('drops an answer over the size limit unread, fails one that is not JSON-RPC, and ends a call at its signal', async () => {
    let written = 0;
    const server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const name = (
        JSON.parse(Buffer.concat(chunks).toString('utf8')) as { params: { name: string } }
      ).params.name;
      if (name === 'json') {
        // With its length (1 2xx bytes: refused before reading), or chunked (read to the limit).
        const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { text: 'é'.repeat(600) } });
        response.writeHead(200, {
          'content-type': 'application/json',
          ...(request.headers['x-chunked'] ? {} : { 'content-length': Buffer.byteLength(body) }),
        });
        response.end(body);
      } else if (name === 'sse') {
        // One endless event: never held whole (what was written when it was dropped is bounded).
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write('data: {"jsonrpc":"2.0","id":1,"result":{"text":"');
        const more = () => {
          if (response.destroyed) return;
          written += 64 * 1024;
          response.write('x'.repeat(64 * 1024), () => setImmediate(more));
        };
        more();
      } else if (name === 'small_events') {
        // Many events, each under the limit: read on.
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let index = 0; index < 20; index++) {
          response.write(
            `: keep-alive\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"${'y'.repeat(500)}"}}\n\n`,
          );
        }
        response.end('data: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
      } else if (name === 'garbage') {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write('data: [1, 2\n\n');
      } else {
        request.resume();
      }
    });
    const url = await listen(server);
    const poster = new UpstreamPoster(url, {}, 1_000);
    await expect(post(poster, call(1, 'json'), undefined)).rejects.toThrow(
      /a message of 1\d{3} bytes, over the Arden gateway's limit of 1000/,
    );
    const chunked = new UpstreamPoster(url, { 'x-chunked': '1' }, 1_000);
    await expect(post(chunked, call(1, 'json'), undefined)).rejects.toThrow(
      /a message of more than 1000 bytes, over the Arden gateway's limit of 1000/,
    );
    chunked.close();
    await expect(post(poster, call(1, 'sse'), undefined)).rejects.toThrow(UpstreamMessageError);
    expect(written).toBeLessThan(16 * 64 * 1024);
    const { outcome, delivered } = await post(poster, call(1, 'small_events'), undefined);
    expect(outcome).toEqual({ kind: 'done' });
    expect(delivered).toHaveLength(21);
    await expect(post(poster, call(1, 'garbage'), undefined)).rejects.toThrow(
      /not a JSON-RPC 2\.0 message \("\[1, 2"\)/,
    );
    const controller = new AbortController();
    const hanging = poster.post(
      call(1, 'hang'),
      { sessionId: undefined, protocolVersion },
      () => undefined,
      () => false,
      controller.signal,
    );
    setTimeout(() => controller.abort(new Error('timed out')), 50);
    await expect(hanging).rejects.toThrow(/timed out/);
    poster.close();
  });

  it("bounds the SDK transport's answers: each SSE event (CRLF, CR, LF), a JSON answer whole", async () => {
    const small = `data: ${'s'.repeat(600)}`;
    const server = createServer((request, response) => {
      if (request.url === '/events') {
        // Many events, each under the limit, with every kind of line end: all pass.
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.end(
          `${small}\r\n\r\n${small}\r\r${small}\n\n: ${'c'.repeat(600)}\n\n${small}\n\n`,
        );
      } else if (request.url === '/big-event') {
        // One event of lines under the limit, together over it.
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.end(`${small}\n${small}\n\n`);
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ jsonrpc: '2.0', id: 1, result: { text: 'j'.repeat(2_000) } }),
        );
      }
    });
    const url = new URL(await listen(server)).origin;
    const limited = limitedFetch(1_000, (reason, method) => `${method}: ${reason}`);
    const events = await limited(`${url}/events`);
    expect((await events.text()).split(small)).toHaveLength(5);
    // A GET stream (no request): the stream ends with the error.
    const cut = await limited(`${url}/big-event`);
    await expect(cut.text()).rejects.toThrow(/over the Arden gateway's limit of 1000/);
    // A request's stream: its answer becomes a JSON-RPC error for it.
    const answered = await limited(`${url}/big-event`, {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'resources/read' }),
    });
    const text = await answered.text();
    expect(text.length).toBeLessThan(1_500);
    expect(text).toMatch(
      /\n\nevent: message\ndata: \{"jsonrpc":"2\.0","id":7,"error":\{"code":-32603,"message":"resources\/read: it answered with a message of more than 1000 bytes/,
    );
    const json = await limited(`${url}/json`);
    await expect(json.json()).rejects.toThrow(UpstreamMessageError);
  });

  it('rejects the calls under way when closed', async () => {
    const server = createServer((request) => request.resume());
    const poster = new UpstreamPoster(await listen(server), {});
    const pending = post(poster, call(1, 'echo'), undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    poster.close();
    await expect(pending).rejects.toThrow(/The MCP session ended/);
    await expect(post(poster, call(2, 'echo'), undefined)).rejects.toThrow(/closed/);
  });
});
