import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

// The gateway's hot path to an upstream: the POST of a `tools/call`, over `node:http` with
// kept-alive connections, instead of the MCP SDK's StreamableHTTPClientTransport (undici's
// `fetch` with its Request, Response, Headers and web streams, then a TextDecoderStream and an
// EventSourceParserStream for an SSE answer — most of what the gateway added to a call). What it
// does is what the SDK's transport does with a POST (`send`): the same headers (the session's
// `Mcp-Session-Id` and `Mcp-Protocol-Version`, the upstream's own headers — its credentials —
// last), an `application/json` or a `text/event-stream` answer, a 202 with nothing to read; and
// what it cannot do itself it leaves to the SDK's transport, which keeps the session: a redirect
// (the caller sends the message through the SDK instead) and resuming an SSE stream that ended
// before the answer (`resume`, with the last event id, after the server's `retry`).

/** What became of a POST. */
export type PostOutcome =
  /** Answered (or accepted): every message of the answer was delivered. */
  | { kind: 'done' }
  /** A redirect: send the message through the SDK's transport, which follows it within the origin. */
  | { kind: 'redirect' }
  /** The SSE stream ended before the answer, resumably: resume it from `lastEventId` after `retryMs`. */
  | { kind: 'resume'; lastEventId: string; retryMs: number | undefined }
  /** The SSE stream ended before the answer, and gave no event id to resume it from. */
  | { kind: 'ended'; reason: string };

/** An error status of the upstream (as the SDK's `StreamableHTTPError`). */
export class UpstreamHttpError extends Error {
  /** The status, under the name the SDK's error gives it. */
  readonly code: number;

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.code = status;
  }
}

/**
 * The upstream broke the protocol in its answer (a message that is not JSON-RPC 2.0, or one over
 * the size limit): the request fails with this text, and the connection is dropped.
 */
export class UpstreamMessageError extends Error {}

const maxErrorText = 2_000;
/** The default longest message an upstream may send (the stdio gateway's `--max-message-bytes`). */
export const defaultMaxMessageBytes = 16 * 1024 * 1024;

/** POSTs JSON-RPC messages to one upstream URL over kept-alive connections. */
export class UpstreamPoster {
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  private readonly options: { host: string; port: number; path: string };
  private readonly pending = new Set<{ destroy(error?: Error): void }>();
  private closed = false;
  /** A message of an SSE answer that is not JSON-RPC (skipped). */
  onerror: ((error: Error) => void) | undefined;

  constructor(
    url: string,
    private readonly headers: Record<string, string>,
    /** The longest message of an answer, in bytes: an answer over it is dropped, unread. */
    private readonly maxMessageBytes = defaultMaxMessageBytes,
  ) {
    const parsed = new URL(url);
    const https = parsed.protocol === 'https:';
    // The TLS server name comes from the host, as for any https request.
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.request = https ? httpsRequest : httpRequest;
    this.options = {
      host: parsed.hostname.replace(/^\[|\]$/g, ''),
      port: Number(parsed.port || (https ? 443 : 80)),
      path: `${parsed.pathname}${parsed.search}`,
    };
  }

