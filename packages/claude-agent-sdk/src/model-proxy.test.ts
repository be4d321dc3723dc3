// The model-call proxy on its own (no agent binary): what reaches the upstream API is the
// request as sent (its key headers untouched), streamed answers split anywhere still settle with
// their final usage, other routes pass through unchecked, and an ended route answers 404.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configure, flush, getArden } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { openModelRoute } from './model-proxy';

let arden: TestServer;
let upstream: Server;
let upstreamUrl: string;
const seen: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
const logged: string[] = [];

// The answer of the fake upstream, written in small pieces (an SSE event split across chunks).
const stream = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"claude-sonnet-4-5",',
  '"usage":{"input_tokens":700,"cache_read_input_tokens":300,"output_tokens":1}}}\n',
  '\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":',
  '42}}\r\n\r\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
];

beforeAll(async () => {
  arden = await startTestServer({
    budgets: [{ scope: 'session', name: 'Cap', limitTokens: 1_000_000 }],
  });
  upstream = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      seen.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if ((request.url ?? '').includes('/v1/messages/count_tokens')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"input_tokens":12}');
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const piece of stream) {
        response.write(piece);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      response.end();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/gateway`;
});

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
  await arden.close();
});

beforeEach(() => {
  seen.length = 0;
  logged.length = 0;
  const log = (message: string, fields?: unknown) =>
    logged.push(`${message} ${JSON.stringify(fields ?? {})}`);
  configure({
    apiKey: arden.key,
    apiUrl: arden.url,
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
    logger: { debug: log, info: log, warn: log, error: log },
  });
});

afterEach(async () => {
  await flush();
});

const body = {
  model: 'claude-sonnet-4-5',
  max_tokens: 1000,
  stream: true,
  messages: [{ role: 'user', content: 'hello' }],
};

test('forwards the request as sent, key headers untouched and never logged, and settles with the streamed usage', async () => {
  const route = await openModelRoute({
    upstream: upstreamUrl,
    arden: getArden,
    session: (header) => header,
  });
  try {
    const response = await fetch(`${route.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'sk-secret-key',
        authorization: 'Bearer secret-token',
        'anthropic-version': '2023-06-01',
        'x-claude-code-session-id': 'proxy-session',
      },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(stream.join(''));
  } finally {
    route.close();
  }
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatchObject({
    // Under the upstream's own path.
    path: '/gateway/v1/messages?beta=true',
    headers: {
      'x-api-key': 'sk-secret-key',
      authorization: 'Bearer secret-token',
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify(body),
  });
  await flush();
  const usage = await arden.usage({ sessionId: 'proxy-session' });
  expect(usage.map((event) => [event.promptTokens, event.completionTokens])).toEqual([[1000, 42]]);
  expect(logged.join('\n')).not.toMatch(/sk-secret-key|secret-token/);
});

test('count_tokens passes through without a reservation; an ended route answers 404', async () => {
  const route = await openModelRoute({
    upstream: upstreamUrl,
    arden: () => {
      throw new Error('Arden is not asked about count_tokens');
    },
    session: () => 'proxy-count',
  });
  const response = await fetch(`${route.url}/v1/messages/count_tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [] }),
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ input_tokens: 12 });
  expect(route.failure).toBeUndefined();
  route.close();
  const ended = await fetch(`${route.url}/v1/messages`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  expect(ended.status).toBe(404);
  expect(seen).toHaveLength(1);
});

test('onUnavailable allow: Arden unreachable, the call is sent (and the route keeps no failure)', async () => {
  configure({
    apiKey: arden.key,
    apiUrl: 'http://127.0.0.1:9',
    retryAttempts: 0,
    logLevel: 'silent',
    onUnavailable: 'allow',
  });
  const route = await openModelRoute({
    upstream: upstreamUrl,
    arden: getArden,
    session: () => 'proxy-allow',
  });
  try {
    const response = await fetch(`${route.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    await response.text();
    expect(route.failure).toBeUndefined();
    expect(seen).toHaveLength(1);
  } finally {
    route.close();
  }
});

test('refused: an Anthropic-shaped 400 the client does not retry, and the route keeps the error', async () => {
  const route = await openModelRoute({
    upstream: upstreamUrl,
    arden: getArden,
    session: () => 'proxy-refused',
  });
  try {
    const response = await fetch(`${route.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // Far more output than the session's cap.
      body: JSON.stringify({ ...body, max_tokens: 2_000_000 }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-should-retry')).toBe('false');
    const answer = (await response.json()) as any;
    expect(answer.type).toBe('error');
    expect(answer.error.type).toBe('invalid_request_error');
    expect(answer.error.message).toContain('Arden refused this model call');
    expect((route.failure as Error).name).toBe('BudgetExceededError');
    expect(seen).toHaveLength(0);
  } finally {
    route.close();
  }
});
