import type { Logger } from '../logger';
import type { ActionRecord, DeliveryAttemptRecord, DeliveryRecord, UsageRecord } from '../store';

/** A live event for the admin side (the SSE endpoint and the dashboard subscribe to these). */
export type LiveEvent =
  | { type: 'action.created'; action: ActionRecord }
  | { type: 'action.decided'; action: ActionRecord }
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

  constructor(private readonly logger: Logger) {}

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
