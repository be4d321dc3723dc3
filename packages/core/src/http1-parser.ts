// The response parser of the HTTP/1.1 client in `http1.ts`: reads one response from the bytes
// of a connection, fed in any pieces — a status line, headers, and a body framed by
// Content-Length, chunked encoding, or the end of the connection. Anything else is refused with
// a `ProtocolError`.

import type { TransportResponse } from './transport';

/** @internal The parts of `Buffer` the client uses (so that the same build loads without Node). */
export interface BufferStatic {
  concat(
    list: readonly Uint8Array[],
    totalLength?: number,
  ): Uint8Array & { toString(encoding: 'utf8' | 'latin1'): string };
  byteLength(text: string, encoding?: 'utf8'): number;
}

/** Limits on what a server may send; an answer beyond them is refused. */
const maxHeadBytes = 64 * 1024;
const maxBodyBytes = 32 * 1024 * 1024;
const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: |$)/;
// RFC 9110 token characters: no spaces, no separators.
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A response the parser refuses: `code` is `ARDEN_HTTP_PROTOCOL`. */
export class ProtocolError extends Error {
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
