import { createHmac } from 'node:crypto';
import { signWebhookPayload } from '@arden/core';
import { ConflictError, NotFoundError } from '../errors';
import type { LiveEvents } from '../events/service';
import { randomHex, uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { ActionRecord, DeliveryRecord, Repositories, Store } from '../store';
import { RawJson, stringifyJson } from '../store/json';
import { createWebhookSender, WebhookSendError, type WebhookSender } from './sender';
import type { WebhookAddressPolicy } from './ssrf';

/**
 * The delays before each retry of a failed delivery (ms): the first attempt is immediate, then
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later — ten attempts over about 3 days
 * and 4 hours (each delay is stretched by a random 0–20 %, so receivers that failed together are
 * not retried together, and the whole schedule never takes less than 3 days).
 */
export const defaultRetrySchedule: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  14 * 3_600_000,
  20 * 3_600_000,
  24 * 3_600_000,
];

/** Options of the webhook outbox worker. */
export interface WebhookOptions extends WebhookAddressPolicy {
  /** Time limit of one delivery attempt, the answer included (default 15 000 ms). */
  timeoutMs?: number;
  /** How often the worker looks for due deliveries (default 1 000 ms; new ones go at once). */
  pollIntervalMs?: number;
  /** Deliveries claimed per round (default 10). */
  batchSize?: number;
  /**
   * How long a claim lasts before another worker may take the delivery (default 30 000 ms:
   * twice the time limit of an attempt). A replica that died while sending is thus replaced
   * within this time plus `pollIntervalMs`.
   */
  leaseMs?: number;
  /** Delays before each retry, in ms (default `defaultRetrySchedule`); then it is failed. */
  retrySchedule?: readonly number[];
  /** Each delay is stretched by a random fraction up to this (default 0.2). */
  jitter?: number;
  /** The longest `Retry-After` of a 429 or 503 that is honoured (default 24 h). */
  maxRetryAfterMs?: number;
  /**
   * An endpoint whose deliveries have all failed for this long is disabled (default 5 days);
   * a 410 Gone disables it at once.
   */
  disableAfterMs?: number;
  /** Sends one request (default: `node:http(s)`, refusing private addresses unless allowed). */
  send?: WebhookSender;
  clock?: () => number;
  random?: () => number;
}

/** Puts the sensitive values of a delivery's action back into its body, logging the access. */
export interface WebhookUnmasker {
  /** The body with the values in full; undefined when the action has no sensitive arguments. */
  unmaskWebhook(delivery: DeliveryRecord): Promise<string | undefined>;
}

/** The approver side of a decision, as written into the webhook body. */
export interface ApprovalInfo {
  adminUserId: string | null;
  notes: string | null;
  expired?: boolean;
  /** The decision's signed receipt (sent only when the server signs receipts). */
  receipt?: string;
}

/**
 * The HMAC-SHA256 signature header value of a webhook: `sha256=<hex>` over `"{timestamp}.{body}"`.
 *
 * @deprecated The server signs with `signWebhookPayload` of `@arden/core` (the same bytes; one
 * implementation for the server, the clients and receivers' tests). This synchronous form is kept
 * for callers of this export only, and a test holds it to the same bytes.
 */
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
  // The arguments go back byte for byte as the agent sent them: a receiver that replays the call
  // (ardenpy's example runs issue_refund(**context)) runs exactly what was approved. Approved
  // with edit: `context` is the edited call (what was approved), `edited` what it replaced.
  const edit = approved && action.status === 'approved' ? action.approval?.edits.at(-1) : undefined;
  return stringifyJson({
    event_type: approved ? 'action_approved' : 'action_denied',
    timestamp: new Date(now).toISOString(),
    action: {
      action_id: action.id,
      tool_name: action.toolName,
      status: approved ? 'approved' : 'denied',
      agent_id: action.agentId,
      context: new RawJson(edit ? edit.after : action.kwargsJson),
      args: new RawJson(action.argsJson),
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
    ...(approval.receipt ? { receipt: approval.receipt } : {}),
    ...(edit
      ? {
          edited: {
            original_context: new RawJson(action.kwargsJson),
            patch: edit.patch,
            edited_by: edit.user,
            edited_at: new Date(edit.at).toISOString(),
          },
        }
      : {}),
  });
}