  /**
   * POSTs `body` (one JSON-RPC message's text) and delivers each message of the answer to
   * `deliver` as it arrives; `answered` tells whether a message is the answer that ends the
   * request (a response to it). Rejects when the upstream could not be reached, answered
   * with an error status, or broke the protocol ({@link UpstreamMessageError}); `signal` ends
   * the request (its reason is the error).
   */
  post(
    body: string,
    session: { sessionId: string | undefined; protocolVersion: string | undefined },
    deliver: (message: Record<string, unknown>) => void,
    answered: (message: Record<string, unknown>) => boolean,
    signal?: AbortSignal,
  ): Promise<PostOutcome> {
    if (this.closed) return Promise.reject(new Error('The upstream connection is closed.'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const headers: Record<string, string | number> = {};
    if (session.sessionId) headers['mcp-session-id'] = session.sessionId;
    if (session.protocolVersion) headers['mcp-protocol-version'] = session.protocolVersion;
    Object.assign(headers, this.headers);
    headers['content-type'] = 'application/json';
    headers.accept = 'application/json, text/event-stream';
    headers['content-length'] = Buffer.byteLength(body);
    return new Promise<PostOutcome>((resolve, reject) => {
      const request = this.request({ ...this.options, method: 'POST', headers, agent: this.agent });
      this.pending.add(request);
      let settled = false;
      const abort = () => request.destroy(abortError(signal as AbortSignal));
      signal?.addEventListener('abort', abort, { once: true });
      const settle = (outcome: PostOutcome | Error) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', abort);
        this.pending.delete(request);
        // A broken answer is not read on: the connection goes, with whatever it still carries.
        if (outcome instanceof Error && !request.destroyed) request.destroy();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      request.on('error', (error) => settle(error));
      request.once('response', (response) => {
        // What an error of the answer means is the reader's to say (an SSE stream may resume);
        // an abort while the answer is read ends it too.
        response.on('error', () => undefined);
        if (signal) response.once('close', () => signal.aborted && settle(abortError(signal)));
        this.answer(response, deliver, answered).then(settle, settle);
      });
      request.end(body);
    });
  }

  private async answer(
    response: IncomingMessage,
    deliver: (message: Record<string, unknown>) => void,
    answered: (message: Record<string, unknown>) => boolean,
  ): Promise<PostOutcome> {
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400) {
      response.resume();
      return { kind: 'redirect' };
    }
    if (status < 200 || status >= 300) {
      const text = await readText(response, maxErrorText).catch(() => '');
      throw new UpstreamHttpError(
        status,
        `Streamable HTTP error: Error POSTing to endpoint (HTTP ${status}): ${text || response.statusMessage || ''}`,
      );
    }
    if (status === 202) {
      response.resume();
      return { kind: 'done' };
    }
    const type = mediaType(response.headers['content-type']);
    if (type === 'application/json') {
      const text = await this.readMessage(response);
      let messages: Record<string, unknown>[];
      try {
        const data = JSON.parse(text) as unknown;
        messages = (Array.isArray(data) ? data : [data]).map(jsonRpc);
      } catch {
        throw notJsonRpc(text);
      }
      for (const message of messages) deliver(message);
      return { kind: 'done' };
    }
    if (type === 'text/event-stream') return this.events(response, deliver, answered);
    response.resume();
    throw new UpstreamHttpError(
      -1,
      `Unexpected content type: ${String(response.headers['content-type'])}`,
    );
  }

  /** Reads an SSE answer (the WHATWG event-stream format) to its end. */
  private events(
    response: IncomingMessage,
    deliver: (message: Record<string, unknown>) => void,
    answered: (message: Record<string, unknown>) => boolean,
  ): Promise<PostOutcome> {
    response.setEncoding('utf8');
    let buffer = '';
    let data: string[] = [];
    let event = '';
    let lastEventId = '';
    let retryMs: number | undefined;
    let gotAnswer = false;
    // The bytes of the event being read (its data lines), and of the text not yet split into
    // lines: together at most `maxMessageBytes`, so a message over it is never held whole.
    let eventBytes = 0;
    let pendingBytes = 0;
    const dispatch = () => {
      const text = data.join('\n');
      const kind = event;
      data = [];
      event = '';
      eventBytes = 0;
      if (text === '' || (kind !== '' && kind !== 'message')) return;
      let message: Record<string, unknown>;
      try {
        message = jsonRpc(JSON.parse(text));
      } catch (error) {
        // Before the answer, a message that cannot be read may be the answer: the request
        // fails. After it, as the SDK's transport: reported and skipped.
        if (!gotAnswer) throw notJsonRpc(text);
        this.onerror?.(error as Error);
        return;
      }
      if (answered(message)) gotAnswer = true;
      deliver(message);
    };
    const line = (text: string) => {
      if (text === '') return dispatch();
      if (text.charCodeAt(0) === 58) return; // ':' a comment (a keep-alive)
      const colon = text.indexOf(':');
      const field = colon === -1 ? text : text.slice(0, colon);
      let value = colon === -1 ? '' : text.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
      if (field === 'data') {
        data.push(value);
        eventBytes += Buffer.byteLength(value) + 1;
      } else if (field === 'event') event = value;
      else if (field === 'id') {
        if (!value.includes('\0')) lastEventId = value;
      } else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
    };
    return new Promise<PostOutcome>((resolve, reject) => {
      const ended = (reason: string) => {
        if (gotAnswer) resolve({ kind: 'done' });
        else if (lastEventId !== '') resolve({ kind: 'resume', lastEventId, retryMs });
        else resolve({ kind: 'ended', reason });
      };
      // Where the search for the next line break resumes: a long line spans chunks.
      let scanned = 0;
      response.on('data', (chunk: string) => {
        buffer += chunk;
        pendingBytes += Buffer.byteLength(chunk);
        let start = 0;
        try {
          for (;;) {
            let end = -1;
            for (let index = scanned; index < buffer.length; index++) {
              const code = buffer.charCodeAt(index);
              if (code === 10 || code === 13) {
                end = index;
                break;
              }
            }
            if (end === -1) {
              scanned = buffer.length;
              break;
            }
            // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
            if (buffer.charCodeAt(end) === 13 && end === buffer.length - 1) {
              scanned = end;
              break;
            }
            const text = buffer.slice(start, end);
            const next =
              buffer.charCodeAt(end) === 13 && buffer.charCodeAt(end + 1) === 10
                ? end + 2
                : end + 1;
            pendingBytes -= Buffer.byteLength(text) + (next - end);
            line(text);
            start = next;
            scanned = start;
          }
          if (eventBytes + pendingBytes > this.maxMessageBytes) {
            throw this.oversize(`more than ${this.maxMessageBytes}`);
          }
        } catch (error) {
          response.destroy();
          reject(error);
          return;
        }
        buffer = buffer.slice(start);
        scanned -= start;
      });
      response.once('end', () => ended('the upstream ended its answer before the response'));
      response.once('error', (error) =>
        ended(`the upstream's answer broke off (${error.message})`),
      );
      response.once('close', () => {
        if (!response.complete) ended("the upstream's answer broke off");
      });
    });
  }

  /** Reads a JSON answer, up to the size limit. */
  private readMessage(response: IncomingMessage): Promise<string> {
    const length = Number(response.headers['content-length']);
    if (Number.isFinite(length) && length > this.maxMessageBytes) {
      response.destroy();
      return Promise.reject(this.oversize(String(length)));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > this.maxMessageBytes) {
          chunks.length = 0;
          response.destroy();
          reject(this.oversize(`more than ${this.maxMessageBytes}`));
          return;
        }
        chunks.push(chunk);
      });
      response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      response.once('error', reject);
      response.once('close', () => {
        if (!response.complete) reject(new Error("the upstream's answer broke off"));
      });
    });
  }

  private oversize(bytes: string): UpstreamMessageError {
    return new UpstreamMessageError(
      `it answered with a message of ${bytes} bytes, over the Arden gateway's limit of ${this.maxMessageBytes} (ARDEN_MCP_MAX_MESSAGE_BYTES); the answer was dropped`,
    );
  }

  /** Ends the connections and the requests under way. */
  close(): void {
    this.closed = true;
    for (const request of this.pending) request.destroy(new Error('The MCP session ended.'));
    this.pending.clear();
    this.agent.destroy();
  }
}

