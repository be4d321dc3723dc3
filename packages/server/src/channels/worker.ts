import { signWebhookPayload, verifyWebhookSignature } from '@arden/core';
import type { ApprovalService } from '../approvals/service';
import { approvalsNeeded, approvalsSoFar } from '../approvals/state';
import { hashSecret } from '../crypto';
import { AuthenticationError, ConflictError, ForbiddenError, NotFoundError } from '../errors';
import type { LiveEvents } from '../events/service';
import { randomHex, uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { ActionRecord, Store } from '../store';
import { RawJson, stringifyJson } from '../store/json';
import { createWebhookSender, type WebhookSender } from '../webhooks/sender';
import { parseRetryAfter } from '../webhooks/service';
import { approvalEmail, type DigestItem, digestEmail, type SmtpSettings, sendMail } from './email';
import type { ChannelMessageRecord, ChannelRecord } from './repository';
import { type ChannelService, defaultChannelRetrySchedule, digestPeriod } from './service';
import {
  parseSlackClick,
  type SlackOutcome,
  slackCall,
  slackClient,
  slackMessage,
  slackSignatureProblem,
  slackToleranceSeconds,
} from './slack';

/**
 * The channel outbox worker: sends due messages (notifications, reminders, escalations, updates
 * after a decision) with a lease, as the webhook outbox does, so replicas never send one twice at
 * once and a worker that died is replaced when its lease runs out; retries on a schedule (a 429's
 * Retry-After honoured); every attempt recorded; a channel whose last send failed is failing.
 * It also registers held calls it hears of (and, every round, any a crash left unregistered).
 */
export class ChannelWorker {
  private readonly owner = `channels-${randomHex(6)}`;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private unsubscribe: (() => void) | undefined;
  private readonly inFlight = new Set<AbortController>();
  private readonly send: WebhookSender;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly schedule: readonly number[];

  constructor(
    private readonly store: Store,
    private readonly channels: ChannelService,
    private readonly approvals: ApprovalService,
    private readonly events: LiveEvents,
    private readonly logger: Logger,
    private readonly clock: () => number,
    webhookPolicy: { allowPrivate?: boolean; allowedHosts?: readonly string[] },
  ) {
    const options = channels.options;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollIntervalMs ?? 1_000;
    this.schedule = options.retrySchedule ?? defaultChannelRetrySchedule;
    if (this.leaseMs <= this.timeoutMs) {
      throw new Error(
        `channels.leaseMs (${this.leaseMs}) must be longer than channels.timeoutMs (${this.timeoutMs}).`,
      );
    }
    this.send = createWebhookSender({
      allowPrivate: options.allowPrivate ?? webhookPolicy.allowPrivate,
      allowedHosts: options.allowedHosts ?? webhookPolicy.allowedHosts,
    });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.events.subscribe(
      (event) => {
        if (event.type === 'action.created' && event.action.status === 'pending') {
          void this.channels
            .register(event.action)
            .then((count) => count > 0 && this.nudge())
            .catch((error) => this.logger.warn('Could not queue channel messages', { error }));
        } else if (event.type === 'action.decided') {
          void this.channels
            .close(event.action.id)
            .then(() => this.nudge())
            .catch((error) => this.logger.warn('Could not queue channel updates', { error }));
        }
      },
      ['action.created:pending', 'action.decided'],
    );
    this.schedule_(0);
  }

  /** Stops; sends in flight are abandoned with their lease held, as a crash would. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    for (const controller of this.inFlight) controller.abort();
    await this.running;
  }

  /** Looks for due messages now. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule_(0);
  }

  private schedule_(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.round()
        .then(() => undefined)
        .catch((error) => this.logger.warn('Channel worker round failed', { error }))
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          const again = this.again;
          this.again = false;
          this.schedule_(again ? 0 : this.pollMs);
        });
    }, delay);
    this.timer.unref?.();
  }

  /** One round: registers what a crash left behind, then sends what is due. */
  async round(): Promise<number> {
    for (const id of await this.store.channels.unregisteredHolds(20)) {
      const action = await this.store.actions.get(id);
      if (action) await this.channels.register(action);
    }
    const closing = new Set((await this.store.channels.unclosed(20)).map((m) => m.actionId));
    for (const actionId of closing) await this.channels.close(actionId);
    // Votes counted without deciding (from anywhere: Slack, dashboard, CLI) show in Slack.
    const voted = new Set((await this.store.channels.voted(20)).map((m) => m.actionId));
    for (const actionId of voted) {
      const action = await this.store.actions.get(actionId);
      if (action && (await this.channels.progress(action)) > 0) this.again = true;
    }
    // Up to 50 at once: the calls of a digest go out in one email.
    const due = await this.store.channels.claimDue(this.owner, this.clock(), this.leaseMs, 50);
    const channels = new Map((await this.store.channels.list()).map((c) => [c.id, c]));
    const digests = new Map<string, ChannelMessageRecord[]>();
    const single: ChannelMessageRecord[] = [];
    for (const message of due) {
      const channel = channels.get(message.channelId);
      if (message.job !== 'update' && channel?.enabled && digestPeriod(channel) > 0) {
        const key = `${message.channelId}\n${message.target}`;
        digests.set(key, [...(digests.get(key) ?? []), message]);
      } else single.push(message);
    }
    await Promise.all([
      ...single.map((message) => this.deliver(message)),
      ...[...digests.values()].map((messages) =>
        this.deliverDigest(channels.get(messages[0]?.channelId ?? '') as ChannelRecord, messages),
      ),
    ]);
    return due.length;
  }

  /** The action of a message, or undefined after cancelling a message it no longer needs. */
  private async liveAction(message: ChannelMessageRecord): Promise<ActionRecord | undefined> {
    const action = await this.store.actions.get(message.actionId);
    if (action && (message.job === 'update' || action.status === 'pending')) return action;
    await this.store.channels.settle(message.id, this.owner, {
      status: 'cancelled',
      attempts: message.attempts,
      nextAttemptAt: message.nextAttemptAt,
      lastStatus: null,
      lastError: action ? `Not sent: the call was ${action.status} first.` : 'The action is gone.',
      deliveredAt: null,
    });
    return undefined;
  }

  /** Runs a send with an abort signal that `stop()` fires; a throw is a failed outcome. */
  private async attempt(send: (signal: AbortSignal) => Promise<SlackOutcome>) {
    const controller = new AbortController();
    this.inFlight.add(controller);
    try {
      return await send(controller.signal);
    } catch (error) {
      return { ok: false, statusCode: null, error: String((error as Error).message ?? error) };
    } finally {
      this.inFlight.delete(controller);
    }
  }

  private async deliver(message: ChannelMessageRecord): Promise<void> {
    const started = this.clock();
    const action = await this.liveAction(message);
    if (!action) return;
    const channel = await this.store.channels.get(message.channelId);
    const outcome: SlackOutcome = await this.attempt(async (signal) =>
      channel
        ? channel.enabled
          ? this.sendOne(channel, message, action, signal)
          : { ok: false, statusCode: null, error: `Channel ${channel.name} is disabled.` }
        : { ok: false, statusCode: null, error: 'The channel of this message was deleted.' },
    );
    // Stopped mid-send (a shutdown or a crash): leave the lease to run out; another worker sends.
    if (this.stopped) return;
    await this.record(message, channel, outcome, started);
  }

  /**
   * A digest: the messages due for one recipient of an email channel, whose calls still wait,
   * in one email — each call with its own single-use link (its message's). The outcome is
   * recorded on every message of the digest.
   */
  private async deliverDigest(
    channel: ChannelRecord,
    messages: ChannelMessageRecord[],
  ): Promise<void> {
    const started = this.clock();
    const live: { message: ChannelMessageRecord; action: ActionRecord }[] = [];
    for (const message of messages) {
      const action = await this.liveAction(message);
      if (action) live.push({ message, action });
    }
    // Oldest call first.
    live.sort(
      (a, b) => a.action.createdAt - b.action.createdAt || a.action.id.localeCompare(b.action.id),
    );
    const first = live[0]?.message;
    if (!first) return;
    const outcome = await this.attempt(async () => {
      const items: DigestItem[] = [];
      for (const { message, action } of live) {
        const agent = await this.store.agents.get(action.agentId);
        const token = await this.channels.ensureLink(message, action);
        items.push({
          action,
          agentName: agent?.name ?? action.agentId,
          link: `${this.channels.publicUrl}/channels/email/confirm?token=${token}`,
          job: message.job === 'update' ? 'notify' : message.job,
        });
      }
      return this.mail(channel, first.target, digestEmail(items));
    });
    if (this.stopped) return;
    for (const { message } of live) await this.record(message, channel, outcome, started);
  }

  /** Sends an email of `channel` to `target` (`default`: the channel's own recipient). */
  private async mail(
    channel: ChannelRecord,
    target: string,
    content: { subject: string; text: string; html: string },
  ): Promise<SlackOutcome> {
    try {
      await sendMail(
        channel.config as unknown as SmtpSettings,
        this.channels.secrets.open(channel.secrets).password,
        { to: target === 'default' ? String(channel.config.to ?? '') : target, ...content },
        this.timeoutMs,
      );
      return { ok: true, statusCode: 250, error: null };
    } catch (error) {
      const failure = error as { responseCode?: number; message?: string };
      return {
        ok: false,
        statusCode: failure.responseCode ?? null,
        error: `SMTP: ${(failure.message ?? String(error)).slice(0, 300)}`,
      };
    }
  }

  /** Records an attempt's outcome: the attempt log, the message (retry or done), the channel. */
  private async record(
    message: ChannelMessageRecord,
    channel: ChannelRecord | undefined,
    outcome: SlackOutcome,
    started: number,
  ): Promise<void> {
    const now = this.clock();
    const attempts = message.attempts + 1;
    const retry = this.schedule[attempts - 1];
    const next = now + Math.max(retry ?? 0, Math.min(outcome.retryAfterMs ?? 0, 24 * 3_600_000));
    await this.store.channels.recordAttempt({
      id: uuidv7(now),
      outboxId: message.id,
      attempt: attempts,
      statusCode: outcome.statusCode,
      error: outcome.error,
      durationMs: Math.max(0, now - started),
      at: now,
    });
    await this.store.channels.settle(message.id, this.owner, {
      status: outcome.ok ? 'delivered' : retry === undefined ? 'failed' : 'pending',
      attempts,
      nextAttemptAt: outcome.ok ? message.nextAttemptAt : next,
      lastStatus: outcome.statusCode,
      lastError: outcome.error,
      deliveredAt: outcome.ok ? now : null,
      ref: outcome.ref ?? null,
    });
    if (channel)
      await this.store.channels.health(channel.id, outcome.ok ? null : outcome.error, now);
    if (!outcome.ok) {
      this.logger.warn('A channel message failed', {
        channelId: message.channelId,
        messageId: message.id,
        job: message.job,
        status: outcome.statusCode,
        error: outcome.error,
      });
    }
  }

  private async sendOne(
    channel: ChannelRecord,
    message: ChannelMessageRecord,
    action: ActionRecord,
    signal: AbortSignal,
  ): Promise<SlackOutcome> {
    const secrets = this.channels.secrets.open(channel.secrets);
    const agent = await this.store.agents.get(action.agentId);
    const agentName = agent?.name ?? action.agentId;
    const job = message.job === 'update' ? 'notify' : message.job;
    if (channel.kind === 'slack') {
      const client = slackClient(
        secrets.bot_token ?? '',
        this.channels.options.slackApiUrl,
        this.timeoutMs,
      );
      if (message.job === 'update') {
        const [slackChannel, ts] = message.target.split('/');
        // Still pending: a vote was counted (two-person approvals); the buttons stay.
        const content = slackMessage({
          action,
          agentName,
          job,
          now: this.clock(),
          ...(action.status === 'pending'
            ? { progress: await this.progressLine(action) }
            : { decided: await this.decidedLine(action) }),
        });
        return slackCall(() =>
          client.chat.update({ channel: slackChannel ?? '', ts: ts ?? '', ...content } as any),
        );
      }
      const destination =
        message.target === 'default' ? String(channel.config.channel ?? '') : message.target;
      const content = slackMessage({ action, agentName, job, now: this.clock() });
      return slackCall(() => client.chat.postMessage({ channel: destination, ...content } as any));
    }
    if (channel.kind === 'email') {
      if (message.job === 'update') return { ok: true, statusCode: null, error: null };
      const token = await this.channels.ensureLink(message, action);
      const link = `${this.channels.publicUrl}/channels/email/confirm?token=${token}`;
      return this.mail(channel, message.target, approvalEmail(action, agentName, link, job));
    }
    // An approver webhook: a signed POST with the call and a single-use decision URL.
    if (message.job === 'update') return { ok: true, statusCode: null, error: null };
    const token = await this.channels.ensureLink(message, action);
    const body = stringifyJson({
      event_type: job === 'notify' ? 'approval_requested' : `approval_${job}`,
      timestamp: new Date(this.clock()).toISOString(),
      action: {
        action_id: action.id,
        tool_name: action.toolName,
        agent_id: action.agentId,
        agent_name: agentName,
        context: new RawJson(action.kwargsJson),
        args: new RawJson(action.argsJson),
        session_id: action.sessionId,
        policy: action.policy?.policy?.name ?? null,
        created_at: new Date(action.createdAt).toISOString(),
        expires_at: action.expiresAt ? new Date(action.expiresAt).toISOString() : null,
        on_timeout: action.onTimeout,
        environment: action.environment,
      },
      decision_url: `${this.channels.publicUrl}/channels/webhook/decide/${token}`,
    });
    const timestamp = Math.floor(this.clock() / 1000);
    try {
      const answer = await this.send({
        url: String(channel.config.url),
        headers: {
          'content-type': 'application/json',
          'x-arden-timestamp': String(timestamp),
          'x-arden-signature': await signWebhookPayload(body, timestamp, secrets.signing_key ?? ''),
          'x-arden-event-id': `chm_${message.id.replaceAll('-', '')}`,
        },
        body,
        timeoutMs: this.timeoutMs,
        signal,
      });
      const ok = answer.status >= 200 && answer.status < 300;
      const retryAfter =
        answer.status === 429 || answer.status === 503
          ? parseRetryAfter(answer.headers['retry-after'] as string | undefined, this.clock())
          : undefined;
      return {
        ok,
        statusCode: answer.status,
        error: ok ? null : `The approver webhook answered ${answer.status}`,
        retryAfterMs: retryAfter,
      };
    } catch (error) {
      return { ok: false, statusCode: null, error: String((error as Error).message ?? error) };
    }
  }

  /** ":ballot_box_with_check: 1 of 2 — approved by alice@example.com" while votes are missing. */
  private async progressLine(action: ActionRecord): Promise<string> {
    const votes = approvalsSoFar(action);
    const by = votes.map((vote) => vote.user).join(', ');
    return `:ballot_box_with_check: *${votes.length} of ${approvalsNeeded(action)}* — approved by ${by || 'nobody yet'}; waiting for another approver`;
  }

  /** "✅ Approved by alice@example.com: note" for a decided action. */
  private async decidedLine(action: ActionRecord): Promise<string> {
    const by = action.decidedBy ? await this.store.users.get(action.decidedBy) : undefined;
    const who = by?.email ?? action.decidedBy ?? 'nobody';
    const note = action.notes ? ` — ${action.notes.slice(0, 500)}` : '';
    switch (action.status) {
      case 'approved':
        return `:white_check_mark: *Approved* by ${who}${note}`;
      case 'denied':
        return `:no_entry: *Denied* by ${who}${note}`;
      case 'expired':
        return `:hourglass: *Expired* without a decision (on_timeout: ${action.onTimeout ?? 'deny'})`;
      case 'cancelled':
        return `:heavy_multiplication_x: *Cancelled* by the agent while it was held; it did not run${note}`;
      default:
        return `Decided (${action.status})`;
    }
  }

  // --- decisions coming back -------------------------------------------------------------

  /**
   * A Slack interactivity request: verified with the channel's signing secret and timestamp
   * (five minutes), refused if its signature was seen before (a replay), then the clicking Slack
   * user is looked up (users.info → email) and must be an Arden approver.
   */
  async slackInteraction(
    channelId: string,
    body: string,
    headers: { timestamp?: string; signature?: string },
  ): Promise<{ decided?: ActionRecord; ignored?: string; refused?: string }> {
    const channel = await this.store.channels.get(channelId);
    if (channel?.kind !== 'slack') throw new NotFoundError('No such Slack channel.');
    const secrets = this.channels.secrets.open(channel.secrets);
    const now = this.clock();
    const problem = slackSignatureProblem(
      secrets.signing_secret ?? '',
      body,
      headers.timestamp,
      headers.signature,
      Math.floor(now / 1000),
    );
    if (problem) throw new AuthenticationError(`Slack request refused: ${problem}.`);
    await this.store.channels.forgetSightings(now - 2 * slackToleranceSeconds * 1000);
    if (!(await this.store.channels.firstSighting(headers.signature as string, now))) {
      throw new AuthenticationError('Slack request refused: it was received before (a replay).');
    }
    const click = parseSlackClick(body);
    if (!click) return { ignored: 'not an Approve or Deny click' };
    const client = slackClient(
      secrets.bot_token ?? '',
      this.channels.options.slackApiUrl,
      this.timeoutMs,
    );
    let email: string | undefined;
    try {
      const info = await client.users.info({ user: click.slackUserId });
      email = (info.user as { profile?: { email?: string } } | undefined)?.profile?.email;
    } catch {
      email = undefined;
    }
    const who = `Slack user ${click.slackUserId}${email ? ` (${email})` : ''}`;
    if (!email) {
      throw new ForbiddenError(
        `${who} has no email Arden can read (the app needs the users:read.email scope), so they cannot be matched to an Arden approver.`,
      );
    }
    const user = await this.channels.approverByEmail(email, who);
    let decided: ActionRecord;
    try {
      decided = await this.approvals.decide(click.actionId, {
        decision: click.decision,
        userId: user.id,
        notes: click.note,
      });
    } catch (error) {
      // Refused (the same approver twice, decided already, not theirs to decide): say so to
      // the clicker only, in Slack; the message stays as it is.
      if (!(error instanceof ConflictError || error instanceof ForbiddenError)) throw error;
      const text = `:warning: ${error.message}`;
      if (click.slackChannelId) {
        await slackCall(() =>
          client.chat.postEphemeral({
            channel: click.slackChannelId as string,
            user: click.slackUserId,
            text,
          }),
        ).catch(() => undefined);
      }
      return { refused: error.message };
    }
    if (decided.status === 'pending') {
      // A vote counted, more needed: the messages show it, buttons kept.
      if ((await this.channels.progress(decided)) > 0) this.nudge();
    }
    return { decided };
  }

  /** An approver webhook's callback: signed with the channel's key, through its single-use URL. */
  async webhookDecision(
    token: string,
    body: string,
    headers: { timestamp?: string; signature?: string },
  ): Promise<ActionRecord> {
    const { action } = await this.channels.openLink(token);
    const link = await this.store.channels.link(hashSecret(token));
    const channel = link ? await this.store.channels.get(link.channelId) : undefined;
    if (channel?.kind !== 'webhook' || !link) throw new NotFoundError('This link is not valid.');
    const key = this.channels.secrets.open(channel.secrets).signing_key ?? '';
    const valid = await verifyWebhookSignature(body, headers.timestamp, headers.signature, key, {
      now: this.clock,
    });
    if (!valid) {
      throw new AuthenticationError(
        "Decision refused: X-Arden-Signature does not match the channel's signing key over `{timestamp}.{body}`, or X-Arden-Timestamp is more than 5 minutes from now.",
      );
    }
    let parsed: { decision?: unknown; approver?: unknown; notes?: unknown };
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new AuthenticationError('Decision refused: the body is not JSON.');
    }
    if (parsed.decision !== 'approve' && parsed.decision !== 'deny') {
      throw new ForbiddenError('decision must be "approve" or "deny".');
    }
    if (typeof parsed.approver !== 'string') {
      throw new ForbiddenError('approver (the email of an Arden approver) is required.');
    }
    const user = await this.channels.approverByEmail(parsed.approver, parsed.approver);
    if (!(await this.store.channels.useLink(link.tokenHash, this.clock()))) {
      throw new ForbiddenError('This decision URL was used already, or expired.');
    }
    return this.approvals.decide(action.id, {
      decision: parsed.decision,
      userId: user.id,
      notes: typeof parsed.notes === 'string' ? parsed.notes.slice(0, 4_000) : null,
    });
  }
}
