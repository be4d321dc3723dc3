import type { Logger } from '../logger';
import type { McpHttpUpstreamRecord } from '../mcp/http-upstreams';
import type { McpUpstreamRecord } from '../mcp/repository';
import type { ActionRecord, DeliveryAttemptRecord, DeliveryRecord, UsageRecord } from '../store';

/** A live event for the admin side (the SSE endpoint and the dashboard subscribe to these). */
export type LiveEvent =
  | { type: 'action.created'; action: ActionRecord }
  | { type: 'action.decided'; action: ActionRecord }
  /** An approval was counted and more are needed ("1 of 2"): the action, still pending. */
  | { type: 'action.voted'; action: ActionRecord }
  | { type: 'action.reported'; actionId: string; agentId: string; status: 'succeeded' | 'failed' }
  | { type: 'usage.recorded'; usage: UsageRecord[] }
  | { type: 'webhook.attempted'; delivery: DeliveryRecord; attempt: DeliveryAttemptRecord }
  /** A gateway (stdio or HTTP) reported an upstream's tool list: the upstream, after the write. */
  | { type: 'mcp.tools_reported'; upstream: McpUpstreamRecord }
  /** An admin trusted an upstream or stopped trusting it (or named one before any report). */
  | { type: 'mcp.trust_changed'; upstream: McpUpstreamRecord }
  /** An admin forgot a reported upstream: the upstream as it was. */
  | { type: 'mcp.upstream_deleted'; upstream: McpUpstreamRecord }
  /** An admin registered a remote MCP server of the HTTP gateway (no secret in the record). */
  | { type: 'mcp.http_upstream_added'; httpUpstream: McpHttpUpstreamRecord }
  /** An admin changed a remote MCP server's settings (`show_blocked_tools`): after the write. */
  | { type: 'mcp.http_upstream_changed'; httpUpstream: McpHttpUpstreamRecord }
  /** An admin removed a remote MCP server of the HTTP gateway. */
  | { type: 'mcp.http_upstream_removed'; httpUpstream: McpHttpUpstreamRecord };

/** A subscriber of live events. */
export type LiveEventListener = (event: LiveEvent) => void;

/**
 * What a subscriber takes: events of a type, or `action.created:pending` — the creation of held
 * actions only. Emitters ask `wants()` first, so that no event is built that nobody takes.
 */
export type LiveEventInterest = LiveEvent['type'] | 'action.created:pending';

/**
 * The live event bus. Emitting never throws and never waits: a failing listener is logged and
 * the others still run. `action.decided` covers approvals, denials and expiry.
 */
export class LiveEvents {
  // Each subscriber with what it takes (undefined: everything).
  private readonly listeners = new Map<
    LiveEventListener,
    ReadonlySet<LiveEventInterest> | undefined
  >();
  // Subscribers per interest (`all`: of everything), for `wants()`.
  private readonly interested = new Map<LiveEventInterest | 'all', number>();
  private watchers = 0;
  private readonly watchListeners = new Set<(watching: number) => void>();

  constructor(private readonly logger: Logger) {}

  /**
   * Says that someone (a dashboard on the event stream) watches the events of this process;
   * returns the function that says it stopped. With several replicas, events reach this one
   * from the others only while someone watches here.
   */
  watch(): () => void {
    this.setWatchers(this.watchers + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.setWatchers(this.watchers - 1);
    };
  }

  /** Watchers now (see `watch`). */
  get watching(): number {
    return this.watchers;
  }

  /** Calls `listener` with the number of watchers whenever it changes. */
  onWatching(listener: (watching: number) => void): () => void {
    this.watchListeners.add(listener);
    return () => {
      this.watchListeners.delete(listener);
    };
  }

  private setWatchers(count: number): void {
    this.watchers = count;
    for (const listener of this.watchListeners) {
      try {
        listener(count);
      } catch (error) {
        this.logger.warn('A watch listener failed', { error });
      }
    }
  }

  /**
   * Subscribes to every event, or only to those of `interests`; returns the unsubscribe
   * function.
   */
  subscribe(listener: LiveEventListener, interests?: readonly LiveEventInterest[]): () => void {
    if (this.listeners.has(listener)) return () => undefined;
    const taken = interests === undefined ? undefined : new Set(interests);
    this.listeners.set(listener, taken);
    const keys = taken === undefined ? (['all'] as const) : [...taken];
    for (const key of keys) this.interested.set(key, (this.interested.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(listener);
      for (const key of keys) this.interested.set(key, (this.interested.get(key) ?? 1) - 1);
    };
  }

  /** Whether a subscriber takes events of `interest` (else emitting one would reach nobody). */
  wants(interest: LiveEventInterest): boolean {
    return (
      (this.interested.get('all') ?? 0) > 0 ||
      (this.interested.get(interest) ?? 0) > 0 ||
      (interest === 'action.created:pending' && (this.interested.get('action.created') ?? 0) > 0)
    );
  }

  /** Subscribers now. */
  get size(): number {
    return this.listeners.size;
  }

  /** Delivers `event` to every subscriber. */
  emit(event: LiveEvent): void {
    if (this.listeners.size === 0) return;
    for (const [listener, interests] of this.listeners) {
      if (
        interests !== undefined &&
        !interests.has(event.type) &&
        !(
          event.type === 'action.created' &&
          event.action.status === 'pending' &&
          interests.has('action.created:pending')
        )
      ) {
        continue;
      }
      try {
        listener(event);
      } catch (error) {
        this.logger.warn('A live event listener failed', { type: event.type, error });
      }
    }
  }
}
