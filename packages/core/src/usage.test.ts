import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Arden } from './arden';
import { withSession } from './session';
import { createTestArden } from './test/index';

const instances: Arden[] = [];
function arden(extra: Record<string, unknown> = {}, server = createTestArden()) {
  const instance = new Arden({ ...server.options(), ...extra });
  instances.push(instance);
  return { instance, server };
}
afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.shutdown()));
});

describe('logTokenUsage', () => {
  it('returns at once and sends in batches by size', async () => {
    const server = createTestArden();
    const fetch = vi.fn(server.fetch);
    const { instance } = arden({ fetch, usageBatchSize: 3, usageFlushIntervalMs: 60_000 }, server);
    for (let index = 0; index < 6; index++) {
      instance.logTokenUsage({ model: 'gpt-4o-mini', promptTokens: index, completionTokens: 1 });
    }
    // Two full batches went out without waiting for the interval.
    await vi.waitFor(() => expect(server.usage).toHaveLength(6));
    expect(
      fetch.mock.calls.map(([, init]) => JSON.parse(String(init?.body)).events.length),
    ).toEqual([3, 3]);
    instance.logTokenUsage({ model: 'gpt-4o-mini', promptTokens: 6, completionTokens: 1 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(server.usage).toHaveLength(6);
    await instance.flush();
    expect(server.usage).toHaveLength(7);
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(server.usage[0]).toMatchObject({
      model: 'gpt-4o-mini',
      prompt_tokens: 0,
      completion_tokens: 1,
    });
  });

  it('keeps batching while a request is in flight (a steady stream is not one request per round trip)', async () => {
    const server = createTestArden();
    let requests = 0;
    let answer: (() => void) | undefined;
    let answerAll = false;
    const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      if (new URL(String(input)).pathname === '/token-usage') {
        requests++;
        if (!answerAll) await new Promise<void>((resolve) => (answer = resolve));
      }
      return server.fetch(input, init);
    });
    const { instance } = arden({ fetch, usageBatchSize: 100, usageFlushIntervalMs: 300 }, server);
    instance.logTokenUsage({ model: 'm', promptTokens: 1, completionTokens: 1 });
    instance.logTokenUsage({ model: 'm', promptTokens: 2, completionTokens: 1 });
    await vi.waitFor(() => expect(answer).toBeDefined());
    // Each event is recorded while the previous request is in flight.
    for (let index = 0; index < 5; index++) {
      instance.logTokenUsage({ model: 'm', promptTokens: 10 + index, completionTokens: 1 });
      const current = answer;
      answer = undefined;
      current?.();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    answerAll = true;
    answer?.();
    await instance.flush();
    expect(server.usage).toHaveLength(7);
    // The first two in one request, the other five in one or two (before: one each).
    expect(requests).toBeLessThanOrEqual(3);
  });

  it('sends by interval', async () => {
    const { instance, server } = arden({ usageBatchSize: 100, usageFlushIntervalMs: 20 });
    instance.logTokenUsage({ model: 'm', promptTokens: 1, completionTokens: 2 });
    expect(server.usage).toHaveLength(0);
    await vi.waitFor(() => expect(server.usage).toHaveLength(1), { timeout: 1000 });
    expect(instance.usageStats.sent).toBe(1);
  });

  it('records the session, explicit or current', async () => {
    const { instance, server } = arden();
    withSession('s-current', () =>
      instance.logTokenUsage({ model: 'm', promptTokens: 1, completionTokens: 1 }),
    );
    instance.logTokenUsage({ model: 'm', promptTokens: 1, completionTokens: 1, sessionId: 's-x' });
    await instance.flush();
    expect(server.usage.map((event) => event.session_id)).toEqual(['s-current', 's-x']);
  });

  it('never throws on bad input and counts it', () => {
    const { instance } = arden();
    expect(() => instance.logTokenUsage(undefined as never)).not.toThrow();
    expect(() =>
      instance.logTokenUsage({ model: '', promptTokens: -1, completionTokens: 1.5 }),
    ).not.toThrow();
    expect(instance.usageStats.rejected).toBe(2);
  });

  it('keeps a bounded queue while the server is down, dropping the oldest', async () => {
    let up = false;
    const server = createTestArden();
    const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      if (!up) throw new TypeError('connect ECONNREFUSED');
      return server.fetch(input, init);
    });
    const { instance } = arden(
      { fetch, usageMaxQueue: 5, usageBatchSize: 100, usageFlushIntervalMs: 60_000 },
      server,
    );
    for (let index = 0; index < 8; index++) {
      instance.logTokenUsage({ model: 'm', promptTokens: index, completionTokens: 0 });
    }
    await instance.flush();
    expect(instance.usageStats).toMatchObject({ queued: 5, dropped: 3, sent: 0 });
    up = true;
    await instance.flush();
    expect(server.usage.map((event) => event.prompt_tokens)).toEqual([3, 4, 5, 6, 7]);
    expect(instance.usageStats).toMatchObject({ queued: 0, sent: 5, dropped: 3 });
  });

  it('falls back to one event per request against a server without batches', async () => {
    const received: unknown[] = [];
    const fetch = vi.fn(async (_input: RequestInfo | URL, init?: RequestInit) => {
      const body = JSON.parse(String(init?.body));
      if (body.events) return new Response('{"error":"model is required"}', { status: 400 });
      received.push(body);
      return new Response('{"usage_id":"u"}', { status: 200 });
    });
    const { instance } = arden({ fetch, usageFlushIntervalMs: 60_000 });
    instance.logTokenUsage({ model: 'a', promptTokens: 1, completionTokens: 1 });
    instance.logTokenUsage({ model: 'b', promptTokens: 1, completionTokens: 1 });
    await instance.flush();
    expect(received).toHaveLength(2);
    expect(instance.usageStats.sent).toBe(2);
  });

  it('is delivered by a process that exits right after logging', async () => {
    const received: unknown[] = [];
    const receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push(JSON.parse(body));
        response.setHeader('content-type', 'application/json');
        response.end('{"accepted":1}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `
      import { configure, logTokenUsage } from ${JSON.stringify(entry)};
      configure({ apiKey: 'arden_test_${'d'.repeat(32)}', apiUrl: 'http://127.0.0.1:${port}', usageFlushIntervalMs: 60000 });
      logTokenUsage({ model: 'gpt-4o', promptTokens: 10, completionTokens: 20, sessionId: 'exit-test' });
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: 'inherit',
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    receiver.close();
    expect(code).toBe(0);
    expect(received).toEqual([
      expect.objectContaining({
        model: 'gpt-4o',
        prompt_tokens: 10,
        completion_tokens: 20,
        session_id: 'exit-test',
      }),
    ]);
  });
});
