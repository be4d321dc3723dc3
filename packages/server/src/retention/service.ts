import type { Logger } from '../logger';
import type { Store } from '../store';

/** Options of the retention job. */
export interface RetentionOptions {
  /**
   * Actions, usage events, settled webhook deliveries and channel messages older than this many
   * days are deleted
   * (`ARDEN_RETENTION_DAYS`; default 0: nothing is ever deleted).
   */
  days?: number;
  /** How often the job looks for old rows (default every hour; also 1 minute after start). */
  intervalMs?: number;
  /** Rows deleted per statement (default 1 000): each is a short transaction. */
  batchSize?: number;
  /** Pause between batches, so the hot path's writes go in between (default 20 ms). */
  pauseMs?: number;
  clock?: () => number;
  /**
   * Runs before anything is deleted, with the cutoff: the audit chain deletes its receipts
   * older than it and anchors each chain at the retention edge; returns how many it deleted.
   */
  beforePurge?: (cutoff: number) => Promise<number>;
}

/** What one run of the job deleted. */
export interface RetentionResult {
  actions: number;
  usage: number;
  deliveries: number;
  attempts: number;
  /** Receipts deleted from the front of the audit chains. */
  receipts?: number;
  /** Rows of daily usage totals (and session totals) of the days wholly before the cutoff. */
  usageDaily: number;
  /** Settled channel messages (delivered, failed, cancelled) and their attempts. */
  channelMessages: number;
  channelAttempts: number;
  /** Decision links that expired before the cutoff, and the hold marks of decided old calls. */
  channelLinks: number;
  channelHolds: number;
}

/**
 * What the retention setting does, in one line for the start banner, `arden start --help` and
 * the start log: an audit log must never lose rows without the operator having said so.
 */
export function describeRetention(days: number): string {
  if (days <= 0)
    return 'off: everything is kept (set ARDEN_RETENTION_DAYS or --retention-days to delete old data)';
  return `${days} ${days === 1 ? 'day' : 'days'}: actions, usage, settled webhook deliveries and channel messages older than that are deleted (checked hourly, first 1 min after start)`;
}

const day = 86_400_000;

/**
 * Deletes what is older than the retention age, in small batches with pauses between them, so
 * it never holds the database (SQLite's write lock, PostgreSQL's row locks) for more than a few
 * milliseconds at a time and checks keep flowing. Pending actions are never deleted. Safe on
 * every replica at once: on PostgreSQL each batch skips rows another replica is deleting.
 */
export class RetentionService {
  readonly days: number;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly pauseMs: number;
  private readonly clock: () => number;
  private readonly beforePurge: ((cutoff: number) => Promise<number>) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<RetentionResult> | undefined;
  private stopped = true;
  private cancelled = false;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: RetentionOptions = {},
  ) {
    this.days = options.days ?? 0;
    this.intervalMs = options.intervalMs ?? 3_600_000;
    this.batchSize = options.batchSize ?? 1_000;
    this.pauseMs = options.pauseMs ?? 20;
    this.clock = options.clock ?? Date.now;
    this.beforePurge = options.beforePurge;
  }

  /** Whether anything is ever deleted (`days` > 0). */
  get enabled(): boolean {
    return this.days > 0;
  }

  /** Starts the job (a no-op when retention is off). The first run is after `firstRunMs`. */
  start(firstRunMs = 60_000): void {
    if (!this.enabled) return;
    this.stopped = false;
    this.cancelled = false;
    this.schedule(firstRunMs);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce()
        .catch((error) =>
          this.logger.warn('The retention job failed; it will try again', { error }),
        )
        .finally(() => this.schedule(this.intervalMs));
    }, delay);
    this.timer.unref?.();
  }

  /** Stops the job; a run in progress stops after its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelled = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Deletes everything older than the retention age now; resolves with what was deleted. */
  runOnce(): Promise<RetentionResult> {
    if (this.running) return this.running;
    this.running = this.purge().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async purge(): Promise<RetentionResult> {
    const result: RetentionResult = {
      actions: 0,
      usage: 0,
      deliveries: 0,
      attempts: 0,
      usageDaily: 0,
      channelMessages: 0,
      channelAttempts: 0,
      channelLinks: 0,
      channelHolds: 0,
    };
    if (!this.enabled) return result;
    const cutoff = this.clock() - this.days * day;
    const started = this.clock();
    const { actions, usage } = this.store;
    if (this.beforePurge) result.receipts = await this.beforePurge(cutoff);
    // Settled deliveries first (with their attempts, in one transaction), then the actions.
    result.deliveries = await this.inBatches(async (limit) => {
      const purged = await this.store.transaction((repositories) =>
        repositories.webhooks.purgeSettled(cutoff, limit),
      );
      result.attempts += purged.attempts;
      return purged.rows;
    });
    // Channel messages the same way (the same outbox queries), and their links and holds.
    result.channelMessages = await this.inBatches(async (limit) => {
      const purged = await this.store.transaction((repositories) =>
        repositories.channels.purgeSettled(cutoff, limit),
      );
      result.channelAttempts += purged.attempts;
      return purged.rows;
    });
    result.channelLinks = await this.inBatches((limit) =>
      this.store.channels.purgeLinks(cutoff, limit),
    );
    result.channelHolds = await this.inBatches((limit) =>
      this.store.channels.purgeHolds(cutoff, limit),
    );
    result.actions = await this.inBatches((limit) => actions.purgeOlderThan(cutoff, limit));
    // Each batch with its adjustment of the cutoff day's totals, in one transaction.
    result.usage = await this.inBatches((limit) =>
      this.store.transaction((repositories) => repositories.usage.purgeOlderThan(cutoff, limit)),
    );
    // Daily totals of the days wholly before the cutoff.
    result.usageDaily = await usage.purgeDailyBefore(Math.floor(cutoff / day));
    // Every run says what it removed, table by table — nothing at all included: an operator
    // reading the log knows the job ran and what it took.
    this.logger.info(
      `Retention: deleted ${result.actions} actions, ${result.usage} usage events, ${result.usageDaily} daily usage totals, ${result.deliveries} webhook deliveries, ${result.attempts} delivery attempts, ${result.channelMessages} channel messages, ${result.channelAttempts} channel message attempts, ${result.channelLinks} decision links and ${result.channelHolds} channel holds older than ${this.days} days`,
      {
        retentionDays: this.days,
        before: new Date(cutoff).toISOString(),
        ...result,
        ms: this.clock() - started,
        ...(this.cancelled ? { stoppedEarly: true } : {}),
      },
    );
    if (this.store.database.dialect === 'sqlite') {
      // Keep SQLite's planner statistics fresh for the log's queries (cheap; does only what
      // is needed).
      await this.store.database.exec('PRAGMA optimize').catch(() => undefined);
    }
    return result;
  }

  private async inBatches(deleteBatch: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.cancelled) break;
      const deleted = await deleteBatch(this.batchSize);
      total += deleted;
      if (deleted < this.batchSize) break;
      await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
    }
    return total;
  }
}
