import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../store';

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const approvalBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600];

/**
 * The server's Prometheus metrics, in a registry of its own (two servers in one process do not
 * mix). Counters and histograms are updated where things happen; the pending approvals and the
 * webhook queue are read from the store when `/metrics` is scraped, so every replica reports the
 * same, current figures.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly checks: Counter<'decision' | 'environment'>;
  readonly checkDuration: Histogram<'decision'>;
  readonly approvalDecision: Histogram<'status'>;
  readonly webhookDeliveries: Counter<'outcome'>;
  readonly storeCommit: Histogram;
  readonly usageCost: Counter<'model'>;

  constructor(store: Store) {
    const registers = [this.registry];
    this.checks = new Counter({
      name: 'arden_checks_total',
      help: 'Policy checks answered, by decision (allow, block, requires_approval) and environment.',
      labelNames: ['decision', 'environment'],
      registers,
    });
    this.checkDuration = new Histogram({
      name: 'arden_check_duration_seconds',
      help: 'Time to answer POST /policy/check, from the request to the committed answer.',
      labelNames: ['decision'],
      buckets: latencyBuckets,
      registers,
    });
    this.approvalDecision = new Histogram({
      name: 'arden_approval_decision_seconds',
      help: "Time from a held call to an approver's decision (approved, denied).",
      labelNames: ['status'],
      buckets: approvalBuckets,
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: 'arden_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome (delivered, rejected: a non-2xx answer, error: no answer).',
      labelNames: ['outcome'],
      registers,
    });
    this.storeCommit = new Histogram({
      name: 'arden_store_commit_duration_seconds',
      help: 'Time a check waits for its action row to be committed (group commit included).',
      buckets: latencyBuckets,
      registers,
    });
    this.usageCost = new Counter({
      name: 'arden_usage_cost_usd_total',
      help: 'Cost of the token usage recorded, in US dollars, by model.',
      labelNames: ['model'],
      registers,
    });
    const database = store.database;
    let pending: Promise<{ count: number; oldest: number | null }> | undefined;
    // One query per scrape for both pending gauges.
    const readPending = () => {
      pending ??= database
        .get<{ count: number | string; oldest: number | string | null }>(
          `SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM actions WHERE status = 'pending'`,
        )
        .then((row) => ({
          count: Number(row?.count ?? 0),
          oldest: row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest),
        }))
        .finally(() => {
          pending = undefined;
        });
      return pending;
    };
    new Gauge({
      name: 'arden_approvals_pending',
      help: 'Held calls waiting for a decision.',
      registers,
      async collect() {
        this.set((await readPending()).count);
      },
    });
    new Gauge({
      name: 'arden_approvals_pending_oldest_age_seconds',
      help: 'Age of the oldest held call still waiting for a decision (0 when none).',
      registers,
      async collect() {
        const { oldest } = await readPending();
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
    new Gauge({
      name: 'arden_webhook_queue_depth',
      help: 'Webhook deliveries waiting to be sent or retried.',
      registers,
      async collect() {
        const row = await database.get<{ count: number | string }>(
          `SELECT COUNT(*) AS count FROM webhook_outbox WHERE status = 'pending'`,
        );
        this.set(Number(row?.count ?? 0));
      },
    });
  }

  /** The metrics in the Prometheus text format. */
  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
