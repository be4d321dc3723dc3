// A small HTTP/1.1 client over `node:net`, for `http:` API URLs on Node.
//
// Every guarded tool call waits for one round trip to the Arden server, so the client's own cost
// is on the agent's critical path. `node:http`'s ClientRequest spends about 50 µs of CPU per
// round trip on this path (header objects, validation, agent bookkeeping, stream machinery);
// this client writes the request as one string on a pooled keep-alive socket and reads the
// answer with a parser for exactly what a JSON API returns: a status line, headers, and a body
// framed by Content-Length, chunked encoding, or the end of the connection. Measured in
// bench/ (check-overhead). `https:` URLs and proxied set-ups (NODE_USE_ENV_PROXY,
// --use-env-proxy) use `node:https` / `node:http`; ARDEN_HTTP_TRANSPORT chooses explicitly.

import { ConfigurationError } from './errors';
import { type BufferStatic, ResponseParser } from './http1-parser';
import type { Transport, TransportRequest, TransportResponse } from './transport';
import { TimeoutError } from './transport';

export { ResponseParser } from './http1-parser';

interface NetSocket {
  setNoDelay(noDelay: boolean): void;
  write(data: string): boolean;
  on(event: 'data', listener: (chunk: Uint8Array) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'close', listener: () => void): void;
  destroy(error?: Error): void;
  ref(): void;
  unref(): void;
  destroyed: boolean;
}

/** The parts of `node:net` this client uses. */
export interface NetModule {
  connect(options: { host: string; port: number }): NetSocket;
}

/** Idle connections kept open for reuse (more are opened under concurrency, then closed). */
const maxIdle = 16;
/** How long an idle connection is kept when the server does not say (`Keep-Alive: timeout=N`). */
const defaultIdleMs = 4_000;

const forbiddenInHeader = /[\r\n\0]/;
const safeTarget = /^\/[\x21-\x7e]*$/;

interface Exchange {
  parser: ResponseParser;
  resolve: (response: TransportResponse) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** One pooled connection. */
class Connection {
  exchange: Exchange | undefined;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  reusable = true;
  /** Exchanges this connection carried before the current one. */
  served = 0;

  constructor(
    readonly socket: NetSocket,
    private readonly onIdle: (connection: Connection, idleMs: number) => void,
    private readonly onGone: (connection: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.data(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => {
      const exchange = this.exchange;
      if (exchange) {
        let response: TransportResponse | undefined;
        try {
          response = exchange.parser.end();
        } catch (error) {
          this.fail(error as Error);
          return;
        }
        if (response) {
          this.complete(response);
        } else {
          this.fail(
            Object.assign(
              new Error(
                exchange.parser.untouched
                  ? 'the server closed the connection before answering'
                  : 'the server closed the connection in the middle of its answer',
              ),
              { code: 'ECONNRESET' },
            ),
          );
        }
      }
      this.reusable = false;
      this.onGone(this);
    });
  }

  send(payload: string, exchange: Exchange): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.exchange = exchange;
    this.socket.ref();
    this.socket.write(payload);
  }

  private data(chunk: Uint8Array): void {
    const exchange = this.exchange;
    if (!exchange) {
      // Bytes while idle: the server is out of step with this connection; drop it.
      this.reusable = false;
      this.socket.destroy();
      return;
    }
    let response: TransportResponse | undefined;
    try {
      response = exchange.parser.feed(chunk);
    } catch (error) {
      this.reusable = false;
      this.socket.destroy();
      this.fail(error as Error);
      return;
    }
    if (response) this.complete(response);
  }

  private complete(response: TransportResponse): void {
    const exchange = this.exchange as Exchange;
    this.exchange = undefined;
    this.served++;
    clearTimeout(exchange.timer);
    if (!exchange.parser.keepAlive || exchange.parser.extraBytes > 0) this.reusable = false;
    exchange.resolve(response);
    if (this.reusable && !this.socket.destroyed) {
      this.socket.unref();
      this.onIdle(this, idleMsOf(response.header('keep-alive')));
    } else {
      this.socket.destroy();
    }
  }

