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
import type { Transport, TransportRequest, TransportResponse } from './transport';
import { TimeoutError } from './transport';

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

interface BufferStatic {
  concat(
    list: readonly Uint8Array[],
    totalLength?: number,
  ): Uint8Array & { toString(encoding: 'utf8' | 'latin1'): string };
  byteLength(text: string, encoding?: 'utf8'): number;
}

/** Limits on what a server may send; an answer beyond them is refused. */
const maxHeadBytes = 64 * 1024;
const maxBodyBytes = 32 * 1024 * 1024;
/** Idle connections kept open for reuse (more are opened under concurrency, then closed). */
const maxIdle = 16;
/** How long an idle connection is kept when the server does not say (`Keep-Alive: timeout=N`). */
const defaultIdleMs = 4_000;

const forbiddenInHeader = /[\r\n\0]/;
const safeTarget = /^\/[\x21-\x7e]*$/;
const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: |$)/;
// RFC 9110 token characters: no spaces, no separators.
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

class ProtocolError extends Error {
  readonly code = 'ARDEN_HTTP_PROTOCOL';
}

type Framing =
  | { kind: 'length'; remaining: number }
  | { kind: 'chunked' }
  | { kind: 'close' }
  | { kind: 'none' };

/**
 * Reads one response from the bytes of a connection, fed in any pieces. `feed` returns the
 * finished response when the last byte of its body has arrived.
 */
export class ResponseParser {
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  // The end of the head (the blank line) is looked for in each byte once, as it arrives: how much
  // of CR LF CR LF the last bytes matched, and where the head ends once found.
  private headMatched = 0;
  private headEnd = -1;
  private phase: 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'done' =
    'head';
  private status = 0;
  private headers = new Map<string, string>();
  private framing: Framing = { kind: 'none' };
  private body: Uint8Array[] = [];
  private bodyBytes = 0;
  private chunkRemaining = 0;
  /** Whether the connection may carry another request after this response. */
  keepAlive = true;
  /** Bytes that arrived after the end of the response (a server must not send any). */
  extraBytes = 0;

  constructor(private readonly buffer: BufferStatic) {}

  private received = false;

  /** Whether no byte of the response (not even an interim 1xx answer) has arrived yet. */
  get untouched(): boolean {
    return !this.received;
  }

  /** Adds bytes; returns the response once it is complete. Throws `ProtocolError`. */
  feed(chunk: Uint8Array): TransportResponse | undefined {
    if (chunk.length > 0) this.received = true;
    if (this.phase === 'done') {
      this.extraBytes += chunk.length;
      return undefined;
    }
    if (this.phase === 'head' && this.headEnd === -1) this.scanHead(chunk, this.bufferedBytes);
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    return this.advance();
  }