/**
 * A `fetch` for the MCP SDK's transport (every message but the gateway's own POST of a
 * `tools/call`: `initialize`, `tools/list`, resources, the session's GET stream…) that bounds
 * what an upstream answers as `upstream-post.ts` does: a JSON answer over `maxMessageBytes` ends
 * in an {@link UpstreamMessageError}; an SSE event over it is cut off and, on the stream of a
 * request, followed by a JSON-RPC error for that request (`errorText`), then the stream ends.
 * Nothing over the limit is held: the SDK's parser never gets more than `maxMessageBytes` of one
 * message.
 */
export function limitedFetch(
  maxMessageBytes: number,
  errorText: (reason: string, method: string) => string,
): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!response.ok || response.body === null) return response;
    const type = mediaType(response.headers.get('content-type') ?? undefined);
    if (type !== 'application/json' && type !== 'text/event-stream') return response;
    const oversize = (bytes: string) =>
      new UpstreamMessageError(
        `it answered with a message of ${bytes} bytes, over the Arden gateway's limit of ${maxMessageBytes} (ARDEN_MCP_MAX_MESSAGE_BYTES); the answer was dropped`,
      );
    let limiter: TransformStream<Uint8Array, Uint8Array>;
    if (type === 'application/json') {
      let total = 0;
      limiter = new TransformStream({
        transform(chunk, controller) {
          total += chunk.byteLength;
          if (total > maxMessageBytes) controller.error(oversize(`more than ${maxMessageBytes}`));
          else controller.enqueue(chunk);
        },
      });
    } else {
      const request = requestOf(init?.body);
      // Bytes of the event under way; whether the line under way is empty; a CR just seen.
      let eventBytes = 0;
      let emptyLine = true;
      let afterCr = false;
      limiter = new TransformStream({
        transform(chunk, controller) {
          for (let index = 0; index < chunk.length; index++) {
            const byte = chunk[index] as number;
            if (byte === 10 && afterCr) {
              afterCr = false;
              continue;
            }
            afterCr = byte === 13;
            if (byte === 10 || byte === 13) {
              if (emptyLine) eventBytes = 0;
              emptyLine = true;
              continue;
            }
            emptyLine = false;
            if (++eventBytes <= maxMessageBytes) continue;
            // Over the limit: what came before goes on; this event is cut off unread.
            controller.enqueue(chunk.subarray(0, index));
            const error = oversize(`more than ${maxMessageBytes}`);
            if (!request) {
              controller.error(error);
              return;
            }
            const answer = {
              jsonrpc: '2.0',
              id: request.id,
              error: { code: -32603, message: errorText(error.message, request.method) },
            };
            // The cut-off event ends (unreadable: the SDK's transport skips it), then the error.
            controller.enqueue(
              new TextEncoder().encode(`\n\nevent: message\ndata: ${JSON.stringify(answer)}\n\n`),
            );
            controller.terminate();
            return;
          }
          controller.enqueue(chunk);
        },
      });
    }
    return new Response(response.body.pipeThrough(limiter), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/** The request a POST's body carries (one message with an id and a method), if any. */
function requestOf(body: unknown): { id: string | number; method: string } | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const message = JSON.parse(body) as { id?: unknown; method?: unknown };
    const id = message.id;
    if ((typeof id === 'string' || typeof id === 'number') && typeof message.method === 'string') {
      return { id, method: message.method };
    }
  } catch {
    // Not one message: nothing to answer.
  }
  return undefined;
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

function jsonRpc(value: unknown): Record<string, unknown> {
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    (value as { jsonrpc?: unknown }).jsonrpc !== '2.0'
  ) {
    throw new Error('The upstream sent something that is not a JSON-RPC 2.0 message.');
  }
  return value as Record<string, unknown>;
}

function notJsonRpc(text: string): UpstreamMessageError {
  const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return new UpstreamMessageError(
    `it answered with something that is not a JSON-RPC 2.0 message (${JSON.stringify(shown)}); the answer was dropped`,
  );
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}

function readText(response: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    response.setEncoding('utf8');
    let text = '';
    response.on('data', (chunk: string) => {
      if (text.length < limit) text += chunk;
    });
    response.once('end', () => resolve(text.slice(0, limit)));
    response.once('error', reject);
  });
}
