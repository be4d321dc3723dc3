import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AgentService } from './agents/service';
import { createLogger } from './logger';
import { openStore } from './store';
import { startChildServer } from './test-fixtures/child-process';
import { startTestServer, type TestServer, temporaryDirectory } from './test-fixtures/harness';

const startChild = (dataDir: string) => startChildServer(dataDir);

// The embedded store's durability; PostgreSQL's is PostgreSQL's own.
describe.skipIf(Boolean(process.env.ARDEN_TEST_DATABASE_URL))('crash safety', () => {
  test('kill -9 during a stream of checks: every acknowledged action is in the log', async () => {
    const dataDir = temporaryDirectory();
    const logger = createLogger('silent');
    const store = await openStore({ dataDir, logger });
    const agents = new AgentService(store, logger);
    const agent = await agents.createAgent({ name: 'crash-agent' });
    const { key } = await agents.createKey(agent.id, 'live');
    await store.close();

    const { child, url } = await startChild(dataDir);
    const acknowledged: string[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const response = await fetch(`${url}/policy/check`, {
            method: 'POST',
            headers: { 'x-api-key': key, 'content-type': 'application/json' },
            body: JSON.stringify({
              tool_name: 'crash.test',
              args: [],
              kwargs: { n: acknowledged.length },
              metadata: null,
            }),
          });
          const body = (await response.json()) as { action_id?: string };
          if (response.status === 200 && body.action_id) acknowledged.push(body.action_id);
        } catch {
          return;
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    while (acknowledged.length < 300) await new Promise((resolve) => setTimeout(resolve, 5));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    stop = true;
    await Promise.all(clients);

    const reopened = await openStore({ dataDir, logger });
    try {
      const missing: string[] = [];
      for (const id of acknowledged) if (!(await reopened.actions.get(id))) missing.push(id);
      expect(missing).toEqual([]);
      expect(await reopened.actions.count({ agentId: agent.id })).toBeGreaterThanOrEqual(
        acknowledged.length,
      );
    } finally {
      await reopened.close();
    }

    // And the server starts again on the same data.
    const again = await startChild(dataDir);
    const status = await fetch(`${again.url}/status/${acknowledged[0]}`, {
      headers: { 'x-api-key': key },
    });
    expect(status.status).toBe(200);
    again.child.kill('SIGKILL');
    await new Promise((resolve) => again.child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });
});

// A small deterministic generator, so a failing fuzz case can be replayed.
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
  const integer = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[integer(items.length)] as T;
  const text = (max = 20) =>
    Array.from({ length: integer(max) }, () =>
      pick([
        'a',
        'Z',
        '0',
        '.',
        '/',
        '%',
        '"',
        '\\',
        ' ',
        'é',
        '🙂',
        '\u0000',
        '{',
        '[',
        '?',
        '#',
        '*',
      ]),
    ).join('');
  const value = (depth = 0): unknown => {
    switch (integer(depth > 3 ? 6 : 9)) {
      case 0:
        return null;
      case 1:
        return pick([true, false]);
      case 2:
        return pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER]);
      case 3:
        return text();
      case 4:
        return '';
      case 5:
        return pick(['__proto__', 'constructor', 'toString', 'x'.repeat(5_000)]);
      case 6:
        return Array.from({ length: integer(4) }, () => value(depth + 1));
      default: {
        const object: Record<string, unknown> = {};
        for (let index = 0; index < integer(4); index++)
          object[pick(['__proto__', 'a', text(5), 'session_id'])] = value(depth + 1);
        return object;
      }
    }
  };
  return { next, integer, pick, text, value };
}

