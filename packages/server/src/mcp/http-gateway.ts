import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import {
  Arden,
  ambiguousKey,
  checkMcpToolCall,
  type EditedCall,
  invalidToolCallText,
  type McpToolAnnotations,
  pickAnnotations,
  recordHeldCallCancelled,
  reportToolOutcome,
  toolCallParams,
  withMcpEditNote,
} from '@arden/core';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { EventStore } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { InProcessAgentApi } from '../agent/routes';
import type { AgentPrincipal } from '../agents/service';
import type { ServerContext } from '../context';
import { NotFoundError } from '../errors';
import { parseJsonBody, readJsonText, sendError } from '../http/respond';
import type { RequestContext } from '../http/router';
import type { Logger } from '../logger';
import { checkedArguments, keepNumberText, mayHoldRewrittenNumbers } from './exact-numbers';
import {
  checkUpstreamUrl,
  type McpHttpUpstreams,
  type McpHttpUpstreamTarget,
} from './http-upstreams';
import { inProcessFetch } from './in-process-check';
import { limitedFetch, UpstreamMessageError, UpstreamPoster } from './upstream-post';

// The Streamable HTTP gateway: `/mcp/<name>` is an MCP server to clients that present an agent
// key, and an MCP client (StreamableHTTPClientTransport) to the remote upstream an admin
// registered under that name. JSON-RPC messages are relayed unchanged both ways — every method,
// notification and server-to-client request — except `tools/call`, which Arden checks first
// with the same code as the stdio gateway (`checkMcpToolCall` in @arden/core), under
// `mcp.<name>.<tool>`. A call an approver edited before approving goes to the upstream with the
// approved arguments (serialized back to exactly the approved bytes) in place of the client's,
// and its result starts with a note on the edit.

type Message = Record<string, unknown> & { jsonrpc: '2.0' };

const errorCodes = { invalidRequest: -32600, invalidParams: -32602, upstreamError: -32603 };
/** A session no request reached for this long is closed (its upstream session ended). */
const idleMs = 30 * 60_000;
/** The most sessions one server keeps open. */
const maxSessions = 1_000;
/** The most events a session keeps for resumption (`Last-Event-ID`). */
const maxStoredEvents = 1_000;
const maxReportedTools = 2_000;
/** The most cancelled requests of a session whose late answers it remembers to drop. */
const maxAbandoned = 1_000;

