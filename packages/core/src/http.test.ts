import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ArdenUnavailableError } from './errors';
import { backoffDelay, HttpClient } from './http';
import { resolveOptions } from './options';

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function listen(handler: Parameters<typeof createServer>[1]) {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const apiKey = `arden_test_${'e'.repeat(32)}`;

describe('HttpClient on Node (the socket transport, for http: URLs)', () => {
  it('reuses one keep-alive connection for sequential requests', async () => {
    const sockets = new Set<unknown>();
    const apiUrl = await listen((request, response) => {
      sockets.add(request.socket);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ path: request.url, key: request.headers['x-api-key'] }));
    });
    const client = new HttpClient(resolveOptions({ apiKey, apiUrl }));
    for (let index = 0; index < 20; index++) {
      const body = await client.request<{ path: string; key: string }>('GET', `/status/${index}`);
      expect(body).toEqual({ path: `/status/${index}`, key: apiKey });
    }
    expect(sockets.size).toBe(1);
    client.close();
  });

  it('gives up after timeoutMs and says the server could not be reached', async () => {
    const apiUrl = await listen(() => {
      // Never answers.
    });
    const client = new HttpClient(
      resolveOptions({ apiKey, apiUrl, timeoutMs: 50, retryAttempts: 1, logLevel: 'silent' }),
    );
    const started = performance.now();
    const error = await client
      .request('POST', '/policy/check', {})
      .catch((caught: unknown) => caught);
    expect(ArdenUnavailableError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/could not be reached .* after 2 attempt/);
    expect(performance.now() - started).toBeLessThan(2_000);
    client.close();
  });

  it('reports a refused connection with its code', async () => {
    const client = new HttpClient(
      resolveOptions({
        apiKey,
        apiUrl: 'http://127.0.0.1:9',
        retryAttempts: 0,
        logLevel: 'silent',
      }),
    );
    await expect(client.request('GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    client.close();
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with full jitter, capped', () => {
    expect(backoffDelay(0, () => 1)).toBe(200);
    expect(backoffDelay(1, () => 1)).toBe(400);
    expect(backoffDelay(2, () => 0.5)).toBe(400);
    expect(backoffDelay(10, () => 1)).toBe(4_000);
    expect(backoffDelay(3, () => 0)).toBe(0);
  });
});

describe('ARDEN_HTTP_TRANSPORT', () => {
  afterEach(() => {
    delete process.env.ARDEN_HTTP_TRANSPORT;
  });

  it('node-http, fetch and socket all reach the server; anything else is a clear configuration error', async () => {
    const seen: Record<string, string | undefined>[] = [];
    const apiUrl = await listen((request, response) => {
      seen.push({
        connection: request.headers.connection,
        fetchMode: request.headers['sec-fetch-mode'],
      });
      response.end('{"ok":true}');
    });
    for (const choice of ['node-http', 'fetch', 'socket']) {
      process.env.ARDEN_HTTP_TRANSPORT = choice;
      const client = new HttpClient(resolveOptions({ apiKey, apiUrl }));
      expect(await client.request('GET', '/healthz')).toEqual({ ok: true });
      client.close();
    }
    // Each transport shows in what it sends: node:http's agent names the connection keep-alive,
    // fetch adds its Sec-Fetch-Mode, core's socket client sends neither.
    expect(seen).toEqual([
      { connection: 'keep-alive', fetchMode: undefined },
      { connection: 'keep-alive', fetchMode: 'cors' },
      { connection: undefined, fetchMode: undefined },
    ]);
    process.env.ARDEN_HTTP_TRANSPORT = 'curl';
    expect(() => new HttpClient(resolveOptions({ apiKey, apiUrl }))).toThrow(
      /ARDEN_HTTP_TRANSPORT is "curl"; use socket/,
    );
  });
});

describe('HttpClient and requests that cannot be written', () => {
  it('a header value with a line break is a ConfigurationError at once, not retried as "unreachable"', async () => {
    let requests = 0;
    const apiUrl = await listen((_request, response) => {
      requests++;
      response.end('{}');
    });
    const client = new HttpClient(
      resolveOptions({ apiKey, apiUrl, retryAttempts: 3, logLevel: 'silent' }),
    );
    const started = performance.now();
    const error = await client
      .request('GET', '/status/x\r\nx-admin: 1')
      .catch((caught: unknown) => caught);
    expect((error as Error).name).toBe('ConfigurationError');
    expect(performance.now() - started).toBeLessThan(150);
    expect(requests).toBe(0);
    client.close();
  });
});
