import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../config';
import { startTestServer, type TestServer } from '../test-fixtures/harness';
import { addressGroup } from './connections';

const servers: TestServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await server.close();
});

async function start(config: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const server = await startTestServer(config);
  servers.push(server);
  return server;
}

/** A raw connection to the server, with everything it received and when it closed. */
async function open(
  url: string,
  localAddress = '127.0.0.1',
): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { port } = new URL(url);
  const socket = connect({ port: Number(port), host: '127.0.0.1', localAddress });
  sockets.push(socket);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.on('error', () => undefined);
  const started = Date.now();
  const closed = new Promise<number>((resolve) =>
    socket.on('close', () => resolve(Date.now() - started)),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, received: () => text, closed };
}

/** Status and JSON body of a raw HTTP answer. */
function parseAnswer(text: string): { status: number; json: any; headers: string } {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
    headers: head.toLowerCase(),
    json: body ? JSON.parse(body) : undefined,
  };
}

const trickle = (socket: Socket, text: string, everyMs: number) => {
  let index = 0;
  const timer = setInterval(() => {
    if (index >= text.length || socket.destroyed) {
      clearInterval(timer);
      return;
    }
    socket.write(text[index++] as string);
  }, everyMs);
  return () => clearInterval(timer);
};

/** Sends one keep-alive request on `connection` and waits for its whole answer. */
async function servedOn(connection: Awaited<ReturnType<typeof open>>) {
  const before = connection.received().length;
  connection.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!/\r\n\r\n[\s\S]*\}/.test(connection.received().slice(before))) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return connection;
}

/** A connection that has been served one request and stays open (keep-alive). */
async function served(url: string, localAddress?: string) {
  return servedOn(await open(url, localAddress));
}

const healthy = async (url: string) => {
  const started = performance.now();
  const response = await fetch(`${url}/healthz`);
  return { status: response.status, ms: performance.now() - started };
};