/** The MCP SDK's transports, loaded with the first session: a server without one never pays for them. */
interface Transports {
  Server: typeof StreamableHTTPServerTransport;
  Client: typeof StreamableHTTPClientTransport;
  /** The protocol versions the SDK's transport accepts in `Mcp-Protocol-Version`. */
  versions: readonly string[];
}
let transports: Promise<Transports> | undefined;
function loadTransports(): Promise<Transports> {
  transports ??= Promise.all([
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]).then(([server, client, types]) => ({
    Server: server.StreamableHTTPServerTransport,
    Client: client.StreamableHTTPClientTransport,
    versions: types.SUPPORTED_PROTOCOL_VERSIONS,
  }));
  return transports;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function isId(value: unknown): value is RequestId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function idKey(id: RequestId): string {
  return `${typeof id}:${id}`;
}

/**
 * Events of one session's streams, for a client that reconnects with `Last-Event-ID`: the last
 * {@link maxStoredEvents}, in memory (a server restart loses them, and its sessions).
 */
class SessionEventStore implements EventStore {
  private readonly events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  private counter = 0;
  /** The stream of the last priming event (the empty event a POST's SSE stream starts with). */
  primed: string | undefined;
  /** Answers never to be sent or replayed: see {@link GatewaySession.endPost}. */
  readonly withheld = new WeakSet<object>();

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    if (this.withheld.has(message)) return '';
    if (!('jsonrpc' in message)) this.primed = streamId;
    const eventId = `${streamId}_${(++this.counter).toString(36).padStart(8, '0')}`;
    this.events.set(eventId, { streamId, message });
    if (this.events.size > maxStoredEvents) {
      const oldest = this.events.keys().next().value as string;
      this.events.delete(oldest);
    }
    return eventId;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  /** The stream of an event id this store gave, even one it no longer keeps. */
  streamOf(eventId: string): string {
    return eventId.slice(0, eventId.lastIndexOf('_'));
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const last = this.events.get(lastEventId);
    if (!last) return '';
    let after = false;
    for (const [eventId, event] of this.events) {
      if (eventId === lastEventId) {
        after = true;
        continue;
      }
      if (after && event.streamId === last.streamId) await send(eventId, event.message);
    }
    return last.streamId;
  }
}

interface Forwarded {
  id: RequestId;
  method: string;
  started: number;
  actionId: string | undefined;
  progressToken: unknown;
  firstPage: boolean;
  /** Fires at the upstream timeout (`ARDEN_MCP_UPSTREAM_TIMEOUT`). */
  timer?: NodeJS.Timeout;
  /** Ends the lean POST of a `tools/call` (at the timeout, or when the client cancels it). */
  abort?: AbortController;
  /** A `tools/call` an approver edited: its result gets the edit's note. */
  edited?: EditedCall;
}

/** The most request ids remembered as timed out, whose late answers are dropped. */
const maxTimedOut = 1_000;
/** The most ended SSE streams of a session remembered, to end a client's resumption of one. */
const maxEndedStreams = 1_000;

/**
 * The requests of one POST the SDK's transport answers over an SSE stream. The transport ends
 * the stream once it sent an answer to each; a request the client cancelled gets none (MCP), so
 * the gateway ends the stream itself once every request of the POST is answered or cancelled.
 */
interface Post {
  /** Keys of the requests not answered nor cancelled yet. */
  open: Set<string>;
  /** The requests the client cancelled. */
  cancelled: RequestId[];
  /** The SSE stream's id in the event store, when the stream is resumable (a priming event). */
  streamId?: string;
}

/** One client session: its transport, its upstream session and the calls under way. */
class GatewaySession {
  readonly downstream: StreamableHTTPServerTransport;
  readonly upstream: StreamableHTTPClientTransport;
  /** The POSTs of `tools/call` (the hot path), over `node:http`; the rest goes through `upstream`. */
  private readonly poster: UpstreamPoster;
  private readonly forwarded = new Map<string, Forwarded>();
  /** Requests answered with a timeout error: a late answer of the upstream is dropped. */
  private readonly timedOut = new Set<string>();
  private readonly held = new Map<string, AbortController>();
  /** Forwarded requests the client cancelled: a late answer of the upstream is dropped. */
  private readonly abandoned = new Set<string>();
  private readonly annotations = new Map<string, McpToolAnnotations>();
  private readonly listed = new Map<string, Record<string, unknown>>();
  /** Calls answered with plain JSON (`answerAsJson`): the answer's taker, by request id. */
  private readonly jsonAnswers = new Map<string, (message: Message | undefined) => void>();
  private readonly events = new SessionEventStore();
  /** The POSTs under way over an SSE stream, by the key of each of their open requests. */
  private readonly posts = new Map<string, Post>();
  /** The POST being handed to the transport: its requests, by key. */
  private incoming: Map<string, Post> | undefined;
  /** SSE streams the gateway ended (every request cancelled or answered): not resumed. */
  private readonly endedStreams = new Set<string>();
  private idle: NodeJS.Timeout | undefined;
  closed = false;
  /** The client's GET streams open (its own stream, or a resumed one). */
  openStreams = 0;
  id: string | undefined;

  constructor(
    private readonly gateway: McpHttpGateway,
    readonly principal: AgentPrincipal,
    readonly target: McpHttpUpstreamTarget,
    private readonly arden: Arden,
    private readonly logger: Logger,
    sdk: Transports,
  ) {
    this.downstream = new sdk.Server({
      sessionIdGenerator: () => randomUUID(),
      eventStore: this.events,
      onsessioninitialized: (id) => {
        this.id = id;
        gateway.sessions.set(id, this);
      },
      onsessionclosed: () => void this.close(),
    });
    this.downstream.onmessage = (message) => this.fromClient(message as unknown as Message);
    this.downstream.onerror = (error) =>
      this.logger.debug('MCP client transport error', { error: this.redact(error.message) });
    this.upstream = new sdk.Client(new URL(target.url), {
      requestInit: { headers: target.headers },
      fetch: limitedFetch(gateway.maxMessageBytes, (reason, method) =>
        this.protocolText(method, reason),
      ),
    });
    this.upstream.onmessage = (message) => this.fromUpstream(message as unknown as Message);
    this.upstream.onerror = (error) =>
      this.logger.warn('MCP upstream transport error', { error: this.redact(error.message) });
    this.poster = new UpstreamPoster(target.url, target.headers, gateway.maxMessageBytes);
    this.poster.onerror = this.upstream.onerror;
    this.touch();
  }

  async start(): Promise<void> {
    await this.downstream.start();
    await this.upstream.start();
  }

  /** A request arrived: the session is in use. */
  touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => void this.close(), idleMs);
    this.idle.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    for (const entry of this.forwarded.values()) clearTimeout(entry.timer);
    if (this.id) this.gateway.sessions.delete(this.id);
    for (const controller of this.held.values()) controller.abort();
    this.posts.clear();
    for (const [key, answer] of this.jsonAnswers) {
      const id = key.startsWith('number:') ? Number(key.slice(7)) : key.slice(7);
      answer({
        jsonrpc: '2.0',
        id,
        error: { code: errorCodes.upstreamError, message: 'The MCP session ended.' },
      });
    }
    // An upstream that does not answer does not hold the close up.
    const ended = this.upstream.terminateSession().catch(() => undefined);
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    this.poster.close();
    await this.upstream.close().catch(() => undefined);
    await this.downstream.close().catch(() => undefined);
    this.gateway.release(this.principal.keyId);
  }

  /** The error of a request whose answer broke the protocol (not JSON-RPC, or too large). */
  private protocolText(method: string, reason: string): string {
    return `The MCP server "${this.target.name}" (${this.target.origin}) broke the protocol in its answer to ${method}: ${reason}. The Arden gateway is up; retry, or ask an admin to check the upstream.`;
  }

  /** An error text with the upstream's URL and header values taken out. */
  redact(text: string): string {
    let shown = text;
    for (const secret of [this.target.url, ...Object.values(this.target.headers)]) {
      if (secret.length >= 4) shown = shown.split(secret).join('[redacted]');
    }
    return shown;
  }

  /**
   * Hands a POST to the SDK's transport, noting which of its requests share its SSE stream, so
   * that the stream ends once each is answered or cancelled ({@link endPost}).
   */
  async handlePost(
    request: RequestContext['request'],
    response: ServerResponse,
    body: unknown,
  ): Promise<void> {
    const post: Post = { open: new Set(), cancelled: [] };
    const incoming = new Map<string, Post>();
    for (const message of Array.isArray(body) ? body : [body]) {
      const record = asRecord(message);
      if (typeof record?.method === 'string' && isId(record.id)) {
        const key = idKey(record.id);
        post.open.add(key);
        incoming.set(key, post);
      }
    }
    this.incoming = incoming;
    this.events.primed = undefined;
    try {
      await this.downstream.handleRequest(request, response, body);
    } finally {
      if (this.incoming === incoming) this.incoming = undefined;
    }
  }

  /**
   * Whether a client resuming from `lastEventId` (a GET with `Last-Event-ID`) asks for a stream
   * the gateway ended: it gets 204, which ends an SSE stream for good (a client reconnects after
   * a stream that ended without its answer, as the stream of a cancelled request does).
   */
  endedStream(lastEventId: string): boolean {
    return this.endedStreams.has(this.events.streamOf(lastEventId));
  }

  /** Counts of what the session holds for requests under way (for tests: nothing is left behind). */
  underWay(): { held: number; forwarded: number; jsonAnswers: number; posts: number } {
    return {
      held: this.held.size,
      forwarded: this.forwarded.size,
      jsonAnswers: this.jsonAnswers.size,
      posts: this.posts.size,
    };
  }

  /** A request of the client reached the gateway: the POST it came in is noted. */
  private noteRequest(id: RequestId): void {
    const key = idKey(id);
    const post = this.incoming?.get(key) ?? { open: new Set([key]), cancelled: [] };
    // The transport wrote the stream's priming event just before handing its requests over.
    post.streamId ??= this.events.primed;
    this.posts.set(key, post);
  }

  /** A request was answered (its answer is on the stream). */
  private answered(id: RequestId): void {
    const key = idKey(id);
    const post = this.posts.get(key);
    if (!post) return;
    this.posts.delete(key);
    post.open.delete(key);
    if (post.open.size === 0 && post.cancelled.length > 0) this.endPost(post);
  }

  /**
   * A request the client cancelled is over: it gets no answer (MCP), so a plain JSON POST ends
   * without one, and the SSE stream of its POST ends once no request of that POST is open.
   */
  private requestOver(id: RequestId): void {
    const key = idKey(id);
    const taker = this.jsonAnswers.get(key);
    if (taker) {
      this.jsonAnswers.delete(key);
      taker(undefined);
    }
    const post = this.posts.get(key);
    if (!post) return;
    this.posts.delete(key);
    post.open.delete(key);
    post.cancelled.push(id);
    if (post.open.size === 0) this.endPost(post);
  }

  /**
   * Ends the SSE stream of a POST whose requests are all over. The transport ends a stream only
   * after an answer to each of its requests, so the stream is closed first and then each
   * cancelled request is given an answer that is never written nor stored (withheld): the
   * transport sees the POST complete and forgets it.
   */
  private endPost(post: Post): void {
    if (this.closed) return;
    if (post.streamId) {
      this.endedStreams.add(post.streamId);
      if (this.endedStreams.size > maxEndedStreams) {
        this.endedStreams.delete(this.endedStreams.values().next().value as string);
      }
    }
    const [first] = post.cancelled;
    if (first === undefined) return;
    this.downstream.closeSSEStream(first);
    for (const id of post.cancelled) {
      const withheld = { jsonrpc: '2.0' as const, id, result: {} };
      this.events.withheld.add(withheld);
      // Its stream is gone: the transport forgets the request (or says it cannot deliver).
      this.downstream.send(withheld).catch(() => undefined);
    }
  }

  /**
   * A `tools/call` that asked for no progress, answered with `application/json` rather than an
   * SSE stream (the spec lets the server choose; a plain answer costs less). Anything the
   * upstream sends meanwhile that relates to the call (a sampling request, a log message) goes
   * on the session's own stream (GET), as it would after the call's stream ended.
   */
  async answerAsJson(message: Message, id: RequestId, response: ServerResponse): Promise<void> {
    const key = idKey(id);
    const answered = new Promise<Message | undefined>((resolve) => {
      this.jsonAnswers.set(key, resolve);
      // A client that went away gets nothing (a cancelled call is answered by nothing).
      response.once('close', () => {
        if (this.jsonAnswers.get(key) === resolve) this.jsonAnswers.delete(key);
        resolve(undefined);
      });
    });
    void this.toolCall(message, id);
    const answer = await answered;
    if (response.destroyed) return;
    if (!answer) {
      // Cancelled by the client: no answer (MCP), so the POST ends as an SSE stream without one.
      if (!response.headersSent) {
        const headers: Record<string, string> = { 'content-type': 'text/event-stream' };
        if (this.id) headers['mcp-session-id'] = this.id;
        response.writeHead(200, headers);
      }
      response.end();
      return;
    }
    const body = JSON.stringify(answer);
    // With its length (not chunked): the head and the body go out in one write.
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    };
    if (this.id) headers['mcp-session-id'] = this.id;
    response.writeHead(200, headers);
    response.end(body);
  }

  // ---- client → upstream ----

  private fromClient(message: Message): void {
    const id = message.id;
    const method = message.method;
    if (typeof method === 'string' && isId(id)) this.noteRequest(id);
    if (typeof method === 'string' && method === 'tools/call') {
      if (isId(id)) void this.toolCall(message, id);
      // A tools/call without an id is not forwarded: Arden never saw it.
      else this.logger.warn('A tools/call without an id reached the MCP gateway; dropped');
      return;
    }
    if (method === 'notifications/cancelled') {
      const requestId = asRecord(message.params)?.requestId;
      const heldCall = isId(requestId) ? this.held.get(idKey(requestId)) : undefined;
      if (heldCall) {
        const reason = asRecord(message.params)?.reason;
        heldCall.abort(typeof reason === 'string' ? reason.slice(0, 500) : undefined);
        return;
      }
      // Forwarded already: the notification goes on to the upstream (below), and the request is
      // over for the gateway — its outcome recorded, any late answer dropped (MCP: a cancelled
      // request gets no response).
      if (isId(requestId)) this.cancelForwarded(requestId, asRecord(message.params)?.reason);
    }
    if (ambiguousKey(message) !== undefined) {
      if (isId(id)) this.answerError(id, errorCodes.invalidRequest, ambiguousText(message));
      return;
    }
    this.forward(message);
  }

  /** Ends a forwarded request the client cancelled: recorded as failed in Arden, its answer dropped. */
  private cancelForwarded(requestId: RequestId, reason: unknown): void {
    const key = idKey(requestId);
    const entry = this.forwarded.get(key);
    if (!entry) return;
    this.forwarded.delete(key);
    this.abandoned.add(key);
    if (this.abandoned.size > maxAbandoned) {
      this.abandoned.delete(this.abandoned.values().next().value as string);
    }
    const why = typeof reason === 'string' && reason !== '' ? `: ${reason.slice(0, 300)}` : '';
    const text = `The MCP client cancelled ${entry.method} after the gateway had forwarded it to the MCP server "${this.target.name}"${why}. Whether it ran is the server's to say; its answer, if any, was dropped.`;
    reportToolOutcome(this.arden, entry, { error: { message: text } });
    // The upstream hears of it from the notification; the call's POST is given up.
    clearTimeout(entry.timer);
    entry.abort?.abort(new Error(text));
    this.requestOver(requestId);
  }

  private forward(message: Message, actionId?: string, edited?: EditedCall): void {
    const id = message.id;
    const method = message.method;
    let abort: AbortController | undefined;
    if (isId(id) && typeof method === 'string') {
      this.abandoned.delete(idKey(id));
      const params = asRecord(message.params);
      const key = idKey(id);
      const entry: Forwarded = {
        id,
        method,
        started: performance.now(),
        actionId,
        progressToken: asRecord(params?._meta)?.progressToken,
        firstPage: method === 'tools/list' && params?.cursor === undefined,
        ...(edited ? { edited } : {}),
      };
      const timeout = this.gateway.upstreamTimeoutMs;
      // Not the handshake, as in the stdio gateway.
      if (timeout > 0 && method !== 'initialize') {
        entry.timer = setTimeout(() => this.timeOut(key), timeout);
        entry.timer.unref();
      }
      // Ended at the timeout, or when the client cancels the call.
      if (method === 'tools/call') entry.abort = abort = new AbortController();
      this.forwarded.set(key, entry);
    }
    const sent =
      method === 'tools/call' && isId(id)
        ? this.postCall(message, id, abort?.signal)
        : this.upstream.send(message as unknown as JSONRPCMessage);
    sent.catch((error: Error) => {
      if (this.closed) return;
      const reason = this.redact(error.message).slice(0, 300);
      this.logger.warn('Could not reach an MCP upstream', {
        upstream: this.target.name,
        error: reason,
      });
      // Not for a request the client cancelled: it gets no answer.
      if (!isId(id) || this.abandoned.has(idKey(id))) return;
      const entry = this.forwarded.get(idKey(id));
      // Answered already (the timeout, or the answer before the connection broke).
      if (!entry) return;
      clearTimeout(entry.timer);
      this.forwarded.delete(idKey(id));
      // A 404 to a request with a session id: the upstream ended the session (MCP spec). The
      // gateway ends the client's too, so that its next request gets the 404 that tells it to
      // initialize again.
      const expired =
        (error as { code?: unknown }).code === 404 &&
        method !== 'initialize' &&
        this.upstream.sessionId !== undefined;
      const text = expired
        ? `The MCP server "${this.target.name}" (${this.target.origin}) ended this session (it answered 404 to ${String(method ?? 'a message')}), so the Arden gateway ended it too: initialize a new session.`
        : error instanceof UpstreamMessageError
          ? this.protocolText(String(method), reason)
          : `The MCP server "${this.target.name}" (${this.target.origin}) could not be reached for ${String(method ?? 'a message')}: ${reason}. The Arden gateway is up; retry, or ask an admin to check the upstream.`;
      this.answerError(id, errorCodes.upstreamError, text);
      if (entry) reportToolOutcome(this.arden, entry, { error: { message: text } });
      // A session whose upstream never initialized, or ended, has nothing to continue.
      if (method === 'initialize' || expired) setTimeout(() => void this.close(), 1_000).unref();
    });
  }

  /**
   * Sends a `tools/call` to the upstream with the lean POST (upstream-post.ts); what it leaves
   * over goes through the SDK's transport, which holds the session: a redirect, and resuming an
   * SSE answer that ended before the response (from its last event id, after its `retry`).
   */
  private async postCall(message: Message, id: RequestId, signal?: AbortSignal): Promise<void> {
    const outcome = await this.poster.post(
      JSON.stringify(message),
      this.upstream,
      (answer) => this.fromUpstream(answer as Message),
      (answer) => answer.id === id && ('result' in answer || 'error' in answer),
      signal,
    );
    if (outcome.kind === 'done') return;
    if (outcome.kind === 'ended') throw new Error(outcome.reason);
    if (outcome.kind === 'redirect') {
      await this.upstream.send(message as unknown as JSONRPCMessage);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, outcome.retryMs ?? 1_000).unref());
    if (this.closed) return;
    await this.upstream.send(message as unknown as JSONRPCMessage, {
      resumptionToken: outcome.lastEventId,
    });
  }

  private async toolCall(message: Message, id: RequestId): Promise<void> {
    const ambiguous = ambiguousKey(message);
    if (ambiguous !== undefined) {
      this.answerError(id, errorCodes.invalidRequest, ambiguousText(message));
      return;
    }
    const params = asRecord(message.params);
    const call = toolCallParams(params);
    if (!call) {
      this.answerError(id, errorCodes.invalidParams, invalidToolCallText);
      return;
    }
    const tool = call.tool;
    let exactArguments: Record<string, unknown>;
    try {
      exactArguments = checkedArguments(call.arguments ?? {});
    } catch (error) {
      this.answerError(id, errorCodes.invalidParams, `Invalid params: ${(error as Error).message}`);
      return;
    }
    const key = idKey(id);
    const controller = new AbortController();
    this.held.set(key, controller);
    const progressToken = asRecord(params?._meta)?.progressToken;
    let progress = 0;
    const outcome = await checkMcpToolCall(
      this.arden,
      {
        server: this.target.name,
        tool,
        arguments: exactArguments,
        annotations: this.annotations.get(tool),
      },
      {
        signal: controller.signal,
        progressIntervalMs: this.gateway.progressIntervalMs,
        // The MCP session is the Arden session: refused repeats, `session.*` inputs and
        // session budgets count within it.
        metadata: { mcp_transport: 'http', session_id: this.id },
        // An approver's edit is forwarded in place of the client's arguments (below).
        runsEdits: true,
        onWaiting: (actionId, waitedMs) => {
          if (!isId(progressToken)) return;
          progress += 1;
          this.toClient(
            {
              jsonrpc: '2.0',
              method: 'notifications/progress',
              params: {
                progressToken,
                progress,
                message: `Waiting for a human to approve this call in Arden (action ${actionId}, ${Math.round(waitedMs / 1000)} s so far).`,
              },
            },
            id,
          );
        },
      },
    );
    this.held.delete(key);
    if (outcome.kind === 'cancelled' || (outcome.kind === 'run' && controller.signal.aborted)) {
      // MCP: a cancelled request gets no answer. A call still held is recorded cancelled in
      // Arden, so nobody approves a call that is gone (one decided meanwhile stays as decided).
      this.requestOver(id);
      if (outcome.kind === 'cancelled') await this.recordCancelled(outcome.actionId, controller);
      return;
    }
    if (outcome.kind === 'refuse') {
      this.toClient({ jsonrpc: '2.0', id, result: outcome.result });
      return;
    }
    if (outcome.edited) {
      // The same tool with the approved arguments: JSON.stringify writes them back as exactly
      // the approved bytes (checkMcpToolCall made sure), never the client's.
      const edited: Message = {
        ...message,
        params: { ...params, arguments: outcome.edited.arguments },
      };
      this.forward(edited, outcome.actionId, outcome.edited.call);
      return;
    }
    this.forward(message, outcome.actionId);
  }

  /**
   * The upstream did not answer a request within `ARDEN_MCP_UPSTREAM_TIMEOUT`: the client gets
   * an error, the upstream a cancellation, Arden the failed outcome (as the stdio gateway's
   * `--upstream-timeout`).
   */
  private timeOut(key: string): void {
    const entry = this.forwarded.get(key);
    if (!entry || this.closed) return;
    this.forwarded.delete(key);
    this.timedOut.add(key);
    if (this.timedOut.size > maxTimedOut) {
      this.timedOut.delete(this.timedOut.values().next().value as string);
    }
    const seconds = Math.round(this.gateway.upstreamTimeoutMs / 100) / 10;
    const text = `The MCP server "${this.target.name}" (${this.target.origin}) did not answer ${entry.method} within ${seconds} s (ARDEN_MCP_UPSTREAM_TIMEOUT); the Arden gateway cancelled the request and is up.`;
    this.logger.warn('An MCP upstream did not answer in time', {
      upstream: this.target.name,
      method: entry.method,
    });
    entry.abort?.abort(new Error(text));
    this.upstream
      .send({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: entry.id, reason: text },
      })
      .catch(() => undefined);
    this.answerError(entry.id, errorCodes.upstreamError, text);
    reportToolOutcome(this.arden, entry, { error: { message: text } });
  }

  /** Records a held call that will never run as cancelled in Arden. */
  private recordCancelled(actionId: string, controller: AbortController): Promise<void> {
    return recordHeldCallCancelled(this.arden, actionId, {
      signal: controller.signal,
      ended: this.closed ? 'the MCP session ended while the call was held' : undefined,
      log: (text) => this.logger.warn(text),
    });
  }

  // ---- upstream → client ----

  private fromUpstream(message: Message): void {
    const id = message.id;
    if (isId(id) && ('result' in message || 'error' in message)) {
      const entry = this.forwarded.get(idKey(id));
      // The late answer of a request answered with a timeout error.
      if (!entry && this.timedOut.delete(idKey(id))) return;
      if (entry) {
        clearTimeout(entry.timer);
        this.forwarded.delete(idKey(id));
        if (entry.method === 'initialize') {
          const version = asRecord(message.result)?.protocolVersion;
          if (typeof version === 'string') this.upstream.setProtocolVersion(version);
        }
        if (entry.method === 'tools/list' && Array.isArray(asRecord(message.result)?.tools)) {
          void this.relayToolsList(entry, message);
          return;
        }
        reportToolOutcome(this.arden, entry, message as { result?: unknown; error?: unknown });
        if (entry.edited && 'result' in message) {
          this.toClient({ ...message, result: withMcpEditNote(message.result, entry.edited) });
          return;
        }
      } else if (this.abandoned.delete(idKey(id))) {
        this.logger.debug('Dropped a late answer to a request the client cancelled', {
          upstream: this.target.name,
        });
        return;
      }
      this.toClient(message);
      return;
    }
    this.toClient(message, this.relatedRequest(message));
  }

  /**
   * The client request a message of the upstream belongs to, so that it goes out on that
   * request's stream: by progress token, else — for a server-to-client request or a log
   * message — the newest request still open. List changes go on the session's own stream.
   */
  private relatedRequest(message: Message): RequestId | undefined {
    const params = asRecord(message.params);
    const token =
      message.method === 'notifications/progress'
        ? params?.progressToken
        : asRecord(params?._meta)?.progressToken;
    let newest: Forwarded | undefined;
    for (const entry of this.forwarded.values()) {
      if (token !== undefined && entry.progressToken === token) return entry.id;
      newest = entry;
    }
    const method = String(message.method ?? '');
    if ('id' in message || method === 'notifications/message') return newest?.id;
    return undefined;
  }

  /** Records the tool list in Arden and relays it without the tools a policy always blocks. */
  private async relayToolsList(entry: Forwarded, message: Message): Promise<void> {
    const result = asRecord(message.result) as Record<string, unknown>;
    const tools = result.tools as unknown[];
    if (entry.firstPage) this.listed.clear();
    for (const tool of tools) {
      const record = asRecord(tool);
      if (typeof record?.name !== 'string' || record.name === '' || record.name.length > 256) {
        continue;
      }
      if (record.annotations === undefined) this.annotations.delete(record.name);
      else this.annotations.set(record.name, pickAnnotations(record.annotations));
      if (this.listed.size < maxReportedTools) this.listed.set(record.name, record);
    }
    let hidden = new Set<string>();
    try {
      const answer = await this.gateway.server.mcp.reportTools(
        this.principal.agent.id,
        this.principal.environment,
        {
          server: this.target.name,
          transport: 'http',
          tools: [...this.listed.values()].map((tool) => ({
            name: String(tool.name),
            ...(typeof tool.title === 'string' ? { title: tool.title.slice(0, 200) } : {}),
            ...(typeof tool.description === 'string'
              ? { description: tool.description.slice(0, 10_000) }
              : {}),
            ...(tool.inputSchema === undefined ? {} : { input_schema: tool.inputSchema }),
            ...(asRecord(tool.annotations) ? { annotations: asRecord(tool.annotations) } : {}),
          })),
        },
      );
      hidden = new Set(answer.hidden.map((tool) => tool.name));
    } catch (error) {
      this.logger.warn(
        'Could not record an MCP tool list, so no tool is hidden from it (every call is still checked)',
        { upstream: this.target.name, error: (error as Error).message },
      );
    }
    if (this.target.showBlockedTools || this.gateway.showBlockedTools || hidden.size === 0) {
      this.toClient(message);
      return;
    }
    const kept = tools.filter((tool) => !hidden.has(String(asRecord(tool)?.name)));
    this.toClient({ ...message, result: { ...result, tools: kept } });
  }

  private answerError(id: RequestId, code: number, text: string): void {
    this.toClient({ jsonrpc: '2.0', id, error: { code, message: text } });
  }

  private toClient(message: Message, relatedRequestId?: RequestId): void {
    if (this.jsonAnswers.size > 0 && isId(message.id) && !('method' in message)) {
      const key = idKey(message.id);
      const answer = this.jsonAnswers.get(key);
      if (answer) {
        this.jsonAnswers.delete(key);
        answer(message);
        return;
      }
    }
    const sent = this.downstream.send(
      message as unknown as JSONRPCMessage,
      relatedRequestId === undefined ? undefined : { relatedRequestId },
    );
    if (isId(message.id) && !('method' in message)) {
      const id = message.id;
      void sent.then(
        () => this.answered(id),
        () => this.answered(id),
      );
    }
    sent.catch((error: Error) => {
      if (relatedRequestId !== undefined) {
        // The request's stream has ended: the session's own stream (GET) takes it.
        this.toClient(message);
        return;
      }
      this.logger.debug('Could not send a message to an MCP client', { error: error.message });
    });
  }
}

