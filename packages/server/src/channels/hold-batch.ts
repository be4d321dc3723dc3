import type { Store } from '../store';

/** A held call that may have nobody to tell (see `ChannelRepository.registerHolds`). */
export interface HoldRequest {
  actionId: string;
  agentId: string;
  readDefaults: boolean;
}

/** What became of it (see `ChannelRepository.registerHolds`). */
export interface HoldOutcome {
  notify: string | null;
  marked: boolean;
  registered: boolean;
}

interface Queued {
  request: HoldRequest;
  resolve: (outcome: HoldOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * The least time between the starts of two batches, in ms. Under load the held calls of about
 * this long go as one statement instead of those of one commit's turn (on the benchmark's load,
 * 0.011 statements per check instead of 0.025); an idle batcher writes at once. A mark is
 * background bookkeeping, written after the call's answer: the wait delays no answer, only the
 * messages of a held call whose agent has default targets, by at most this long.
 */
export const holdBatchSpacingMs = 10;

/**
 * Marks held calls handled in batches: the requests of one turn of the event loop, and those
 * that arrive while a batch is being written or within `spacingMs` of the previous batch's
 * start, go as one `registerHolds` (on PostgreSQL one statement for all of them instead of two
 * round trips and a commit each). One batch at a time. A failed batch fails each of its requests
 * (the crash sweep registers them later).
 */
export class HoldBatcher {
  private queue: Queued[] = [];
  private scheduled = false;
  private running = false;
  /** When the last batch started (performance.now()), for the spacing between batches. */
  private lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly clock: () => number,
    private readonly maxBatch = 500,
    private readonly spacingMs = holdBatchSpacingMs,
  ) {}

  add(request: HoldRequest): Promise<HoldOutcome> {
    return new Promise<HoldOutcome>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  // The requests of this turn of the event loop go together; `flush` waits out the spacing.
  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** How long until the spacing since the last batch's start has passed, in ms (≤ 0: it has). */
  private untilSpacing(): number {
    return this.lastStart + this.spacingMs - performance.now();
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        // A timer can fire a ms or two early (it counts from the event loop's cached time, which
        // lags behind a busy turn), so wait until the spacing has really passed.
        for (let wait = this.untilSpacing(); wait > 0; wait = this.untilSpacing()) {
          await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
        }
        this.lastStart = performance.now();
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const outcomes = await this.store.channels.registerHolds(
            batch.map((item) => item.request),
            this.clock(),
          );
          for (const [index, item] of batch.entries()) {
            item.resolve(outcomes[index] as HoldOutcome);
          }
        } catch (error) {
          for (const item of batch) item.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
