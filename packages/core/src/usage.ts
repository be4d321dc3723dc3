import { ArdenApiError } from './errors';
import type { HttpClient } from './http';
import type { Logger } from './logger';
import { onBeforeExit, unrefTimer } from './runtime';
import { getSession } from './session';
import type { UsageEventBody } from './wire';

/** One LLM call's token usage, for `logTokenUsage()`. */
export interface TokenUsage {
  /** The model's name as the provider reports it, for example `gpt-4o-mini`. */
  model: string;
  /** Input (prompt) tokens. */
  promptTokens: number;
  /** Output (completion) tokens. */
  completionTokens: number;
  /** The session to record it under; defaults to the current session. */
  sessionId?: string;
  /** The reservation `checkModelCall()` made for this call: the usage settles it. */
  reservationId?: string | null;
}

/** Counters of the usage queue, for monitoring. */
export interface UsageStats {
  /** Events waiting to be sent. */
  queued: number;
  /** Events accepted by the server. */
  sent: number;
  /** Events dropped (oldest first) because the queue was full while the server was unreachable. */
  dropped: number;
  /** Events refused as invalid before sending. */
  rejected: number;
}

interface SendFailure {
  error: unknown;
  unsent: QueuedUsage[];
}

/** A queued event: the wire body, with its time kept as a number until it is sent. */
type QueuedUsage = Omit<UsageEventBody, 'occurred_at'> & { at: number };

function toWire({ at, ...event }: QueuedUsage): UsageEventBody {
  return { ...event, occurred_at: new Date(at).toISOString() };
}

function validCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * Batches usage events: sent when `batchSize` are queued or `flushIntervalMs` has passed, and
 * before the process exits. Recording never throws and never waits on the network; while the
 * server is down the queue keeps at most `maxQueue` events, dropping the oldest.
 */
export class UsageQueue {
  private queue: QueuedUsage[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate = false;
  private inFlight: Promise<void> | undefined;
  private removeExitHook: (() => void) | undefined;
  private batchSupported = true;
  private closed = false;
  readonly stats: UsageStats = { queued: 0, sent: 0, dropped: 0, rejected: 0 };

  constructor(
    private readonly http: HttpClient,
    private readonly logger: Logger,
    private readonly settings: { batchSize: number; flushIntervalMs: number; maxQueue: number },
  ) {}

  record(usage: TokenUsage): void {
    try {
      if (
        !usage ||
        typeof usage.model !== 'string' ||
        usage.model.length === 0 ||
        !validCount(usage.promptTokens) ||
        !validCount(usage.completionTokens)
      ) {
        this.stats.rejected++;
        this.logger.warn(
          'logTokenUsage ignored an event: it needs model (a string) and promptTokens and completionTokens (whole numbers ≥ 0).',
        );
        return;
      }
      const sessionId = usage.sessionId ?? getSession();
      // The timestamp is formatted when sent, keeping the caller's cost to a few microseconds.
      const event: QueuedUsage = {
        model: usage.model,
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        at: Date.now(),
      };
      if (sessionId !== undefined) event.session_id = sessionId;
      if (typeof usage.reservationId === 'string' && usage.reservationId !== '') {
        event.reservation_id = usage.reservationId;
      }
      this.queue.push(event);
      if (this.queue.length > this.settings.maxQueue) this.enqueue([]);
      this.stats.queued = this.queue.length;
      this.installExitHook();
      // Even a full batch is sent from a timer, never inside the caller's call.
      this.schedule(
        this.queue.length >= this.settings.batchSize ? 0 : this.settings.flushIntervalMs,
      );
    } catch (error) {
      this.logger.warn('logTokenUsage failed to record an event', { error: String(error) });
    }
  }

  private enqueue(events: QueuedUsage[], atFront = false): void {
    if (atFront) this.queue.unshift(...events);
    else for (const event of events) this.queue.push(event);
    const excess = this.queue.length - this.settings.maxQueue;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.stats.dropped += excess;
      this.logger.warn(`Usage queue full: dropped the ${excess} oldest event(s).`, {
        dropped: this.stats.dropped,
      });
    }
    this.stats.queued = this.queue.length;
  }

  private schedule(delay = this.settings.flushIntervalMs): void {
    if (this.closed) return;
    if (this.timer !== undefined) {
      if (delay > 0 || this.immediate) return;
      clearTimeout(this.timer);
    }
    this.immediate = delay === 0;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.immediate = false;
      void this.sendQueued(false);
    }, delay);
    unrefTimer(this.timer);
  }

  private installExitHook(): void {
    if (this.removeExitHook) return;
    // A script that ends right after logTokenUsage() still delivers its usage.
    this.removeExitHook = onBeforeExit(() => {
      if (this.queue.length > 0) void this.flush();
    });
  }

  /** Sends everything queued, and what is queued while it sends; resolves when done. Never rejects. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.immediate = false;
    }
    await this.sendQueued(true);
  }

  /**
   * Sends the queued events: all of them until none is left (`drain`), or — from the timer — only
   * those queued when it starts. Events recorded while a timed send is in flight wait for their
   * own timer (`record` starts it): sending them as soon as the previous request is answered would
   * make a steady stream of model calls cost one request per round trip instead of one a batch.
   */
  private async sendQueued(drain: boolean): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.queue.length === 0) return;
    this.inFlight = this.sendAll(drain ? Number.POSITIVE_INFINITY : this.queue.length).finally(
      () => {
        this.inFlight = undefined;
      },
    );
    await this.inFlight;
  }

  private async sendAll(limit: number): Promise<void> {
    let left = limit;
    while (left > 0 && this.queue.length > 0) {
      const batch = this.queue.splice(0, Math.min(this.settings.batchSize, left));
      left -= batch.length;
      this.stats.queued = this.queue.length;
      try {
        await this.send(batch);
        this.stats.sent += batch.length;
      } catch (failure) {
        const { error, unsent } = failure as SendFailure;
        this.stats.sent += batch.length - unsent.length;
        if (ArdenApiError.isInstance(error) && !error.isRetryable) {
          this.stats.rejected += unsent.length;
          this.logger.warn('The server refused usage events; they are dropped.', {
            error: error.message,
          });
          continue;
        }
        this.enqueue(unsent, true);
        this.logger.warn('Could not send usage events; will retry.', { error: String(error) });
        this.schedule();
        return;
      }
    }
  }

  private async send(batch: QueuedUsage[]): Promise<void> {
    if (this.batchSupported && batch.length > 1) {
      try {
        await this.http.request('POST', '/token-usage', { events: batch.map(toWire) });
        return;
      } catch (error) {
        // Servers without the batch extension (such as ardenpy's hosted backend) answer 400,
        // 404 or 422: fall back to one event per request.
        if (ArdenApiError.isInstance(error) && [400, 404, 422].includes(error.statusCode)) {
          this.batchSupported = false;
        } else {
          throw { error, unsent: batch } satisfies SendFailure;
        }
      }
    }
    for (let index = 0; index < batch.length; index++) {
      try {
        await this.http.request('POST', '/token-usage', toWire(batch[index] as QueuedUsage));
      } catch (error) {
        throw { error, unsent: batch.slice(index) } satisfies SendFailure;
      }
    }
  }

  /** Stops the timer; later events are still accepted and flushed on demand. */
  close(): void {
    this.closed = true;
    this.removeExitHook?.();
    this.removeExitHook = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