/**
 * The `tools/call` of a POST the gateway answers with plain JSON itself, or undefined when the
 * SDK's transport should take the request: one request (not a batch), no progress token, a
 * client that accepts JSON (and SSE, as the spec requires) and a protocol version the transport
 * accepts — anything else goes to the transport, which answers or refuses it as the spec says.
 */
function plainToolCall(
  method: string | undefined,
  headers: IncomingHttpHeaders,
  body: unknown,
  versions: readonly string[],
): { message: Message; id: RequestId } | undefined {
  if (method !== 'POST') return undefined;
  const message = asRecord(body);
  if (message?.jsonrpc !== '2.0' || message.method !== 'tools/call' || !isId(message.id)) {
    return undefined;
  }
  const accept = headers.accept ?? '';
  const type = headers['content-type'] ?? '';
  const version = headers['mcp-protocol-version'];
  if (
    !accept.includes('application/json') ||
    !accept.includes('text/event-stream') ||
    !type.includes('application/json') ||
    typeof version !== 'string' ||
    !versions.includes(version)
  ) {
    return undefined;
  }
  const meta = asRecord(asRecord(message.params)?._meta);
  if (meta?.progressToken !== undefined) return undefined;
  return { message: message as Message, id: message.id };
}

/** A GET that resumes (`Last-Event-ID`) a stream the gateway ended. */
function resumesEnded(session: GatewaySession, headers: IncomingHttpHeaders): boolean {
  const lastEventId = headers['last-event-id'];
  return typeof lastEventId === 'string' && session.endedStream(lastEventId);
}

