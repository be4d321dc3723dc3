import { createHmac } from 'node:crypto';
import { NotFoundError } from '../errors';
import { randomHex, uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { ActionRecord, DeliveryRecord, Repositories, Store } from '../store';
import type { LiveEvents } from './events';

/** Options of the webhook outbox worker. */
export interface WebhookOptions {
  /** Time limit of one delivery attempt (default 15 000 ms). */
  timeoutMs?: number;
  /** How often the worker looks for due deliveries (default 1 000 ms; new ones go at once). */
  pollIntervalMs?: number;
  /** Deliveries claimed per round (default 10). */
  batchSize?: number;
  /** How long a claim lasts before another worker may take the delivery (default 60 000 ms). */
  leaseMs?: number;
  /** First retry delay (default 5 000 ms); doubles each attempt, with jitter. */
  baseDelayMs?: number;
  /** Longest delay between attempts (default 1 hour). */
  maxDelayMs?: number;
  /** How long a delivery is retried before it is marked failed (default 72 hours). */
  maxAgeMs?: number;
  /** The HTTP client (default the global `fetch`). */
  fetch?: typeof globalThis.fetch;
  clock?: () => number;
  random?: () => number;
}

/** The approver side of a decision, as written into the webhook body. */
export interface ApprovalInfo {
  adminUserId: string | null;
  notes: string | null;
  expired?: boolean;
}

/** The HMAC-SHA256 signature header value of a webhook: `sha256=<hex>` over `"{timestamp}.{body}"`. */
export function signWebhook(body: string, timestamp: number | string, signingKey: string): string {
  return `sha256=${createHmac('sha256', signingKey).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The webhook body of a decided action (SPEC §3; ardenpy's `handle_webhook` reads `event_type`,
 * `action.action_id`, `tool_name`, `context` (the kwargs), and `approval.admin_user_id`/`notes`).
 * `action.args` (positional arguments) is an extension.
 */
export function webhookBody(action: ActionRecord, approval: ApprovalInfo, now: number): string {
  const approved =
    action.status === 'approved' || (action.status === 'expired' && action.onTimeout === 'allow');
  return JSON.stringify({
    event_type: approved ? 'action_approved' : 'action_denied',
    timestamp: new Date(now).toISOString(),
    action: {
      action_id: action.id,
      tool_name: action.toolName,
      status: approved ? 'approved' : 'denied',
      agent_id: action.agentId,
      context: action.kwargs,
      args: action.args,
      session_id: action.sessionId,
      created_at: new Date(action.createdAt).toISOString(),
      environment: action.environment,
    },
    approval: {
      action: approved ? 'approve' : 'deny',
      admin_user_id: approval.adminUserId,
      notes: approval.notes,
      expired: approval.expired === true,
      decided_at: new Date(action.decidedAt ?? now).toISOString(),
    },
  });
}

/**
 * The webhook outbox: a delivery row is written in the same transaction as the decision it
 * reports, and this worker sends it — signed, with a time limit, retried with exponential
 * backoff and jitter until `maxAgeMs`, every attempt recorded. Deliveries are claimed with a
 * lease, so several workers never send one delivery at the same time.
 */
export class WebhookService {
  private readonly owner = `worker-${randomHex(6)}`;
  private readonly options: Required<Omit<WebhookOptions, 'fetch'>> & {
    fetch: typeof globalThis.fetch;
  };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly store: Store,
    private readonly events: LiveEvents,
    private readonly logger: Logger,
    options: WebhookOptions = {},
  ) {
    this.options = {
      timeoutMs: options.timeoutMs ?? 15_000,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      batchSize: options.batchSize ?? 10,
      leaseMs: options.leaseMs ?? 60_000,
      baseDelayMs: options.baseDelayMs ?? 5_000,
      maxDelayMs: options.maxDelayMs ?? 3_600_000,
      maxAgeMs: options.maxAgeMs ?? 72 * 3_600_000,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      clock: options.clock ?? Date.now,
      random: options.random ?? Math.random,
    };
  }

  /**
   * Writes the delivery of a decided action into the outbox, inside the caller's transaction.
   * Does nothing when the agent has no webhook URL.
   */
  async enqueue(
    repositories: Repositories,
    action: ActionRecord,
    approval: ApprovalInfo,
    now: number,
  ): Promise<DeliveryRecord | undefined> {
    const agent = await repositories.agents.get(action.agentId);
    if (!agent?.webhookUrl) return undefined;
    const payload = webhookBody(action, approval, now);
    const delivery: DeliveryRecord = {
      id: uuidv7(now),
      eventId: `evt_${uuidv7(now).replaceAll('-', '')}`,
      agentId: agent.id,
      actionId: action.id,
      eventType: JSON.parse(payload).event_type,
      url: agent.webhookUrl,
      payload,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      leaseOwner: null,
      leaseUntil: null,
      lastStatus: null,
      lastError: null,
      createdAt: now,
      deliveredAt: null,
    };
    await repositories.webhooks.enqueue(delivery);
    return delivery;
  }

  /** Makes a delivery due again now (same event id), whatever its status. */
  async redeliver(deliveryId: string): Promise<DeliveryRecord> {
    const found = await this.store.webhooks.redeliver(deliveryId, this.options.clock());
    if (!found) throw new NotFoundError(`No webhook delivery ${deliveryId}.`);
    this.nudge();
    return (await this.store.webhooks.get(deliveryId)) as DeliveryRecord;
  }

  /** Starts the worker. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Asks the worker to look for due deliveries now (after a decision was committed). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((error) => this.logger.error('The webhook worker failed a round', { error }))
        .finally(() => {
          this.running = undefined;
          const now = this.again;
          this.again = false;
          this.schedule(now ? 0 : this.options.pollIntervalMs);
        });
    }, delay);
    this.timer.unref?.();
  }

  /** Stops the worker; in-flight attempts are abandoned and retried later, not lost. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const controller of this.inFlight) controller.abort();
    await this.running;
  }

  /** Claims and sends the due deliveries once; returns how many were attempted. */
  async runOnce(): Promise<number> {
    const now = this.options.clock();
    const due = await this.store.webhooks.claimDue(
      this.owner,
      now,
      this.options.leaseMs,
      this.options.batchSize,
    );
    await Promise.all(due.map((delivery) => this.deliver(delivery)));
    if (due.length === this.options.batchSize) this.again = true;
    return due.length;
  }

  private delayAfter(attempts: number): number {
    const ceiling = Math.min(
      this.options.maxDelayMs,
      this.options.baseDelayMs * 2 ** Math.min(30, attempts - 1),
    );
    // Jitter keeps receivers that failed together from being retried together.
    return Math.round(ceiling * (0.5 + this.options.random() * 0.5));
  }

  private async deliver(delivery: DeliveryRecord): Promise<void> {
    const agent = await this.store.agents.get(delivery.agentId);
    const started = this.options.clock();
    const timestamp = Math.floor(Date.now() / 1000);
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      if (!agent) throw new Error('the agent no longer exists');
      const response = await this.options.fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Arden-Webhooks/1',
          'x-arden-timestamp': String(timestamp),
          'x-arden-signature': signWebhook(delivery.payload, timestamp, agent.signingKey),
          'x-arden-event-id': delivery.eventId,
        },
        body: delivery.payload,
        redirect: 'manual',
        signal: controller.signal,
      });
      statusCode = response.status;
      // Read (and bound) the answer so the connection can be reused.
      const text = await response.text().catch(() => '');
      if (statusCode < 200 || statusCode >= 300) {
        error = `the receiver answered HTTP ${statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`;
      }
    } catch (cause) {
      if (this.stopped && controller.signal.aborted) {
        // Shutting down: give the delivery back without counting an attempt.
        clearTimeout(timer);
        this.inFlight.delete(controller);
        await this.store.webhooks
          .settle(delivery.id, this.owner, {
            status: 'pending',
            attempts: delivery.attempts,
            nextAttemptAt: this.options.clock(),
            lastStatus: delivery.lastStatus,
            lastError: delivery.lastError,
            deliveredAt: null,
          })
          .catch(() => undefined);
        return;
      }
      error = controller.signal.aborted
        ? `no answer within ${this.options.timeoutMs} ms`
        : describeFetchError(cause);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
    const now = this.options.clock();
    const attempts = delivery.attempts + 1;
    const delivered = error === null;
    const givingUp = !delivered && now - delivery.createdAt >= this.options.maxAgeMs;
    const attempt = {
      id: uuidv7(now),
      outboxId: delivery.id,
      attempt: attempts,
      statusCode,
      error,
      durationMs: now - started,
      at: now,
    };
    try {
      await this.store.transaction(async (repositories) => {
        await repositories.webhooks.recordAttempt(attempt);
        await repositories.webhooks.settle(delivery.id, this.owner, {
          status: delivered ? 'delivered' : givingUp ? 'failed' : 'pending',
          attempts,
          nextAttemptAt: delivered || givingUp ? now : now + this.delayAfter(attempts),
          lastStatus: statusCode,
          lastError: error,
          deliveredAt: delivered ? now : null,
        });
      });
    } catch (cause) {
      this.logger.error('Could not record a webhook attempt', {
        deliveryId: delivery.id,
        error: cause,
      });
      return;
    }
    const level = delivered ? 'debug' : 'warn';
    this.logger[level](delivered ? 'Webhook delivered' : 'Webhook delivery failed', {
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      actionId: delivery.actionId,
      attempt: attempts,
      statusCode,
      error,
      givingUp,
    });
    const updated = await this.store.webhooks.get(delivery.id).catch(() => undefined);
    if (updated) this.events.emit({ type: 'webhook.attempted', delivery: updated, attempt });
  }
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${error.message} (${detail})` : error.message;
}
