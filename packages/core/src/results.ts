import { ArdenApiError } from './errors';
import type { HttpClient } from './http';
import type { Logger } from './logger';
import { onBeforeExit, unrefTimer } from './runtime';
import type { ResultReportBody } from './wire';

/** Reports sent in one request at most. */
const maxBatch = 100;
/** Reports kept while the server is unreachable; older ones are dropped. */
const maxQueue = 10_000;

type QueuedReport = ResultReportBody & { action_id: string };

/**
 * Outcome reports, sent in batches off the critical path: a guarded call never waits for its
 * report, and a stream of calls costs the server one request per batch instead of one each.
 * Against servers without the batch endpoint it sends one request per report.
 */
export class ResultQueue {
  private queue: QueuedReport[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight: Promise<void> | undefined;
  private batchSupported = true;
  private removeExitHook: (() => void) | undefined;

  constructor(
    private readonly http: HttpClient,
    private readonly logger: Logger,
    private readonly delayMs: number,
  ) {}

  add(actionId: string, outcome: ResultReportBody): void {
    this.queue.push({ action_id: actionId, ...outcome });
    if (this.queue.length > maxQueue) this.queue.splice(0, this.queue.length - maxQueue);
    this.removeExitHook ??= onBeforeExit(() => {
      if (this.queue.length > 0) void this.flush();
    });
    if (this.timer === undefined) {
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          void this.sendQueued(false);
        },
        this.queue.length >= maxBatch ? 0 : this.delayMs,
      );
      unrefTimer(this.timer);
    }
  }

  /** Stops listening for process exit (after a final flush). */
  close(): void {
    this.removeExitHook?.();
    this.removeExitHook = undefined;
  }

  /**
   * Sends every queued report, and those queued while it sends; resolves when none is left.
   * Never rejects.
   */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.sendQueued(true);
  }

  /**
   * Sends the queued reports: all of them until none is left (`drain`), or — from the timer —
   * only those queued when it starts. Reports queued while a timed send is in flight wait for
   * the next interval (`add` starts its timer): sending them as soon as the previous request
   * is answered would make a steady stream of calls cost one request (and one commit) per
   * call, each competing with the next check.
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
      const batch = this.queue.splice(0, Math.min(maxBatch, left));
      left -= batch.length;
      try {
        await this.send(batch);
      } catch (error) {
        // Reports are best effort: they never hold up or fail a tool call.
        this.logger.debug('Could not report results', {
          count: batch.length,
          error: String(error),
        });
      }
    }
  }

  private async send(batch: QueuedReport[]): Promise<void> {
    if (this.batchSupported) {
      try {
        await this.http.request(
          'POST',
          '/v1/actions/results',
          { results: batch },
          { retryAttempts: 1 },
        );
        return;
      } catch (error) {
        // A server without the batch endpoint answers 404 or 405: report one at a time.
        if (
          !(
            ArdenApiError.isInstance(error) &&
            (error.statusCode === 404 || error.statusCode === 405)
          )
        ) {
          throw error;
        }
        this.batchSupported = false;
      }
    }
    for (const { action_id: actionId, ...outcome } of batch) {
      await this.http
        .request('POST', `/v1/actions/${encodeURIComponent(actionId)}/result`, outcome, {
          retryAttempts: 1,
        })
        .catch((error: unknown) => {
          this.logger.debug('Could not report a result', { actionId, error: String(error) });
        });
    }
  }
}
