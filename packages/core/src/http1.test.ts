import { spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ResponseParser, socketTransport } from './http1';
import { TimeoutError, type Transport } from './transport';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function httpServer(
  handler: Parameters<typeof createHttpServer>[1],
  setUp?: (server: HttpServer) => void,
) {
  const server = createHttpServer(handler);
  setUp?.(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

/** A server that answers every request with `answer` (raw bytes), written as the test says. */
async function rawServer(onRequest: (socket: net.Socket, request: string, index: number) => void) {
  const sockets = new Set<net.Socket>();
  let index = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const request = pending.slice(0, end + 4 + length);
        pending = pending.slice(end + 4 + length);
        onRequest(socket, request, index++);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, sockets };
}

function transportFor(url: string): Transport {
  const transport = socketTransport(url, net) as Transport;
  closers.push(() => transport.close?.());
  return transport;
}

const get = (transport: Transport, url: string, timeoutMs = 2_000) =>
  transport({
    method: 'GET',
    url,
    headers: { accept: 'application/json' },
    body: undefined,
    timeoutMs,
  });

function writeSlowly(socket: net.Socket, bytes: Buffer, piece: number) {
  let offset = 0;
  const next = () => {
    if (offset >= bytes.length || socket.destroyed) return;
    socket.write(bytes.subarray(offset, offset + piece));
    offset += piece;
    setImmediate(next);
  };
  next();
}

describe('socketTransport (HTTP/1.1 over node:net)', () => {
  it('sends method, path, headers and a UTF-8 body, and reads status, headers and body', async () => {
    const seen: {
      method?: string;
      url?: string;
      headers?: Record<string, unknown>;
      body?: string;
    } = {};
    const { url } = await httpServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => {
        body += chunk;
      });
      request.on('end', () => {
        Object.assign(seen, {
          method: request.method,
          url: request.url,
          headers: request.headers,
          body,
        });
        response.setHeader('x-answer', 'yes');
        response.statusCode = 201;
        response.end(JSON.stringify({ echo: body }));
      });
    });
    const transport = transportFor(url);
    const body = JSON.stringify({ note: 'grüße, 東京, 🚀' });
    const response = await transport({
      method: 'POST',
      url: `${url}/policy/check?x=1`,
      headers: { 'content-type': 'application/json', 'x-api-key': 'arden_test_key' },
      body,
      timeoutMs: 2_000,
    });
    expect(response.status).toBe(201);
    expect(response.header('X-Answer')).toBe('yes');
    expect(JSON.parse(response.text)).toEqual({ echo: body });
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/policy/check?x=1');
    expect(seen.headers?.['x-api-key']).toBe('arden_test_key');
    expect(seen.headers?.host).toBe(new URL(url).host);
    expect(seen.headers?.['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(seen.body).toBe(body);
  });

  it('keeps one connection alive for sequential requests and opens more only for concurrent ones', async () => {
    const sockets = new Set<unknown>();
    const { url } = await httpServer((request, response) => {
      sockets.add(request.socket);
      setTimeout(() => response.end(JSON.stringify({ path: request.url })), 2);
    });
    const transport = transportFor(url);
    for (let index = 0; index < 30; index++) {
      expect(JSON.parse((await get(transport, `${url}/n/${index}`)).text)).toEqual({
        path: `/n/${index}`,
      });
    }
    expect(sockets.size).toBe(1);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, index) => get(transport, `${url}/c/${index}`)),
    );
    expect(answers.map((answer) => JSON.parse(answer.text).path)).toEqual(
      Array.from({ length: 40 }, (_, index) => `/c/${index}`),
    );
    expect(sockets.size).toBeGreaterThan(1);
    expect(sockets.size).toBeLessThanOrEqual(41);
  });

  it('reads chunked answers, 1xx interim answers, chunk extensions and trailers, delivered a byte at a time', async () => {
    const body = '{"decision":"allow","note":"ünïcödé split across chunks"}';
    const encoded = Buffer.from(body, 'utf8');
    const first = encoded.subarray(0, 20);
    const rest = encoded.subarray(20);
    const answer = Buffer.concat([
      Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'),
      Buffer.from(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      ),
      Buffer.from(`${first.length.toString(16)};name=value\r\n`),
      first,
      Buffer.from(`\r\n${rest.length.toString(16).toUpperCase()}\r\n`),
      rest,
      Buffer.from('\r\n0\r\nx-trailer: 1\r\n\r\n'),
    ]);
    const { url, sockets } = await rawServer((socket) => writeSlowly(socket, answer, 1));
    const transport = transportFor(url);
    for (let index = 0; index < 3; index++) {
      const response = await get(transport, `${url}/chunked`);
      expect(response.status).toBe(200);
      expect(response.text).toBe(body);
    }
    expect(sockets.size).toBe(1);
  });

  it('reads an answer framed by the end of the connection, and then uses a new connection', async () => {
    const { url, sockets } = await rawServer((socket, _request, index) => {
      socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nanswer ${index}`);
    });
    const transport = transportFor(url);
    expect((await get(transport, `${url}/a`)).text).toBe('answer 0');
    expect((await get(transport, `${url}/b`)).text).toBe('answer 1');
    expect(sockets.size).toBe(2);
  });

  it('does not reuse a connection the server said to close', async () => {
    const sockets = new Set<unknown>();
    const { url } = await httpServer((request, response) => {
      sockets.add(request.socket);
      response.setHeader('connection', 'close');
      response.end('{}');
    });
    const transport = transportFor(url);
    for (let index = 0; index < 3; index++)
      expect((await get(transport, `${url}/`)).text).toBe('{}');
    expect(sockets.size).toBe(3);
  });

  it('closes idle connections before the server does (Keep-Alive: timeout) and never fails a request on one', async () => {
    const { url } = await httpServer(
      (_request, response) => response.end('{"ok":true}'),
      (server) => {
        server.keepAliveTimeout = 1_100; // answers carry Keep-Alive: timeout=1
      },
    );
    const transport = transportFor(url);
    for (let round = 0; round < 3; round++) {
      expect((await get(transport, `${url}/`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 400 + round * 500));
    }
  });

  it('sends a request again on a new connection when a kept-alive one is closed as it is written', async () => {
    // The server answers the first request of each connection and closes the connection, without
    // answering, when a second one arrives on it (as a server closing an idle connection does).
    const served = new WeakMap<net.Socket, number>();
    const { url, sockets } = await rawServer((socket) => {
      const count = served.get(socket) ?? 0;
      served.set(socket, count + 1);
      if (count === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.destroy();
    });
    const transport = transportFor(url);
    for (let index = 0; index < 4; index++)
      expect((await get(transport, `${url}/${index}`)).text).toBe('ok');
    expect(sockets.size).toBe(4);
  });

  it('does not send a request twice on a new connection', async () => {
    let requests = 0;
    const { url } = await rawServer((socket) => {
      requests++;
      socket.destroy();
    });
    await expect(get(transportFor(url), `${url}/`)).rejects.toThrow(
      /closed the connection before answering/,
    );
    expect(requests).toBe(1);
  });

  it('never sends a POST twice: a kept-alive connection closed under it fails the request', async () => {
    let requests = 0;
    const served = new WeakMap<net.Socket, number>();
    const { url } = await rawServer((socket) => {
      requests++;
      const count = served.get(socket) ?? 0;
      served.set(socket, count + 1);
      if (count === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.end();
    });
    const transport = transportFor(url);
    const post = () =>
      transport({
        method: 'POST',
        url: `${url}/policy/check`,
        headers: {},
        body: '{}',
        timeoutMs: 2_000,
      });
    expect((await post()).text).toBe('ok');
    await expect(post()).rejects.toThrow(/closed the connection before answering/);
    expect(requests).toBe(2);
  });

  it('takes API URLs as node:http does: any case, leading zeros in the port, a base path to encode', async () => {
    const paths: string[] = [];
    const { url } = await httpServer((request, response) => {
      paths.push(request.url ?? '');
      response.end('{}');
    });
    const port = new URL(url).port;
    for (const apiUrl of [`http://127.0.0.1:0${port}`, `HTTP://127.0.0.1:${port}/ärden`]) {
      const transport = transportFor(apiUrl);
      expect((await get(transport, `${apiUrl}/status/1`)).status).toBe(200);
    }
    expect(paths).toEqual(['/status/1', '/%C3%A4rden/status/1']);
    // Credentials in the URL are left to node:http (which sends them as Basic auth).
    expect(socketTransport(`http://user:secret@127.0.0.1:${port}`, net)).toBeUndefined();
  });

  it('times out a server that never answers, with a TimeoutError', async () => {
    const { url } = await rawServer(() => {
      // Never answers.
    });
    const transport = transportFor(url);
    const started = performance.now();
    await expect(get(transport, `${url}/`, 100)).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('rejects an answer cut off in the middle, and one that is not HTTP', async () => {
    const cut = await rawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial":');
    });
    await expect(get(transportFor(cut.url), `${cut.url}/`)).rejects.toThrow(
      /in the middle of its answer/,
    );
    const garbage = await rawServer((socket) => {
      socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
    });
    await expect(get(transportFor(garbage.url), `${garbage.url}/`)).rejects.toThrow(/status line/);
    const conflicting = await rawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nokk');
    });
    await expect(get(transportFor(conflicting.url), `${conflicting.url}/`)).rejects.toThrow(
      /content length/,
    );
  });

  it('refuses header values with line breaks before sending anything', async () => {
    let requests = 0;
    const { url } = await rawServer(() => {
      requests++;
    });
    const transport = transportFor(url);
    await expect(
      transport({
        method: 'GET',
        url: `${url}/`,
        headers: { 'x-api-key': 'arden_test_x\r\nx-admin: 1' },
        body: undefined,
        timeoutMs: 1_000,
      }),
    ).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringMatching(/line break/),
    });
    await expect(get(transport, `${url}/a b`)).rejects.toThrow(/characters a URL cannot hold/);
    expect(requests).toBe(0);
  });

  it('reports a refused connection with its code', async () => {
    const transport = transportFor('http://127.0.0.1:9');
    await expect(get(transport, 'http://127.0.0.1:9/healthz')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });

  it('lets the process exit while connections are idle (the built package, in a child process)', async () => {
    const { url } = await httpServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.setHeader('content-type', 'application/json');
        response.end(
          request.url === '/policy/check'
            ? JSON.stringify({ decision: 'allow', action_id: 'act_1', status: 'completed' })
            : '{}',
        );
      });
    });
    // The child makes one guarded call and then has nothing to do: it must exit at once.
    const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `
      import { createArden } from ${JSON.stringify(entry)};
      const arden = createArden({ apiKey: 'arden_test_${'d'.repeat(32)}', apiUrl: ${JSON.stringify(url)} });
      console.log(await arden.guardTool('t', async () => 'ran')());
    `;
    const started = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(output.trim()).toBe('ran');
    expect(Date.now() - started).toBeLessThan(3_500);
  });
});

