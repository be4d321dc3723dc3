import type { Logger } from '../logger';
import type { ActionRecord, DeliveryAttemptRecord, DeliveryRecord, UsageRecord } from '../store';

/** A live event for the admin side (the SSE endpoint and the dashboard subscribe to these). */
export type LiveEvent =
  | { type: 'action.created'; action: ActionRecord }
  | { type: 'action.decided'; action: ActionRecord }
  /** An approval was counted and more are needed ("1 of 2"): the action, still pending. */
  | { type: 'action.voted'; action: ActionRecord }
  | { type: 'action.reported'; actionId: string; agentId: string; status: 'succeeded' | 'failed' }
  | { type: 'usage.recorded'; usage: UsageRecord[] }
  | { type: 'webhook.attempted'; delivery: DeliveryRecord; attempt: DeliveryAttemptRecord };

/** A subscriber of live events. */
export type LiveEventListener = (event: LiveEvent) => void;

/**
 * The live event bus. Emitting never throws and never waits: a failing listener is logged and
 * the others still run. `action.decided` covers approvals, denials and expiry.
 */
export class LiveEvents {
  private readonly listeners = new Set<LiveEventListener>();
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

  /** Subscribes to every event; returns the unsubscribe function. */
  subscribe(listener: LiveEventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Subscribers now. */
  get size(): number {
    return this.listeners.size;
  }

  /** Delivers `event` to every subscriber. */
  emit(event: LiveEvent): void {
    if (this.listeners.size === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn('A live event listener failed', { type: event.type, error });
      }
    }
  }
}
