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

const maxErrorText = 2_000;

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
   * request (a response to it). Rejects when the upstream could not be reached or answered
   * with an error status. When `signal` aborts (the client cancelled the call) the request is
   * given up — its connection closed — and the POST is `done`.
   */
  post(
    body: string,
    session: { sessionId: string | undefined; protocolVersion: string | undefined },
    deliver: (message: Record<string, unknown>) => void,
    answered: (message: Record<string, unknown>) => boolean,
    signal?: AbortSignal,
  ): Promise<PostOutcome> {
    if (this.closed) return Promise.reject(new Error('The upstream connection is closed.'));
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
      const abandon = () => {
        settle({ kind: 'done' });
        request.destroy();
      };
      const settle = (outcome: PostOutcome | Error) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', abandon);
        this.pending.delete(request);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      request.on('error', (error) => settle(error));
      if (signal?.aborted) abandon();
      else signal?.addEventListener('abort', abandon, { once: true });
      request.once('response', (response) => {
        // What an error of the answer means is the reader's to say (an SSE stream may resume).
        response.on('error', () => undefined);
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
      const data = JSON.parse(await readText(response)) as unknown;
      for (const message of Array.isArray(data) ? data : [data]) deliver(jsonRpc(message));
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
    const dispatch = () => {
      const text = data.join('\n');
      const kind = event;
      data = [];
      event = '';
      if (text === '' || (kind !== '' && kind !== 'message')) return;
      let message: Record<string, unknown>;
      try {
        message = jsonRpc(JSON.parse(text));
      } catch (error) {
        // As the SDK's transport: a message that cannot be read is reported and skipped.
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
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
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
            line(buffer.slice(start, end));
            start =
              buffer.charCodeAt(end) === 13 && buffer.charCodeAt(end + 1) === 10
                ? end + 2
                : end + 1;
            scanned = start;
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

  /** Ends the connections and the requests under way. */
  close(): void {
    this.closed = true;
    for (const request of this.pending) request.destroy(new Error('The MCP session ended.'));
    this.pending.clear();
    this.agent.destroy();
  }
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

function readText(response: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<string> {
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