  private scanHead(chunk: Uint8Array, offset: number): void {
    let matched = this.headMatched;
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index];
      if (byte === (matched % 2 === 0 ? 13 : 10)) {
        matched++;
        if (matched === 4) {
          this.headEnd = offset + index - 3;
          this.headMatched = 0;
          return;
        }
      } else {
        matched = byte === 13 ? 1 : 0;
      }
    }
    this.headMatched = matched;
  }

  /** The connection closed: completes a response framed by the end of the connection. */
  end(): TransportResponse | undefined {
    if (this.phase === 'body' && this.framing.kind === 'close') return this.finish();
    return undefined;
  }

  private advance(): TransportResponse | undefined {
    for (;;) {
      switch (this.phase) {
        case 'head': {
          const end = this.headEnd;
          if (end === -1 || end > maxHeadBytes) {
            if (this.bufferedBytes > maxHeadBytes) {
              throw new ProtocolError('the response headers are larger than 64 KiB');
            }
            return undefined;
          }
          const data = this.take();
          this.headEnd = -1;
          this.readHead(this.buffer.concat([data.subarray(0, end)]).toString('latin1'));
          const rest = data.subarray(end + 4);
          this.keep(rest);
          if (this.status >= 100 && this.status < 200) {
            // An interim answer (100 Continue, 103 Early Hints): the real one follows, perhaps
            // already in these bytes.
            this.headers = new Map();
            this.scanHead(rest, 0);
            continue;
          }
          this.phase = this.framing.kind === 'chunked' ? 'chunk-size' : 'body';
          if (
            this.framing.kind === 'none' ||
            (this.framing.kind === 'length' && this.framing.remaining === 0)
          ) {
            // No body: whatever else came is not part of this answer.
            this.extraBytes += this.bufferedBytes;
            return this.finish();
          }
          continue;
        }
        case 'body': {
          const data = this.take();
          if (this.framing.kind === 'length') {
            const used = Math.min(data.length, this.framing.remaining);
            this.addBody(data.subarray(0, used));
            this.framing.remaining -= used;
            if (this.framing.remaining > 0) return undefined;
            this.extraBytes += data.length - used;
            return this.finish();
          }
          this.addBody(data);
          return undefined;
        }
        case 'chunk-size': {
          const data = this.take();
          const end = indexOfCrlf(data);
          if (end === -1) {
            if (data.length > 1024) throw new ProtocolError('a chunk size line is too long');
            this.keep(data);
            return undefined;
          }
          const line = this.buffer.concat([data.subarray(0, end)]).toString('latin1');
          const size = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(line);
          if (!size) throw new ProtocolError(`the chunk size "${line.slice(0, 40)}" is not valid`);
          this.chunkRemaining = Number.parseInt(size[1] as string, 16);
          this.keep(data.subarray(end + 2));
          this.phase = this.chunkRemaining === 0 ? 'trailers' : 'chunk-data';
          continue;
        }
        case 'chunk-data': {
          const data = this.take();
          const used = Math.min(data.length, this.chunkRemaining);
          this.addBody(data.subarray(0, used));
          this.chunkRemaining -= used;
          this.keep(data.subarray(used));
          if (this.chunkRemaining > 0) return undefined;
          this.phase = 'chunk-end';
          continue;
        }
        case 'chunk-end': {
          const data = this.take();
          if (data.length < 2) {
            this.keep(data);
            return undefined;
          }
          if (data[0] !== 13 || data[1] !== 10)
            throw new ProtocolError('a chunk does not end with CRLF');
          this.keep(data.subarray(2));
          this.phase = 'chunk-size';
          continue;
        }
        case 'trailers': {
          const data = this.take();
          const end = indexOfCrlf(data);
          if (end === -1) {
            if (data.length > maxHeadBytes) throw new ProtocolError('the trailers are too large');
            this.keep(data);
            return undefined;
          }
          // Trailer fields are read and ignored; an empty line ends them.
          this.keep(data.subarray(end + 2));
          if (end === 0) {
            this.extraBytes += this.bufferedBytes;
            return this.finish();
          }
          continue;
        }
        case 'done':
          return undefined;
      }
    }
  }

  private readHead(head: string): void {
    const lines = head.split('\r\n');
    const match = statusLine.exec(lines[0] ?? '');
    if (!match) {
      throw new ProtocolError(
        `the answer does not start with an HTTP/1.x status line: "${(lines[0] ?? '').slice(0, 60)}"`,
      );
    }
    this.status = Number(match[2]);
    if (this.status === 101) throw new ProtocolError('the server switched protocols (101)');
    const headers = this.headers;
    for (let index = 1; index < lines.length; index++) {
      const line = lines[index] as string;
      const colon = line.indexOf(':');
      if (colon <= 0 || !headerName.test(line.slice(0, colon))) {
        throw new ProtocolError(`a header line is not valid: "${line.slice(0, 60)}"`);
      }
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const previous = headers.get(name);
      headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
    }
    if (this.status < 200) return;
    const connection = (headers.get('connection') ?? '').toLowerCase();
    this.keepAlive =
      match[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const transferEncoding = headers.get('transfer-encoding');
    const contentLength = headers.get('content-length');
    if (this.status === 204 || this.status === 304) {
      this.framing = { kind: 'none' };
    } else if (transferEncoding !== undefined) {
      if (contentLength !== undefined) {
        // Both framings at once is how responses are smuggled; node:http refuses it too.
        throw new ProtocolError('the answer has both Transfer-Encoding and Content-Length');
      }
      if (!/^\s*chunked\s*$/i.test(transferEncoding)) {
        throw new ProtocolError(
          `the transfer encoding "${transferEncoding.slice(0, 40)}" is not supported`,
        );
      }
      this.framing = { kind: 'chunked' };
    } else if (contentLength !== undefined) {
      // Repeated identical values ("12, 12") are allowed; differing ones are refused.
      const values = new Set(contentLength.split(',').map((value) => value.trim()));
      const [only] = values;
      if (values.size !== 1 || only === undefined || !/^\d{1,15}$/.test(only)) {
        throw new ProtocolError(`the content length "${contentLength.slice(0, 40)}" is not valid`);
      }
      const length = Number(only);
      if (length > maxBodyBytes) throw new ProtocolError('the response body is larger than 32 MiB');
      this.framing = { kind: 'length', remaining: length };
    } else {
      this.framing = { kind: 'close' };
      this.keepAlive = false;
    }
  }

  private addBody(data: Uint8Array): void {
    if (data.length === 0) return;
    this.bodyBytes += data.length;
    if (this.bodyBytes > maxBodyBytes)
      throw new ProtocolError('the response body is larger than 32 MiB');
    this.body.push(data);
  }

  private finish(): TransportResponse {
    this.phase = 'done';
    const headers = this.headers;
    return {
      status: this.status,
      header: (name) => headers.get(name.toLowerCase()),
      text:
        this.body.length === 0
          ? ''
          : this.buffer.concat(this.body, this.bodyBytes).toString('utf8'),
    };
  }

  private take(): Uint8Array {
    const data =
      this.buffered.length === 1
        ? (this.buffered[0] as Uint8Array)
        : this.buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    return data;
  }

  private keep(data: Uint8Array): void {
    if (data.length === 0) return;
    this.buffered.push(data);
    this.bufferedBytes += data.length;
  }
}

function indexOfCrlf(data: Uint8Array): number {
  for (let index = 0; index + 1 < data.length; index++) {
    if (data[index] === 13 && data[index + 1] === 10) return index;
  }
  return -1;
}

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