describe('ResponseParser', () => {
  const parse = (text: string) => {
    const parser = new ResponseParser(Buffer);
    return parser.feed(Buffer.from(text, 'latin1')) ?? parser.end();
  };

  it('reads answers without a body (204, 304, content-length 0)', () => {
    expect(parse('HTTP/1.1 204 No Content\r\n\r\n')).toMatchObject({ status: 204, text: '' });
    expect(parse('HTTP/1.1 304 Not Modified\r\ncontent-length: 50\r\n\r\n')).toMatchObject({
      status: 304,
    });
    expect(parse('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')).toMatchObject({
      status: 200,
      text: '',
    });
  });

  it('joins repeated headers and reads HTTP/1.0 as not kept alive', () => {
    const parser = new ResponseParser(Buffer);
    const response = parser.feed(
      Buffer.from('HTTP/1.0 200 OK\r\nx-a: 1\r\nX-A: 2\r\ncontent-length: 2\r\n\r\nok'),
    );
    expect(response?.header('x-a')).toBe('1, 2');
    expect(parser.keepAlive).toBe(false);
  });

  it('refuses oversized heads, bad chunk sizes and unknown transfer encodings', () => {
    expect(() => parse(`HTTP/1.1 200 OK\r\nx: ${'a'.repeat(70_000)}`)).toThrow(/64 KiB/);
    expect(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n')).toThrow(
      /chunk size/,
    );
    expect(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n')).toThrow(
      /transfer encoding/,
    );
    expect(() => parse('HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n')).toThrow(/32 MiB/);
    expect(() => parse('HTTP/1.1 200 OK\r\nbad header line\r\n\r\n')).toThrow(/header line/);
  });

  it('refuses both framings at once and header names with spaces (request smuggling)', () => {
    expect(() =>
      parse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n'),
    ).toThrow(/both Transfer-Encoding and Content-Length/);
    expect(() => parse('HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok')).toThrow(/header line/);
    expect(() => parse('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n')).toThrow(
      /transfer encoding/,
    );
  });

  it('an interim 1xx answer counts as the server having read the request', () => {
    const parser = new ResponseParser(Buffer);
    expect(parser.untouched).toBe(true);
    expect(parser.feed(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'))).toBeUndefined();
    expect(parser.untouched).toBe(false);
  });

  it('finds the end of the head wherever the pieces split it, and after interim answers in the same piece', () => {
    const answer = Buffer.from(
      'HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nx-r: a\r\ncontent-length: 2\r\n\r\nok',
    );
    for (let split = 0; split <= answer.length; split++) {
      for (const second of [answer.length, split + 1, split + 3]) {
        const parser = new ResponseParser(Buffer);
        const pieces = [
          answer.subarray(0, split),
          answer.subarray(split, second),
          answer.subarray(second),
        ];
        let response: ReturnType<ResponseParser['feed']>;
        for (const piece of pieces) response = parser.feed(piece) ?? response;
        expect(response, `split at ${split}/${second}`).toMatchObject({ status: 200, text: 'ok' });
      }
    }
  });

  it('counts bytes after an answer without a body', () => {
    const parser = new ResponseParser(Buffer);
    parser.feed(Buffer.from('HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n'));
    expect(parser.extraBytes).toBe(17);
  });

  it('counts bytes after the end of the answer (the connection is then not reused)', () => {
    const parser = new ResponseParser(Buffer);
    parser.feed(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA'));
    expect(parser.extraBytes).toBe(5);
  });
});