  fail(error: Error): void {
    this.reusable = false;
    const exchange = this.exchange;
    if (!exchange) return;
    this.exchange = undefined;
    clearTimeout(exchange.timer);
    exchange.reject(error);
    this.socket.destroy();
  }
}

// `Keep-Alive: timeout=5` (seconds): close the connection a second before the server would, so
// that a request is not written onto a connection the server is closing.
function idleMsOf(keepAlive: string | undefined): number {
  const timeout = keepAlive ? /timeout\s*=\s*(\d+)/i.exec(keepAlive) : null;
  if (!timeout) return defaultIdleMs;
  return Math.max(0, Math.min(defaultIdleMs * 15, Number(timeout[1]) * 1000 - 1000));
}

/**
 * A transport for `http:` URLs over `node:net` with a keep-alive pool, or undefined when the
 * runtime has no `node:net` or `Buffer`.
 */
export function socketTransport(apiUrl: string, net: NetModule | undefined): Transport | undefined {
  const buffer = (globalThis as { Buffer?: BufferStatic }).Buffer;
  if (!net || !buffer) return undefined;
  const base = new URL(apiUrl);
  // Credentials, queries or fragments in the API URL: leave those to node:http.
  if (base.protocol !== 'http:' || base.username || base.password || base.search || base.hash) {
    return undefined;
  }
  const target: Target = {
    apiUrl,
    origin: base.origin,
    basePath: base.pathname === '/' ? '' : base.pathname.replace(/\/$/, ''),
  };
  const host = base.host;
  const hostname = base.hostname.startsWith('[') ? base.hostname.slice(1, -1) : base.hostname;
  const port = base.port === '' ? 80 : Number(base.port);
  const idle: Connection[] = [];
  const all = new Set<Connection>();

  const release = (connection: Connection, idleMs: number) => {
    if (idle.length >= maxIdle || idleMs === 0) {
      connection.socket.destroy();
      return;
    }
    idle.push(connection);
    connection.idleTimer = setTimeout(() => connection.socket.destroy(), idleMs);
    (connection.idleTimer as { unref?: () => void }).unref?.();
  };
  const forget = (connection: Connection) => {
    all.delete(connection);
    const index = idle.indexOf(connection);
    if (index !== -1) idle.splice(index, 1);
    if (connection.idleTimer !== undefined) clearTimeout(connection.idleTimer);
  };

  const attempt = (
    payload: string,
    timeoutMs: number,
    reuse: boolean,
    idempotent: boolean,
  ): Promise<TransportResponse> =>
    new Promise<TransportResponse>((resolve, reject) => {
      let connection: Connection | undefined;
      while (reuse && idle.length > 0) {
        const candidate = idle.pop() as Connection;
        if (candidate.reusable && !candidate.socket.destroyed) {
          connection = candidate;
          break;
        }
      }
      if (!connection) {
        connection = new Connection(net.connect({ host: hostname, port }), release, forget);
        all.add(connection);
      }
      const current = connection;
      const reused = current.served > 0;
      const parser = new ResponseParser(buffer);
      const timer = setTimeout(() => {
        current.fail(new TimeoutError(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      current.send(payload, {
        parser,
        resolve,
        reject: (error) => {
          // A kept-alive connection the server closed just as a GET was written on it, with no
          // byte of an answer: send it once more on a new connection. Never a POST — the server
          // may have read and acted on it before closing (HttpClient decides about retries).
          const code = (error as { code?: unknown }).code;
          if (
            idempotent &&
            reused &&
            parser.untouched &&
            (code === 'ECONNRESET' || code === 'EPIPE')
          ) {
            attempt(payload, timeoutMs, false, idempotent).then(resolve, reject);
          } else {
            reject(error);
          }
        },
        timer,
      });
    });

  const transport: Transport = (request: TransportRequest) => {
    let payload: string;
    try {
      payload = serialize(request, target, host, buffer);
    } catch (error) {
      return Promise.reject(error);
    }
    return attempt(payload, request.timeoutMs, true, request.method === 'GET');
  };
  transport.close = () => {
    for (const connection of all) {
      connection.fail(new Error('the client was closed'));
      connection.socket.destroy();
    }
    all.clear();
    idle.length = 0;
  };
  return transport;
}

/** The configured API URL, as `serialize` turns request URLs into request targets. */
interface Target {
  apiUrl: string;
  origin: string;
  basePath: string;
}

// The request as one string: request line, headers, body. Every header value is checked for
// line breaks, so a value can never add a header or a request of its own.
function serialize(
  request: TransportRequest,
  base: Target,
  host: string,
  buffer: BufferStatic,
): string {
  let target: string;
  if (request.url.startsWith(base.apiUrl)) {
    // The usual case: the configured URL plus an API path.
    target = base.basePath + request.url.slice(base.apiUrl.length);
  } else {
    const url = new URL(request.url);
    if (url.origin !== base.origin) {
      throw new ConfigurationError(`The request URL ${request.url} is not on ${base.origin}.`);
    }
    target = url.pathname + url.search;
  }
  if (target === '' || target[0] === '?') target = `/${target}`;
  if (!safeTarget.test(target)) {
    throw new ConfigurationError(
      `The request path ${JSON.stringify(target.slice(0, 100))} has characters a URL cannot hold.`,
    );
  }
  let head = `${request.method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name in request.headers) {
    const value = request.headers[name] as string;
    if (forbiddenInHeader.test(value) || forbiddenInHeader.test(name) || name.includes(':')) {
      throw new ConfigurationError(
        `The header ${JSON.stringify(name)} has a line break or NUL in it; check the API key and other settings for stray characters.`,
      );
    }
    head += `${name}: ${value}\r\n`;
  }
  if (request.body !== undefined) {
    return `${head}content-length: ${buffer.byteLength(request.body, 'utf8')}\r\n\r\n${request.body}`;
  }
  return request.method === 'POST' ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`;
}
