import type { Logger } from '../logger';
import type { Database, RunResult, Statement } from './database';

interface Queued {
  statement: Statement;
  resolve: (result: RunResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: statements submitted during one turn of the event loop are written in one
 * transaction, and each submitter's promise resolves only after that COMMIT — so a reply sent
 * when it resolves is never about data that could still be lost, and a burst of requests pays
 * for one commit instead of one each.
 */
export class GroupCommitter {
  private queue: Queued[] = [];
  private scheduled = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    private readonly maxBatch = 2_000,
  ) {}

  /** Queues a write; resolves after the transaction holding it has committed. */
  submit(statement: Statement): Promise<RunResult> {
    return new Promise<RunResult>((resolve, reject) => {
      this.queue.push({ statement, resolve, reject });
      this.schedule();
    });
  }

  /** Statements waiting for the next commit. */
  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Commits everything queued now; resolves when it is durable. */
  async flush(): Promise<void> {
    // One commit at a time: with an asynchronous driver, writes queued during a commit go into
    // the next one.
    while (this.running) await this.running;
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.running = this.commit(batch).finally(() => {
      this.running = undefined;
    });
    await this.running;
    if (this.queue.length > 0) this.schedule();
  }

  private async commit(batch: Queued[]): Promise<void> {
    try {
      const results = await this.database.batch(batch.map((item) => item.statement));
      for (const [index, item] of batch.entries()) item.resolve(results[index] ?? { changes: 0 });
      return;
    } catch (error) {
      if (batch.length === 1 || (error as { code?: unknown }).code === 'store_unavailable') {
        // One statement, or the database is unreachable: retrying one by one would not help.
        for (const item of batch) item.reject(error);
        return;
      }
      this.logger.warn('A group commit failed; retrying its statements one by one', {
        statements: batch.length,
        error,
      });
    }
    // One bad statement must not fail the others: retry each in its own transaction.
    for (const item of batch) {
      try {
        const [result] = await this.database.batch([item.statement]);
        item.resolve(result ?? { changes: 0 });
      } catch (error) {
        item.reject(error);
      }
    }
  }

  /** Waits until every queued statement has been committed (or failed). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running) await this.flush();
  }
}