function ambiguousText(message: Message): string {
  return `Invalid Request: the key ${JSON.stringify(ambiguousKey(message))} differs only in case from another the gateway reads; some MCP servers read keys case-insensitively, so the Arden gateway does not forward it.`;
}

/** The sessions of `/mcp/<name>` and the Arden clients that check their calls. */
export class McpHttpGateway {
  readonly sessions = new Map<string, GatewaySession>();
  private readonly ardens = new Map<string, { arden: Arden; sessions: number }>();
  /**
   * Keep the tools a policy always blocks in `tools/list` for every upstream (default false:
   * each upstream's `show_blocked_tools` decides).
   */
  showBlockedTools = false;
  /** How often a held call sends progress, in ms. */
  progressIntervalMs = 10_000;
  /** How long an upstream may take to answer a request, in ms; 0 for no limit (`ARDEN_MCP_UPSTREAM_TIMEOUT`). */
  upstreamTimeoutMs: number;
  /** The longest message an upstream may send, in bytes (`ARDEN_MCP_MAX_MESSAGE_BYTES`). */
  maxMessageBytes: number;
  /** The protocol versions of the SDK's transport, once loaded. */
  private versions: readonly string[] = [];

  constructor(
    readonly server: ServerContext,
    private readonly upstreams: McpHttpUpstreams,
    private readonly agentApi: InProcessAgentApi,
  ) {
    this.upstreamTimeoutMs = server.config.mcpUpstreamTimeoutMs;
    this.maxMessageBytes = server.config.mcpMaxMessageBytes;
  }

