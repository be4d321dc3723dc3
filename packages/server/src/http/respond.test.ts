import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, expect, test, vi } from 'vitest';
import { PayloadTooLargeError } from '../errors';
import { readBody, sendJson } from './respond';

let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

// A server whose handler, like the agent routes, awaits something (the key check) and then
// reads the body; it records whether readBody waited for 'data' events.
async function recordingServer(limit = 1024) {
  const seen: { events: boolean; body?: string; error?: string }[] = [];
  server = createServer(async (request: IncomingMessage, response) => {
    await Promise.resolve();
    const on = vi.spyOn(request, 'on');
    try {
      const body = await readBody(request, limit);
      seen.push({ events: on.mock.calls.some(([event]) => event === 'data'), body: String(body) });
    } catch (error) {
      seen.push({ events: false, error: (error as Error).constructor.name });
    }
    response.end('ok');
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  // Writes `pieces` on one connection, 15 ms apart, and waits for `answers` answers.
  const send = async (pieces: string[], answers: number) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const done = new Promise<void>((resolve) => {
      socket.on('data', (chunk) => {
        received += chunk;
        if (received.split('HTTP/1.1 ').length - 1 >= answers) resolve();
      });
    });
    for (const piece of pieces) {
      socket.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await done;
    socket.destroy();
  };
  return { seen, send };
}

const head = (framing: string) => `POST / HTTP/1.1\r\nHost: x\r\n${framing}\r\n`;

test('a body that came with its headers is taken at once; one still on its way is read from its events', async () => {
  const { seen, send } = await recordingServer();
  const body = '{"tool_name":"a.b","kwargs":{"path":"/tmp/é"}}';
  const length = `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  await send([head(length) + body], 1);
  await send([head(length) + body.slice(0, 10), body.slice(10)], 1);
  await send(
    [`${head('Transfer-Encoding: chunked\r\n')}3\r\n{"a\r\n`, '4\r\n":1}\r\n0\r\n\r\n'],
    1,
  );
  // Two in one write: the first is whole in the buffer, the second follows it.
  await send([head(length) + body + head(length) + body], 2);
  expect(seen).toEqual([
    { events: false, body },
    { events: true, body },
    { events: true, body: '{"a":1}' },
    { events: false, body },
    { events: false, body },
  ]);
});

test('the limit holds on both paths', async () => {
  const { seen, send } = await recordingServer(8);
  const body = '{"a":"0123456789"}';
  await send([head(`Content-Length: ${body.length}\r\n`) + body], 1);
  await send(
    [
      `${head('Transfer-Encoding: chunked\r\n')}${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    ],
    1,
  );
  expect(seen).toEqual([
    { events: false, error: PayloadTooLargeError.name },
    { events: false, error: PayloadTooLargeError.name },
  ]);
});

test('sendJson: the JSON answer with its headers, extra headers and headers set before kept', async () => {
  server = createServer((request, response) => {
    if (request.url === '/closing') response.setHeader('connection', 'close');
    if (request.url === '/extra') sendJson(response, 405, { error: 'no' }, { allow: 'GET' });
    else sendJson(response, 200, { ok: true, text: 'é' });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const plain = await fetch(`${base}/plain`);
  expect(plain.status).toBe(200);
  expect(plain.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(plain.headers.get('content-length')).toBe(
    String(Buffer.byteLength('{"ok":true,"text":"é"}')),
  );
  expect(plain.headers.get('cache-control')).toBe('no-store');
  expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
  expect(await plain.json()).toEqual({ ok: true, text: 'é' });
  const extra = await fetch(`${base}/extra`);
  expect(extra.status).toBe(405);
  expect(extra.headers.get('allow')).toBe('GET');
  expect(extra.headers.get('cache-control')).toBe('no-store');
  expect(await extra.json()).toEqual({ error: 'no' });
  const closing = await fetch(`${base}/closing`);
  expect(closing.headers.get('connection')).toBe('close');
  expect(closing.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(await closing.json()).toEqual({ ok: true, text: 'é' });
});