describe('connection limits and Node’s own errors', () => {
  it('has documented defaults: 1 000 connections, an eighth of them per address, 10 s headers and bodies, 5 s unauthenticated', () => {
    expect(resolveConfig({}, {})).toMatchObject({
      maxConnections: 1_000,
      maxConnectionsPerAddress: 125,
      headersTimeoutMs: 10_000,
      bodyTimeoutMs: 10_000,
      unauthenticatedBodyTimeoutMs: 5_000,
    });
    expect(
      resolveConfig({}, { ARDEN_MAX_CONNECTIONS: '50', ARDEN_MAX_CONNECTIONS_PER_ADDRESS: '0' }),
    ).toMatchObject({ maxConnections: 50, maxConnectionsPerAddress: 0 });
    expect(resolveConfig({}, { ARDEN_MAX_CONNECTIONS: '80' }).maxConnectionsPerAddress).toBe(10);
    expect(resolveConfig({ maxConnections: 0 }, {}).maxConnectionsPerAddress).toBe(256);
    expect(() => resolveConfig({ maxConnectionsPerAddress: 1.5 }, {})).toThrow(/whole number/);
  });

  it('a malformed request line gets a JSON 400, and 20 KB of headers a JSON 431', async () => {
    const t = await start();
    const garbage = await open(t.url);
    garbage.socket.write('THIS IS NOT HTTP\r\n\r\n');
    await garbage.closed;
    const bad = parseAnswer(garbage.received());
    expect(bad.status).toBe(400);
    expect(bad.headers).toContain('content-type: application/json');
    expect(bad.json.error).toMatch(/not valid HTTP/);

    const large = await open(t.url);
    large.socket.write(
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    );
    await large.closed;
    const tooLarge = parseAnswer(large.received());
    expect(tooLarge.status).toBe(431);
    expect(tooLarge.json.error).toMatch(/headers are too large/);
    expect((await healthy(t.url)).status).toBe(200);
  });

  it('slowloris headers are cut off after headersTimeoutMs with a JSON 408, and others are served meanwhile', async () => {
    const t = await start({ headersTimeoutMs: 1_500 });
    const idle = await open(t.url);
    const slow = await open(t.url);
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const stop = trickle(slow.socket, `X-Slow: ${'b'.repeat(200)}`, 100);
    const during = await healthy(t.url);
    expect(during.status).toBe(200);
    const closedAfter = await slow.closed;
    stop();
    expect(closedAfter).toBeLessThan(1_500 + 2_500);
    const answer = parseAnswer(slow.received());
    expect(answer.status).toBe(408);
    expect(answer.json.error).toMatch(/took too long/);
    // A connection that sends nothing at all is closed the same way.
    expect(await idle.closed).toBeLessThan(1_500 + 2_500);
    expect(parseAnswer(idle.received()).status).toBe(408);
  });

  it('an unauthenticated slow body is cut off in 5 s by default (a JSON 408), not after minutes', async () => {
    const t = await start();
    const slow = await open(t.url);
    slow.socket.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"email":',
    );
    const stop = trickle(slow.socket, ` ${'x'.repeat(900)}`, 200);
    expect((await healthy(t.url)).status).toBe(200);
    const closedAfter = await slow.closed;
    stop();
    expect(closedAfter).toBeGreaterThan(4_000);
    expect(closedAfter).toBeLessThan(7_500);
    const answer = parseAnswer(slow.received());
    expect(answer.status).toBe(408);
    expect(answer.json.error).toMatch(/did not arrive within 5 s/);
  }, 15_000);

  it('an authenticated slow body gets bodyTimeoutMs, longer than an unauthenticated one', async () => {
    const t = await start({ bodyTimeoutMs: 3_000, unauthenticatedBodyTimeoutMs: 1_000 });
    const slow = await open(t.url);
    slow.socket.write(
      `POST /policy/check HTTP/1.1\r\nHost: x\r\nX-API-Key: ${t.liveKey}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"tool_name":`,
    );
    const stop = trickle(slow.socket, ` ${'y'.repeat(400)}`, 100);
    const closedAfter = await slow.closed;
    stop();
    expect(closedAfter).toBeGreaterThan(2_500);
    expect(closedAfter).toBeLessThan(5_000);
    expect(parseAnswer(slow.received()).json.error).toMatch(/did not arrive within 3 s/);
  });

  it('caps connections per address and in total with a JSON 503, and serves others', async () => {
    const t = await start({ maxConnectionsPerAddress: 4, maxConnections: 6 });
    const held = [];
    for (let index = 0; index < 4; index++) held.push(await open(t.url));
    const overAddress = await open(t.url);
    await overAddress.closed;
    const refused = parseAnswer(overAddress.received());
    expect(refused.status).toBe(503);
    expect(refused.headers).toContain('retry-after: 1');
    expect(refused.json.error).toMatch(/Too many open connections from your address/);

    // Another address is still served (127.0.0.2 is loopback too)…
    const other = await open(t.url, '127.0.0.2');
    other.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await other.closed;
    expect(parseAnswer(other.received()).status).toBe(200);
    // …until the total cap, once every open connection has been served (keep-alive, idle now).
    for (const connection of held) await servedOn(connection);
    held.push(await served(t.url, '127.0.0.2'), await served(t.url, '127.0.0.3'));
    const overTotal = await open(t.url, '127.0.0.4');
    await overTotal.closed;
    expect(parseAnswer(overTotal.received()).json.error).toMatch(/too many open connections/);

    // Closing connections makes room again.
    for (const connection of held) connection.socket.destroy();
    await Promise.all(held.map((connection) => connection.closed));
    expect((await healthy(t.url)).status).toBe(200);
  });

  it('at the total cap, closes the oldest connection that sent no request rather than refuse a new client', async () => {
    const t = await start({ maxConnections: 4, maxConnectionsPerAddress: 2 });
    const servedOne = await served(t.url, '127.0.0.2');
    // Slots held without a request: one silent, two trickling a request head.
    const silent = await open(t.url, '127.0.0.3');
    const trickling = [await open(t.url, '127.0.0.4'), await open(t.url, '127.0.0.4')];
    for (const connection of trickling) connection.socket.write('GET /healthz HTTP/1.1\r\nX-A: ');
    // A new client gets in (and stays, keep-alive): the oldest idle connection, the silent one,
    // makes room.
    const newcomer = await served(t.url, '127.0.0.5');
    expect(parseAnswer(newcomer.received()).status).toBe(200);
    expect(await silent.closed).toBeLessThan(2_000);
    // So does the next, in place of the older trickling one; served connections are kept.
    const next = await open(t.url, '127.0.0.6');
    next.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await next.closed;
    expect(parseAnswer(next.received()).status).toBe(200);
    expect(await trickling[0]?.closed).toBeLessThan(2_000);
    expect(trickling[1]?.socket.destroyed).toBe(false);
    expect(servedOne.socket.destroyed).toBe(false);
    expect(newcomer.socket.destroyed).toBe(false);
    await servedOn(servedOne);
  });

  it('counts IPv6 clients per /64, IPv4 per address', () => {
    expect(addressGroup('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:0db8:0001:0002:aaaa::1%eth0')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('203.0.113.7')).toBe('203.0.113.7');
  });
});