  /** Handles one request to `/mcp/<name>` from an authenticated agent key. */
  async handle(
    context: RequestContext,
    principal: AgentPrincipal,
    key: string,
    name: string,
  ): Promise<void> {
    const { request, response } = context;
    // A number JavaScript would write differently is kept as its text (exact-numbers.ts), so
    // the upstream receives the bytes the client sent.
    const text =
      request.method === 'POST'
        ? await readJsonText(request, this.server.config.bodyLimit)
        : undefined;
    const body =
      text === undefined
        ? undefined
        : parseJsonBody(text, mayHoldRewrittenNumbers(text) ? keepNumberText : undefined);
    const sessionId = request.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = this.sessions.get(sessionId);
      // Another key's session, or another upstream's, is as unknown as an expired one.
      if (!session || session.principal.keyId !== principal.keyId || session.target.name !== name) {
        sendError(
          response,
          404,
          'No such MCP session (it ended, expired after 30 minutes idle, or the server restarted): initialize a new one.',
        );
        return;
      }
      session.touch();
      if (request.method === 'GET' && resumesEnded(session, request.headers)) {
        // The stream ended with every request of its POST over: nothing more will come.
        response.writeHead(204, { 'mcp-session-id': sessionId });
        response.end();
        return;
      }
      if (request.method === 'GET') {
        session.openStreams += 1;
        response.once('close', () => {
          session.openStreams -= 1;
        });
      }
      // A call is answered with plain JSON only while the client has a GET stream open: what
      // the upstream sends during the call (a sampling or elicitation request) goes there. Until
      // the client opens one, the call's own SSE stream carries it.
      const call =
        session.openStreams > 0
          ? plainToolCall(request.method, request.headers, body, this.versions)
          : undefined;
      if (call) await session.answerAsJson(call.message, call.id, response);
      else if (request.method === 'POST') await session.handlePost(request, response, body);
      else await session.downstream.handleRequest(request, response, body);
      return;
    }
    if (request.method !== 'POST' || asRecord(body)?.method !== 'initialize') {
      sendError(
        response,
        400,
        'Missing Mcp-Session-Id: start with an initialize request (POST), then send its Mcp-Session-Id header with every request.',
      );
      return;
    }
    const target = await this.upstreams.target(name);
    if (!target) {
      throw new NotFoundError(
        `No MCP upstream named ${name}. An admin registers it with \`arden mcp upstreams add ${name} URL\` (POST /api/v1/mcp/http-upstreams).`,
      );
    }
    if (this.sessions.size >= maxSessions) {
      sendError(
        response,
        503,
        `The MCP gateway has ${maxSessions} sessions open; retry later.`,
        {},
        { 'retry-after': 30 },
      );
      return;
    }
    await checkUpstreamUrl(target.url, this.server.config);
    const address = request.socket.localAddress ?? '127.0.0.1';
    const host = address.includes(':') ? `[${address}]` : address;
    const sdk = await loadTransports();
    this.versions = sdk.versions;
    const session = new GatewaySession(
      this,
      principal,
      target,
      this.ardenFor(principal.keyId, key, `http://${host}:${request.socket.localPort}`),
      this.server.logger.child({ mcp_upstream: name }),
      sdk,
    );
    try {
      await session.start();
      await session.downstream.handleRequest(request, response, body);
    } finally {
      // A session the transport never opened (a refused initialize) holds nothing.
      if (!session.id) await session.close();
    }
  }

  /**
   * The Arden client of an agent key: core's, as any adapter's, its checks answered in process
   * by the agent API's own check (in-process-check.ts).
   */
  private ardenFor(keyId: string, key: string, url: string): Arden {
    let entry = this.ardens.get(keyId);
    if (!entry) {
      const logger = this.server.logger.child({ component: 'mcp-gateway' });
      entry = {
        arden: new Arden({
          apiKey: key,
          apiUrl: url,
          fetch: inProcessFetch(this.agentApi, url, key, this.server.config.checkBodyLimit, logger),
          onUnavailable: 'block',
          logger: {
            debug: (message) => logger.debug(message),
            info: (message) => logger.info(message),
            warn: (message) => logger.warn(message),
            error: (message) => logger.error(message),
          },
        }),
        sessions: 0,
      };
      this.ardens.set(keyId, entry);
    }
    entry.sessions += 1;
    return entry.arden;
  }

  /** A session of the key ended. */
  release(keyId: string): void {
    const entry = this.ardens.get(keyId);
    if (!entry) return;
    entry.sessions -= 1;
    if (entry.sessions <= 0) {
      this.ardens.delete(keyId);
      void entry.arden.shutdown();
    }
  }

  /** Ends the sessions of an upstream (it was removed). */
  async closeUpstream(name: string): Promise<void> {
    const ending = [...this.sessions.values()].filter((session) => session.target.name === name);
    await Promise.allSettled(ending.map((session) => session.close()));
  }

  /** Ends every session (the server is stopping). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.sessions.values()].map((session) => session.close()));
  }
}