describe('fuzz', () => {
  let t: TestServer;
  let actionId: string;

  beforeAll(async () => {
    t = await startTestServer({ bodyLimit: 64 * 1024, webhooks: { pollIntervalMs: 60_000 } });
    await t.server.policies.saveSet(t.agent.id, 'live', [
      {
        name: 'Amounts',
        tool: 'fuzz.*',
        rules: [
          { if: 'args.amount > 10 && args.to.endsWith("@example.com")', then: 'requires_approval' },
        ],
        default: 'allow',
      },
    ]);
    actionId = (await t.request('POST', '/policy/check', { body: { tool_name: 'fuzz.seed' } })).json
      .action_id;
  });

  afterAll(async () => {
    await t.close();
  });

  function checkAnswer(status: number, headers: Headers, text: string, what: string) {
    if (status >= 500) throw new Error(`${what} → ${status}: ${text.slice(0, 300)}`);
    if (status >= 400) {
      expect(headers.get('content-type'), what).toMatch(/^application\/json/);
      const body = JSON.parse(text);
      expect(typeof body.error, what).toBe('string');
    }
  }

  test('thousands of malformed bodies, headers and paths: only 2xx/4xx JSON, never 5xx', async () => {
    const random = generator(20_261_124);
    const endpoints = ['/policy/check', '/token-usage', `/v1/actions/${'ACTION'}/result`];
    const valid = [
      {
        tool_name: 'fuzz.pay',
        args: [],
        kwargs: { amount: 20, to: 'a@example.com' },
        metadata: null,
      },
      { model: 'gpt-4o', prompt_tokens: 1, completion_tokens: 2, session_id: 's' },
      { status: 'succeeded', duration_ms: 3 },
    ];
    const cases: {
      method: string;
      path: string;
      body?: string;
      headers: Record<string, string>;
    }[] = [];
    // The body fuzz checks validation, which no store changes; the PostgreSQL run samples it.
    const scale = process.env.ARDEN_TEST_DATABASE_URL ? 4 : 1;
    for (let index = 0; index < 2_400 / scale; index++) {
      const kind = random.integer(10);
      const endpoint = random.integer(3);
      const path = (endpoints[endpoint] as string).replace('ACTION', actionId);
      const headers: Record<string, string> = {
        'x-api-key': t.liveKey,
        'content-type': 'application/json',
      };
      let body: string;
      if (kind < 4) {
        // A valid body with one field replaced, removed or added.
        const base = structuredClone(valid[endpoint]) as Record<string, unknown>;
        const field = random.pick([...Object.keys(base), 'extra', 'events', '__proto__']);
        if (random.next() < 0.3) delete base[field];
        else base[field] = random.value();
        if (random.next() < 0.2) base.kwargs = { amount: random.value(), to: random.value() };
        body = JSON.stringify(base);
      } else if (kind < 6) {
        body = JSON.stringify(random.value());
      } else if (kind < 7) {
        const text = JSON.stringify(valid[endpoint]);
        body = text.slice(0, random.integer(text.length));
      } else if (kind < 8) {
        const depth = 50 + random.integer(100);
        body = `{"tool_name":"fuzz.deep","kwargs":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
      } else if (kind < 9) {
        headers['x-api-key'] = random.pick([
          '',
          'arden_live_',
          `arden_test_${'g'.repeat(32)}`,
          t.testKey,
          random.text(40).replace(/[^\x21-\x7e]/gu, 'x'),
        ]);
        headers['content-type'] = random.pick([
          'text/html',
          'application/json; charset=latin1',
          'multipart/form-data',
          '',
        ]);
        body = JSON.stringify(valid[endpoint]);
      } else {
        body = random.pick([
          '{"events":[',
          `{"events":${JSON.stringify(Array(1_001).fill(valid[1]))}}`,
          'x'.repeat(70_000),
          '\uFFFF\uD800',
        ]);
      }
      if (headers['content-type'] === '') delete headers['content-type'];
      cases.push({ method: 'POST', path, body, headers });
    }
    for (let index = 0; index < 800 / scale; index++) {
      const method = random.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
      const path = random.pick([
        `/status/${random.text(30)}`,
        `/status/${encodeURIComponent(random.text(10))}?wait=${random.pick(['-1', 'x', '1e9', '0.01', '', '31'])}`,
        `/v1/actions/${random.text(10)}/result`,
        `/${random.text(15)}`,
        '/status/%',
        '/status/%ZZ',
        `/status/${'a'.repeat(3_000)}`,
        '/approve/x',
        '/policy/check/',
        '//policy//check',
      ]);
      const safePath = path
        .replace(/[^\x21-\x7e]/gu, (character) => encodeURIComponent(character))
        .replace(/#/g, '%23');
      cases.push({
        method,
        path: safePath,
        headers: { 'x-api-key': random.pick([t.liveKey, t.testKey, 'nope']) },
        ...(method === 'POST' || method === 'PUT' ? { body: JSON.stringify(random.value()) } : {}),
      });
    }
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const item = cases[next++] as (typeof cases)[number];
        const response = await fetch(t.url + item.path, {
          method: item.method,
          headers: item.headers,
          body: item.body,
        });
        const text = await response.text();
        if (item.method !== 'HEAD')
          checkAnswer(
            response.status,
            response.headers,
            text,
            `${item.method} ${item.path} ${item.body?.slice(0, 200)}`,
          );
        else expect(response.status).toBeLessThan(500);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect((await t.request('GET', '/healthz')).status).toBe(200);
  }, 60_000);

  test('raw garbage on the socket gets a 4xx JSON answer or a closed connection', async () => {
    const random = generator(7);
    const port = new URL(t.url).port;
    const payloads = [
      'GARBAGE\r\n\r\n',
      'GET /healthz HTTP/9.9\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'POST /policy/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n',
      'POST /policy/check HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'POST /policy/check HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      `POST /policy/check HTTP/1.1\r\nHost: x\r\nX-API-Key: ${t.liveKey}\r\nContent-Length: 999999999\r\n\r\n{`,
      ...Array.from({ length: 150 }, () => `${random.text(30)}\r\n${random.text(30)}\r\n\r\n`),
    ];
    for (const payload of payloads) {
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1');
        let data = '';
        socket.setTimeout(500, () => socket.destroy());
        socket.on('data', (chunk) => {
          data += chunk;
        });
        socket.on('close', () => resolve(data));
        socket.on('error', () => resolve(data));
        socket.write(payload);
      });
      if (answer === '') continue;
      const status = Number(answer.slice(9, 12));
      expect(status, JSON.stringify(payload.slice(0, 100))).toBeGreaterThanOrEqual(400);
      expect(status, JSON.stringify(payload.slice(0, 100))).toBeLessThan(500);
      expect(answer.toLowerCase()).toContain('application/json');
    }
    expect((await t.request('GET', '/healthz')).status).toBe(200);
  });
});