/** How a receiver's answer (or its absence) is judged. */
interface Verdict {
  delivered: boolean;
  statusCode: number | null;
  error: string | null;
  /** A `Retry-After` of a 429 or 503, in ms. */
  retryAfterMs?: number;
  /** Disable the endpoint (410 Gone). */
  disable?: string;
}

/** A `Retry-After` header (seconds, or an HTTP date) in ms from `now`, if valid. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * The webhook outbox: a delivery row is written in the same transaction as the decision it
 * reports, and this worker sends it — signed, with a time limit, retried on a schedule with
 * jitter for over 3 days, every attempt recorded. Deliveries are claimed with a lease, so
 * several workers (on several replicas) never send one delivery at the same time, and the
 * deliveries of a worker that died are taken over when its lease runs out.
 *
 * A delivery is sent to the agent's webhook URL and signed with its signing key *as they are
 * when it is sent*: an operator who corrects a wrong URL, or rotates a leaked key, fixes the
 * retries still due too. A delivery whose agent no longer has a webhook URL is failed.
 *
 * Failures: anything but a 2xx is one (a 3xx too: redirects are not followed). 429 and 503 are
 * not retried before their `Retry-After`. 410 Gone disables the endpoint at once; an endpoint
 * whose deliveries have all failed for `disableAfterMs` (5 days) is disabled too. Deliveries to
 * a disabled endpoint are failed without being sent, until an admin enables it again
 * (`enableEndpoint`, or by saving its URL); a success also clears its failures.
 */
