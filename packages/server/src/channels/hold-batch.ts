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
 * Marks held calls handled in batches: the requests of one turn of the event loop, and those
 * that arrive while a batch is being written, go as one `registerHolds` (on PostgreSQL one
 * statement for all of them instead of two round trips and a commit each). One batch at a time.
 * A failed batch fails each of its requests (the crash sweep registers them later).
 */
export class HoldBatcher {
  private queue: Queued[] = [];
  private scheduled = false;
  private running = false;

  constructor(
    private readonly store: Store,
    private readonly clock: () => number,
    private readonly maxBatch = 500,
  ) {}

  add(request: HoldRequest): Promise<HoldOutcome> {
    return new Promise<HoldOutcome>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
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
