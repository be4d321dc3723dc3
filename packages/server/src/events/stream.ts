import type { ServerResponse } from 'node:http';
import { liveEventView } from '../admin/serialize';
import type { RequestContext } from '../http/router';
import { randomHex } from '../ids';
import type { Logger } from '../logger';
import { stringifyJson } from '../store/json';
import type { LiveEvent, LiveEvents } from './service';

interface BufferedEvent {
  sequence: number;
  type: LiveEvent['type'];
  agentId: string | undefined;
  text: string;
}

interface Client {
  response: ServerResponse;
  /** Forgets the client (once). */
  remove?: () => void;
  types: Set<string> | undefined;
  agentId: string | undefined;
}

/** Filters of one event stream. */
export interface StreamFilter {
  types?: string[];
  agentId?: string;
}

// A client that cannot keep up (this much unsent) is dropped; it reconnects with Last-Event-ID.
const maxBuffered = 4 * 1024 * 1024;
// Events kept for resuming, at most (besides the count limit).
const maxBufferBytes = 8 * 1024 * 1024;
// How long after the last client left events are still kept for its return.
const resumeGraceMs = 5 * 60_000;

/**
 * The admin event stream (Server-Sent Events). Each live event is serialised once, numbered
 * (`<boot>-<n>`, so ids from before a restart are recognised) and kept in a ring buffer, so a
 * client that reconnects with `Last-Event-ID` receives what it missed; when that is no longer
 * possible it receives `event: reset` and should reload. Heartbeat comments keep proxies from
 * closing idle streams.
 */
export class LiveStream {
  private readonly boot = randomHex(4);
  private readonly buffer: BufferedEvent[] = [];
  private readonly clients = new Set<Client>();
  private sequence = 0;
  private bufferedBytes = 0;
  private lastClientAt = 0;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly events: LiveEvents,
    private readonly logger: Logger,
    private readonly options: { bufferSize: number; heartbeatMs: number },
    private readonly clock: () => number = Date.now,
  ) {}

  /** Starts listening to live events (idempotent; again once a client comes after a quiet spell). */
  start(): void {
    this.unsubscribe ??= this.events.subscribe((event) => this.publish(event));
  }

  /** Clients connected now. */
  get size(): number {
    return this.clients.size;
  }

  private publish(event: LiveEvent): void {
    const sequence = ++this.sequence;
    const now = this.clock();
    // Nobody listens, nor did recently: keep nothing (a late resume gets `reset`: this event's
    // number is never sent), and stop listening until a client comes, so that the hot path
    // does not even build events for a dashboard that is not open.
    if (this.clients.size === 0 && now - this.lastClientAt > resumeGraceMs) {
      if (this.buffer.length > 0) {
        this.buffer.length = 0;
        this.bufferedBytes = 0;
      }
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      return;
    }
    const view = liveEventView(event, now);
    const buffered: BufferedEvent = {
      sequence,
      type: event.type,
      agentId: view.agent_id,
      // Arguments are written as the agent sent them, which may span lines: one data line each
      // (the client joins them with line feeds, which JSON reads as the spaces they were).
      text: `id: ${this.boot}-${sequence}\nevent: ${event.type}\ndata: ${stringifyJson(view).replace(/\r\n|\r|\n/g, '\ndata: ')}\n\n`,
    };
    this.buffer.push(buffered);
    this.bufferedBytes += buffered.text.length;
    while (
      this.buffer.length > this.options.bufferSize ||
      (this.bufferedBytes > maxBufferBytes && this.buffer.length > 1)
    ) {
      this.bufferedBytes -= (this.buffer.shift() as BufferedEvent).text.length;
    }
    for (const client of this.clients) this.send(client, buffered);
  }

  private matches(client: Client, event: BufferedEvent): boolean {
    return (
      (!client.types || client.types.has(event.type)) &&
      (!client.agentId || client.agentId === event.agentId)
    );
  }

  private send(client: Client, event: BufferedEvent): void {
    if (!this.matches(client, event)) return;
    this.write(client, event.text);
  }

  private write(client: Client, text: string): void {
    const { response } = client;
    if (response.destroyed || response.writableEnded) return;
    if (response.writableLength > maxBuffered) {
      this.logger.warn('Dropping a live event client that does not keep up');
      response.destroy();
      return;
    }
    response.write(text);
  }

  /** Answers an event stream request and keeps it open until the client goes away. */
  serve(context: RequestContext, filter: StreamFilter = {}): void {
    this.start();
    const { request, response } = context;
    request.socket.setNoDelay(true);
    request.socket.setTimeout(0);
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    if (context.method === 'HEAD') {
      response.end();
      return;
    }
    const client: Client = {
      response,
      types: filter.types && filter.types.length > 0 ? new Set(filter.types) : undefined,
      agentId: filter.agentId,
    };
    response.write(`retry: 3000\n: connected ${new Date(this.clock()).toISOString()}\n\n`);
    const lastId = request.headers['last-event-id'];
    const resumeFrom = typeof lastId === 'string' ? this.resumePoint(lastId) : undefined;
    if (resumeFrom === 'reset') {
      this.write(
        client,
        `event: reset\ndata: ${JSON.stringify({ reason: 'Events since your last one are no longer available; reload the data.' })}\n\n`,
      );
    } else if (resumeFrom !== undefined) {
      for (const event of this.buffer) if (event.sequence > resumeFrom) this.send(client, event);
    }
    this.clients.add(client);
    // Other replicas send their events here while someone watches (PostgreSQL).
    const unwatch = this.events.watch();
    this.ensureHeartbeat();
    const remove = () => {
      if (!this.clients.delete(client)) return;
      unwatch();
      this.lastClientAt = this.clock();
      if (this.clients.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    };
    client.remove = remove;
    response.once('close', remove);
    request.once('close', remove);
  }

  // The sequence number after which to replay, 'reset' when the gap cannot be filled.
  private resumePoint(lastId: string): number | 'reset' | undefined {
    const match = /^([0-9a-f]+)-(\d+)$/.exec(lastId.trim());
    if (!match || match[1] !== this.boot) return 'reset';
    const sequence = Number(match[2]);
    if (sequence > this.sequence) return 'reset';
    const oldest = this.buffer[0]?.sequence ?? this.sequence + 1;
    return sequence + 1 < oldest ? 'reset' : sequence;
  }

  private ensureHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      for (const client of this.clients) this.write(client, ': heartbeat\n\n');
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Ends every stream and stops listening. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const client of [...this.clients]) {
      client.response.end();
      client.remove?.();
    }
    this.clients.clear();
  }
}