export class WebhookService {
  private readonly owner = `worker-${randomHex(6)}`;
  private readonly options: Required<
    Omit<WebhookOptions, 'send' | 'allowPrivate' | 'allowedHosts'>
  > & {
    send: WebhookSender;
  };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly inFlight = new Set<AbortController>();
  private sensitive: WebhookUnmasker | undefined;

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
      leaseMs: options.leaseMs ?? 30_000,
      retrySchedule: options.retrySchedule ?? defaultRetrySchedule,
      jitter: options.jitter ?? 0.2,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 24 * 3_600_000,
      disableAfterMs: options.disableAfterMs ?? 5 * 24 * 3_600_000,
      send:
        options.send ??
        createWebhookSender({
          allowPrivate: options.allowPrivate,
          allowedHosts: options.allowedHosts,
        }),
      clock: options.clock ?? Date.now,
      random: options.random ?? Math.random,
    };
    if (this.options.leaseMs <= this.options.timeoutMs) {
      throw new Error(
        `webhooks.leaseMs (${this.options.leaseMs}) must be longer than webhooks.timeoutMs (${this.options.timeoutMs}), or another worker could send a delivery still in flight.`,
      );
    }
  }

  /**
   * Lets deliveries of agents whose settings say so (`webhookSensitiveInFull`) carry sensitive
   * argument values in full (the server wires its `SensitiveArguments`). Without it, webhooks
   * always carry them masked.
   */
  unmaskWith(sensitive: WebhookUnmasker): void {
    this.sensitive = sensitive;
  }

  /** This worker's name in leases (`lease_owner`). */
  get workerId(): string {
    return this.owner;
  }

  /**
   * Writes the delivery of a decided action into the outbox, inside the caller's transaction.
   * Does nothing when the agent has no webhook URL; when its endpoint is disabled, the delivery
   * is written already failed (visible, and re-sendable once the endpoint is enabled).
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
    const disabled = agent.webhookDisabledAt != null;
    const delivery: DeliveryRecord = {
      id: uuidv7(now),
      eventId: `evt_${uuidv7(now).replaceAll('-', '')}`,
      agentId: agent.id,
      actionId: action.id,
      eventType: JSON.parse(payload).event_type,
      url: agent.webhookUrl,
      payload,
      status: disabled ? 'failed' : 'pending',
      attempts: 0,
      nextAttemptAt: now,
      leaseOwner: null,
      leaseUntil: null,
      lastStatus: null,
      lastError: disabled ? disabledMessage(agent) : null,
      createdAt: now,
      deliveredAt: null,
    };
    await repositories.webhooks.enqueue(delivery);
    return delivery.status === 'pending' ? delivery : undefined;
  }

  /**
   * Makes a delivery due again now (same event id, so receivers de-duplicate it), whatever its
   * status. Refused (409) while the agent's endpoint is disabled: enable it first.
   */
  async redeliver(deliveryId: string): Promise<DeliveryRecord> {
    const delivery = await this.store.webhooks.get(deliveryId);
    if (!delivery) throw new NotFoundError(`No webhook delivery ${deliveryId}.`);
    const agent = await this.store.agents.get(delivery.agentId);
    if (agent && agent.webhookDisabledAt != null) {
      throw new ConflictError(
        `The webhook endpoint of agent ${agent.name} is disabled (${agent.webhookDisabledReason ?? 'no reason recorded'}). Fix the receiver, enable the endpoint (POST /api/v1/agents/${agent.id}/webhook/enable), then redeliver.`,
        { webhookDisabledAt: agent.webhookDisabledAt },
      );
    }
    await this.store.webhooks.redeliver(deliveryId, this.options.clock());
    this.nudge();
    return (await this.store.webhooks.get(deliveryId)) as DeliveryRecord;
  }

  /** Enables an agent's disabled webhook endpoint again (deliveries already failed stay so). */
  async enableEndpoint(agentId: string): Promise<void> {
    await this.store.agents.enableWebhook(agentId);
    this.nudge();
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

  /** The delay before the retry that follows failed attempt number `attempts` (from 1). */
  retryDelay(attempts: number): number | undefined {
    const delay = this.options.retrySchedule[attempts - 1];
    if (delay === undefined) return undefined;
    return Math.round(delay * (1 + this.options.random() * this.options.jitter));
  }

  private judge(statusCode: number, headers: WebhookResponseHeaders, text: string): Verdict {
    if (statusCode >= 200 && statusCode < 300) {
      return { delivered: true, statusCode, error: null };
    }
    const detail = text ? `: ${text.replace(/\s+/g, ' ').slice(0, 200)}` : '';
    if (statusCode >= 300 && statusCode < 400) {
      const location = typeof headers.location === 'string' ? ` to ${headers.location}` : '';
      return {
        delivered: false,
        statusCode,
        error: `the receiver answered HTTP ${statusCode} (a redirect${location.slice(0, 300)}); redirects are not followed — set the final URL as the webhook URL`,
      };
    }
    if (statusCode === 410) {
      return {
        delivered: false,
        statusCode,
        error: `the receiver answered HTTP 410 Gone${detail}; the endpoint is disabled`,
        disable: 'the receiver answered HTTP 410 Gone',
      };
    }
    const verdict: Verdict = {
      delivered: false,
      statusCode,
      error: `the receiver answered HTTP ${statusCode}${detail}`,
    };
    if (statusCode === 429 || statusCode === 503) {
      const retryAfter = parseRetryAfter(
        typeof headers['retry-after'] === 'string' ? headers['retry-after'] : undefined,
        this.options.clock(),
      );
      if (retryAfter !== undefined) {
        verdict.retryAfterMs = Math.min(retryAfter, this.options.maxRetryAfterMs);
      }
    }
    return verdict;
  }

  private async deliver(delivery: DeliveryRecord): Promise<void> {
    const agent = await this.store.agents.get(delivery.agentId);
    const started = this.options.clock();
    // Not sendable at all: fail it without an attempt on the wire.
    const unsendable = !agent
      ? 'not sent: the agent no longer exists'
      : agent.deletedAt !== null
        ? 'not sent: the agent was deleted'
        : !agent.webhookUrl
          ? 'not sent: the agent no longer has a webhook URL'
          : agent.webhookDisabledAt != null
            ? disabledMessage(agent)
            : undefined;
    let verdict: Verdict;
    const url = agent?.webhookUrl ?? delivery.url;
    if (unsendable || !agent) {
      verdict = { delivered: false, statusCode: null, error: unsendable ?? 'not sent' };
    } else {
      const controller = new AbortController();
      this.inFlight.add(controller);
      try {
        // The outbox holds the masked body; the agent's setting, as it is now, decides whether
        // this attempt carries the sensitive values in full (logged like a reveal).
        const body =
          agent.webhookSensitiveInFull === true && this.sensitive
            ? ((await this.sensitive.unmaskWebhook(delivery)) ?? delivery.payload)
            : delivery.payload;
        const timestamp = Math.floor(Date.now() / 1000);
        const signature = await signWebhookPayload(body, timestamp, agent.signingKey);
        const response = await this.options.send({
          url,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Arden-Webhooks/1',
            'x-arden-timestamp': String(timestamp),
            'x-arden-signature': signature,
            'x-arden-event-id': delivery.eventId,
            // Standard Webhooks names, so receivers built for them find the id.
            'webhook-id': delivery.eventId,
          },
          body,
          timeoutMs: this.options.timeoutMs,
          signal: controller.signal,
        });
        verdict = this.judge(response.status, response.headers, response.body);
      } catch (cause) {
        if (this.stopped && controller.signal.aborted) {
          // Shutting down: give the delivery back without counting an attempt.
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
        verdict = {
          delivered: false,
          statusCode: null,
          error: cause instanceof WebhookSendError ? cause.message : describeError(cause),
        };
      } finally {
        this.inFlight.delete(controller);
      }
    }
    const now = this.options.clock();
    const sent = !unsendable;
    const attempts = delivery.attempts + (sent ? 1 : 0);
    let retryIn = verdict.delivered || !sent ? undefined : this.retryDelay(attempts);
    if (retryIn !== undefined && verdict.retryAfterMs !== undefined) {
      // Never sooner than the receiver asked.
      retryIn = Math.max(retryIn, verdict.retryAfterMs);
    }
    let disabledNow: string | undefined;
    const attempt = sent
      ? {
          id: uuidv7(now),
          outboxId: delivery.id,
          attempt: attempts,
          statusCode: verdict.statusCode,
          error: verdict.error,
          durationMs: now - started,
          at: now,
        }
      : undefined;
    let settled: boolean;
    try {
      settled = await this.store.transaction(async (repositories) => {
        if (sent && agent) {
          if (verdict.delivered) {
            await repositories.agents.webhookSucceeded(agent.id);
          } else {
            const since = await repositories.agents.webhookFailed(agent.id, now);
            const reason =
              verdict.disable ??
              (now - since >= this.options.disableAfterMs
                ? `every delivery failed for ${formatDuration(now - since)} (since ${new Date(since).toISOString()})`
                : undefined);
            if (reason && (await repositories.agents.disableWebhook(agent.id, now, reason))) {
              disabledNow = reason;
            }
            if (reason) retryIn = undefined;
          }
        }
        if (attempt) await repositories.webhooks.recordAttempt(attempt);
        return repositories.webhooks.settle(delivery.id, this.owner, {
          status: verdict.delivered ? 'delivered' : retryIn === undefined ? 'failed' : 'pending',
          attempts,
          nextAttemptAt: retryIn === undefined ? now : now + retryIn,
          lastStatus: verdict.statusCode,
          lastError: verdict.error,
          deliveredAt: verdict.delivered ? now : null,
          url,
        });
      });
    } catch (cause) {
      this.logger.error('Could not record a webhook attempt', {
        deliveryId: delivery.id,
        error: cause,
      });
      return;
    }
    if (!settled) {
      // Our lease ran out and another worker took the delivery over: it records the outcome.
      this.logger.warn('A webhook lease ran out during its attempt', { deliveryId: delivery.id });
    }
    if (disabledNow) {
      this.logger.warn('A webhook endpoint was disabled', {
        agentId: delivery.agentId,
        url,
        reason: disabledNow,
      });
    }
    const level = verdict.delivered ? 'debug' : 'warn';
    this.logger[level](verdict.delivered ? 'Webhook delivered' : 'Webhook delivery failed', {
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      actionId: delivery.actionId,
      attempt: attempts,
      statusCode: verdict.statusCode,
      error: verdict.error,
      retryInMs: retryIn,
    });
    if (!attempt) return;
    const updated = await this.store.webhooks.get(delivery.id).catch(() => undefined);
    if (updated) this.events.emit({ type: 'webhook.attempted', delivery: updated, attempt });
  }
}

type WebhookResponseHeaders = Record<string, string | string[] | undefined>;

function disabledMessage(agent: {
  webhookDisabledAt?: number | null;
  webhookDisabledReason?: string | null;
}): string {
  return `not sent: the webhook endpoint is disabled since ${new Date(agent.webhookDisabledAt ?? 0).toISOString()} (${agent.webhookDisabledReason ?? 'no reason recorded'}); enable it, then redeliver`;
}

function formatDuration(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48 ? `${Math.round(hours / 24)} days` : `${Math.round(hours)} hours`;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${error.message} (${detail})` : error.message;
}
