import { createHmac, randomBytes } from 'node:crypto';
import type { ApprovalService } from '../approvals/service';
import { approvalsSoFar } from '../approvals/state';
import { roleAllows } from '../auth/roles';
import { hashSecret } from '../crypto';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { PolicyService } from '../policies/service';
import type { ActionRecord, Store, UserRecord } from '../store';
import { HoldBatcher } from './hold-batch';
import type { ChannelKind, ChannelMessageRecord, ChannelRecord } from './repository';
import * as schemas from './schema';
import { SecretBox } from './secrets';

/** Options of the notification channels (`createServer({ channels })`). */
export interface ChannelOptions {
  /**
   * The server's address as approvers reach it (`ARDEN_PUBLIC_URL`), for email links, approver
   * webhooks' decision URLs and Slack's interactivity URL. Default: the address it listens on.
   */
  publicUrl?: string;
  /** Base URL of the Slack Web API (`ARDEN_SLACK_API_URL`; default Slack's). */
  slackApiUrl?: string;
  /** Key of the channel secrets at rest (`ARDEN_SECRETS_KEY`; default a key file in dataDir). */
  secretsKey?: string;
  /** How often the worker looks for due messages (default 1 000 ms). */
  pollIntervalMs?: number;
  /** Lease of a claimed message (default 30 000 ms; more than `timeoutMs`). */
  leaseMs?: number;
  /** Time limit of one send (default 10 000 ms). */
  timeoutMs?: number;
  /** Delays before each retry, ms (default 5 s, 30 s, 2 min, 10 min, 30 min, 1 h); then failed. */
  retrySchedule?: readonly number[];
  /** Allow approver webhooks to private addresses (default: `webhooks.allowPrivate`). */
  allowPrivate?: boolean;
  allowedHosts?: readonly string[];
}

export const defaultChannelRetrySchedule: readonly number[] = [
  5_000,
  30_000,
  2 * 60_000,
  10 * 60_000,
  30 * 60_000,
  3_600_000,
];

const kinds: readonly ChannelKind[] = ['slack', 'email', 'webhook'];

/** A target parsed: `slack:#payments`, `email@finance:ops@example.com`. */
export interface ParsedTarget {
  kind: ChannelKind;
  channelName: string | undefined;
  destination: string;
}

export function parseTarget(text: string): ParsedTarget | undefined {
  const match = /^(slack|email|webhook)(?:@([A-Za-z0-9_.-]{1,100}))?:(\S+)$/.exec(text.trim());
  if (!match) return undefined;
  return {
    kind: match[1] as ChannelKind,
    channelName: match[2],
    destination: match[3] as string,
  };
}

/** The digest period of an email channel, ms (0: a message per call). */
export function digestPeriod(channel: ChannelRecord | undefined): number {
  const minutes = channel?.kind === 'email' ? Number(channel.config.digest_minutes ?? 0) : 0;
  return minutes > 0 ? minutes * 60_000 : 0;
}

/**
 * When a message is sent: at `due`, or for a digest channel at the next multiple of its period
 * after `due`
 * — unless the call would expire first, then at `due`, on its own.
 */
export function digestDue(
  channel: ChannelRecord | undefined,
  due: number,
  expiresAt: number | null,
): number {
  const period = digestPeriod(channel);
  if (period === 0) return due;
  const boundary = (Math.floor(due / period) + 1) * period;
  return expiresAt !== null && boundary >= expiresAt ? due : boundary;
}

/** Who is asked about a held call and when, from its policy (or rule) or the agent's default. */
export interface Escalation {
  notify: string[];
  remindAfterSeconds: number | undefined;
  escalateAfterSeconds: number | undefined;
  escalateTo: string[];
}

const approverRoleError = (who: string) =>
  new ForbiddenError(
    `${who} is not an Arden user who may decide held calls (role approver or admin); ask an Arden admin to add them (with this email) before they can approve.`,
  );

/**
 * Notification channels: their settings (secrets sealed at rest), the agents' default targets,
 * the registration of held calls (notify, remind, escalate: rows of the channel outbox written
 * together, so a restart loses none) and the decisions that come back from a channel.
 * `ChannelWorker` (worker.ts) sends the outbox.
 */
export class ChannelService {
  readonly secrets: SecretBox;
  readonly options: ChannelOptions;
  private readonly policies: Pick<PolicyService, 'currentRecords'> | undefined;
  private readonly clock: () => number;
  // Held calls that may have nobody to tell, marked handled in batches.
  private readonly holds: HoldBatcher;
  listeningUrl: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly approvals: ApprovalService,
    private readonly logger: Logger,
    options: ChannelOptions & {
      dataDir: string;
      clock?: () => number;
      /** The policy cache: who to notify is read from it, not from the store, per held call. */
      policies?: Pick<PolicyService, 'currentRecords'>;
    },
  ) {
    this.policies = options.policies;
    this.options = {
      ...options,
      publicUrl: options.publicUrl ?? process.env.ARDEN_PUBLIC_URL,
      slackApiUrl: options.slackApiUrl ?? process.env.ARDEN_SLACK_API_URL,
    };
    this.secrets = SecretBox.open(options);
    this.clock = options.clock ?? Date.now;
    this.holds = new HoldBatcher(store, () => this.clock());
  }

  /** The base URL of links and callbacks. */
  get publicUrl(): string {
    return (this.options.publicUrl ?? this.listeningUrl ?? 'http://127.0.0.1:8787').replace(
      /\/+$/,
      '',
    );
  }

  // --- channels ---------------------------------------------------------------------------

  async create(
    input: unknown,
  ): Promise<{ channel: ChannelRecord; shown: Record<string, string> | undefined }> {
    const parsed = schemas.createChannel.safeParse(input);
    if (!parsed.success) throw validationOf(parsed.error);
    const body = parsed.data;
    const secrets: Record<string, string> = { ...(body.secrets as Record<string, string>) };
    let shown: Record<string, string> | undefined;
    if (body.kind === 'webhook' && !secrets.signing_key) {
      secrets.signing_key = `whsec_${randomBytes(32).toString('hex')}`;
      shown = { signing_key: secrets.signing_key };
    }
    if (await this.store.channels.get(body.name)) {
      throw new ConflictError(`A channel named ${body.name} exists; pick another name.`);
    }
    const now = this.clock();
    const channel: ChannelRecord = {
      id: uuidv7(now),
      name: body.name,
      kind: body.kind,
      config: body.config as Record<string, unknown>,
      secrets: this.secrets.seal(secrets),
      enabled: true,
      failingSince: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.channels.insert(channel);
    this.logger.info('Channel created', { channelId: channel.id, kind: channel.kind });
    return { channel, shown };
  }

  async get(idOrName: string): Promise<ChannelRecord> {
    const channel = await this.store.channels.get(idOrName);
    if (!channel) throw new NotFoundError(`No channel ${idOrName.slice(0, 100)}.`);
    return channel;
  }

  async update(idOrName: string, input: unknown): Promise<ChannelRecord> {
    const parsed = schemas.updateChannel.safeParse(input);
    if (!parsed.success) throw validationOf(parsed.error);
    const channel = await this.get(idOrName);
    const config = { ...channel.config, ...(parsed.data.config ?? {}) };
    const secrets = { ...this.secrets.open(channel.secrets), ...(parsed.data.secrets ?? {}) };
    const check = schemas.createChannel.safeParse({
      name: channel.name,
      kind: channel.kind,
      config,
      secrets,
    });
    if (!check.success) throw validationOf(check.error);
    await this.store.channels.update(channel.id, {
      config: check.data.config as Record<string, unknown>,
      secrets: this.secrets.seal(check.data.secrets as Record<string, string>),
      enabled: parsed.data.enabled ?? channel.enabled,
      now: this.clock(),
    });
    return this.get(channel.id);
  }

  async remove(idOrName: string): Promise<void> {
    const channel = await this.get(idOrName);
    await this.store.channels.remove(channel.id);
  }

  /** The names of the secrets a channel has (never their values). */
  secretNames(channel: ChannelRecord): string[] {
    try {
      return Object.keys(this.secrets.open(channel.secrets)).sort();
    } catch {
      return [];
    }
  }

  // --- defaults and escalation ----------------------------------------------------------

  async setDefaults(agentId: string, notify: readonly string[]): Promise<void> {
    await this.store.channels.setDefaults(agentId, notify, this.clock());
  }

  async defaults(agentId: string): Promise<string[]> {
    return (await this.store.channels.defaults(agentId)) ?? [];
  }

  /** Who is asked about `action`: its rule's, else its policy's, else the agent's targets. */
  async escalationOf(action: ActionRecord): Promise<Escalation> {
    const own = await this.policyEscalation(action);
    return { ...own, notify: own.notify ?? (await this.defaults(action.agentId)) };
  }

  /**
   * Who `action`'s rule or policy asks; `notify` undefined when they name nobody (the agent's
   * defaults apply).
   */
  private async policyEscalation(
    action: ActionRecord,
  ): Promise<Omit<Escalation, 'notify'> & { notify: string[] | undefined }> {
    const named = action.policy?.policy;
    let definition: Record<string, any> | undefined;
    if (named) {
      const policies = this.policies
        ? await this.policies.currentRecords(action.agentId, action.environment)
        : await this.store.policies.list(action.agentId, action.environment);
      definition = policies.find(
        (policy) => (named.id && policy.id === named.id) || policy.name === named.name,
      )?.definition as Record<string, any> | undefined;
    }
    const ruleIndex = action.policy?.ruleIndex;
    const rule =
      definition && ruleIndex != null && ruleIndex >= 0 ? definition.rules?.[ruleIndex] : undefined;
    const pick = <T>(key: string): T | undefined => rule?.[key] ?? definition?.[key];
    return {
      notify: pick<string[]>('notify'),
      remindAfterSeconds: pick<number>('remind_after'),
      escalateAfterSeconds: pick<number>('escalate_after'),
      escalateTo: pick<string[]>('escalate_to') ?? [],
    };
  }

  /**
   * Writes the messages of a held call — notifications now, reminders and escalations when due
   * — in one transaction, once per action (whichever worker or replica comes first).
   */
  async register(action: ActionRecord): Promise<number> {
    if (action.status !== 'pending') return 0;
    const own = await this.policyEscalation(action);
    const escalates = !!own.escalateAfterSeconds && own.escalateTo.length > 0;
    let notify = own.notify;
    if (!escalates && (notify === undefined || notify.length === 0)) {
      // Perhaps nobody to tell (no targets, the agent has no defaults): the hold is only marked
      // handled, so that the crash sweep leaves it — one statement, atomic alone, with no
      // transaction and no read of the channels.
      if (this.store.database.dialect === 'sqlite') {
        // The embedded store reads the defaults at once and writes the mark with the checks'
        // next group commit (under load one commit for many; before, a commit of its own).
        notify ??= await this.defaults(action.agentId);
        if (notify.length === 0) {
          const now = this.clock();
          await this.store.committer.submit(
            this.store.channels.registerHoldStatement(action.id, now),
          );
          return 0;
        }
      } else {
        // PostgreSQL: the read of the defaults and the mark for every held call of this turn
        // in one statement (a round trip each, and a commit, before).
        const outcome = await this.holds.add({
          actionId: action.id,
          agentId: action.agentId,
          readDefaults: notify === undefined,
        });
        // Nobody to tell: marked now, or by another worker before.
        if (outcome.marked) return 0;
        notify = outcome.notify === null ? [] : (JSON.parse(outcome.notify) as string[]);
      }
    }
    const plan: Escalation = { ...own, notify: notify ?? (await this.defaults(action.agentId)) };
    const now = this.clock();
    const channels = await this.store.channels.list();
    const rows: Parameters<Store['channels']['enqueue']>[0][] = [];
    const add = (target: string, job: 'notify' | 'remind' | 'escalate', due: number) => {
      if (action.expiresAt !== null && due >= action.expiresAt) return;
      const resolved = this.resolve(target, channels);
      rows.push({
        id: uuidv7(now),
        dedupeKey: `${job}:${action.id}:${target}`,
        actionId: action.id,
        channelId: resolved.channel?.id ?? '',
        job,
        target: resolved.destination,
        nextAttemptAt: digestDue(resolved.channel, due, action.expiresAt),
        status: resolved.channel ? 'pending' : 'failed',
        lastError: resolved.problem ?? null,
        createdAt: now,
      });
    };
    for (const target of plan.notify) add(target, 'notify', now);
    if (plan.remindAfterSeconds) {
      for (const target of plan.notify) {
        add(target, 'remind', action.createdAt + plan.remindAfterSeconds * 1000);
      }
    }
    if (plan.escalateAfterSeconds) {
      for (const target of plan.escalateTo) {
        add(target, 'escalate', action.createdAt + plan.escalateAfterSeconds * 1000);
      }
    }
    return this.store.transaction(async (repositories) => {
      if (!(await repositories.channels.registerHold(action.id, now))) return 0;
      for (const row of rows) await repositories.channels.enqueue(row);
      return rows.length;
    });
  }

  private resolve(
    target: string,
    channels: ChannelRecord[],
  ): { channel?: ChannelRecord; destination: string; problem?: string } {
    const parsed = parseTarget(target);
    if (!parsed) return { destination: target, problem: `"${target}" is not a target` };
    const candidates = channels.filter(
      (channel) =>
        channel.kind === parsed.kind &&
        channel.enabled &&
        (parsed.channelName === undefined || channel.name === parsed.channelName),
    );
    if (candidates.length !== 1) {
      return {
        destination: parsed.destination,
        problem:
          candidates.length === 0
            ? `No enabled ${parsed.kind} channel${parsed.channelName ? ` named ${parsed.channelName}` : ''} for target ${target}; create one (arden channels create).`
            : `Several ${parsed.kind} channels; name one in the target (${parsed.kind}@NAME:${parsed.destination}).`,
      };
    }
    const channel = candidates[0] as ChannelRecord;
    if (parsed.destination !== 'default') return { channel, destination: parsed.destination };
    // `slack:default`, `email:default`: the channel's own default destination.
    const fallback = channel.config[channel.kind === 'slack' ? 'channel' : 'to'];
    return typeof fallback === 'string' && fallback
      ? { channel, destination: fallback }
      : channel.kind === 'webhook'
        ? { channel, destination: 'default' }
        : {
            destination: target,
            problem: `Channel ${channel.name} has no default ${channel.kind === 'slack' ? 'Slack channel (config.channel)' : 'recipient (config.to)'} for target ${target}.`,
          };
  }

  /**
   * After a decision: cancels the reminders still due, and queues the update of every message
   * with buttons (so Slack shows who decided).
   */
  async close(actionId: string): Promise<void> {
    const now = this.clock();
    await this.store.transaction(async (repositories) => {
      await repositories.channels.cancelPending(actionId);
      for (const message of await repositories.channels.messagesOf(actionId)) {
        if (message.ref === null || message.job === 'update') continue;
        if (!(await repositories.channels.close(message.id, now))) continue;
        await repositories.channels.enqueue({
          id: uuidv7(now),
          dedupeKey: `update:${message.id}`,
          actionId,
          channelId: message.channelId,
          job: 'update',
          target: message.ref,
          nextAttemptAt: now,
          createdAt: now,
        });
      }
    });
  }

  /**
   * After a vote that did not decide (two-person approvals): queues an update of every message
   * with buttons, so Slack shows "1 of 2 — approved by …" while the buttons stay for the next
   * approver. One update per message and vote count (a retried click queues none twice); the
   * worker also looks every round, for votes cast in the dashboard or the CLI.
   */
  async progress(action: ActionRecord): Promise<number> {
    const votes = approvalsSoFar(action).length;
    if (action.status !== 'pending' || votes === 0) return 0;
    // Votes count since the last edit: the key names both.
    const round = action.approval?.edits.length ?? 0;
    const missing: { message: ChannelMessageRecord; dedupeKey: string }[] = [];
    for (const message of await this.store.channels.messagesOf(action.id)) {
      if (message.ref === null || message.job === 'update' || message.closedAt !== null) continue;
      const dedupeKey = `vote:${message.id}:${round}:${votes}`;
      if (!(await this.store.channels.queued(dedupeKey))) missing.push({ message, dedupeKey });
    }
    if (missing.length === 0) return 0;
    const now = this.clock();
    return this.store.transaction(async (repositories) => {
      let queued = 0;
      for (const { message, dedupeKey } of missing) {
        const written = await repositories.channels.enqueue({
          id: uuidv7(now),
          dedupeKey,
          actionId: action.id,
          channelId: message.channelId,
          job: 'update',
          target: message.ref as string,
          nextAttemptAt: now,
          createdAt: now,
        });
        if (written) queued++;
      }
      return queued;
    });
  }

  /** Sends a message again now (from the action's page). */
  async resend(messageId: string): Promise<ChannelMessageRecord> {
    const message = await this.store.channels.message(messageId);
    if (!message) throw new NotFoundError(`No channel message ${messageId.slice(0, 100)}.`);
    if (!message.channelId) {
      throw new ConflictError(
        `Message ${messageId} has no channel (${message.lastError ?? 'its target matched none'}); create the channel, then the next held call uses it.`,
      );
    }
    await this.store.channels.resend(messageId, this.clock());
    return (await this.store.channels.message(messageId)) as ChannelMessageRecord;
  }

  // --- decisions from channels ----------------------------------------------------------

  /** The Arden user behind an email, if they may decide held calls. */
  async approverByEmail(email: string, who: string): Promise<UserRecord> {
    const user = await this.store.users.getByEmail(email);
    if (!user || user.disabledAt !== null || !roleAllows(user.role, 'approver')) {
      throw approverRoleError(who);
    }
    return user;
  }

  /** The single-use token of a message's decision link (derived: retries send the same one). */
  linkToken(message: ChannelMessageRecord): string {
    return createHmac('sha256', this.secrets.derive('decision-links'))
      .update(message.id)
      .digest('base64url');
  }

  /** Records the link of a message (once), bound to its action and recipient. */
  async ensureLink(message: ChannelMessageRecord, action: ActionRecord): Promise<string> {
    const token = this.linkToken(message);
    const tokenHash = hashSecret(token);
    if (!(await this.store.channels.link(tokenHash))) {
      await this.store.channels.insertLink({
        tokenHash,
        actionId: action.id,
        channelId: message.channelId,
        recipient: message.target,
        expiresAt: action.expiresAt ?? this.clock() + 3_600_000,
        usedAt: null,
        createdAt: this.clock(),
      });
    }
    return token;
  }

  /** A link's action, if the link is valid now (unused, not expired). */
  async openLink(token: string): Promise<{ action: ActionRecord; recipient: string }> {
    const link = await this.store.channels.link(hashSecret(token));
    if (!link) throw new NotFoundError('This link is not valid. Open the action in the dashboard.');
    if (link.usedAt !== null) throw new ConflictError('This link was used already; it works once.');
    if (link.expiresAt <= this.clock()) {
      throw new ConflictError('This link expired with the held call it was for.');
    }
    const action = await this.store.actions.get(link.actionId);
    if (!action) throw new NotFoundError('The held call of this link no longer exists.');
    return { action, recipient: link.recipient };
  }

  /** Decides through a link: its recipient must be an Arden approver; the link is used up. */
  async decideByLink(
    token: string,
    decision: 'approve' | 'deny',
    notes: string | null,
  ): Promise<ActionRecord> {
    const { recipient } = await this.openLink(token);
    const user = await this.approverByEmail(recipient, recipient);
    const tokenHash = hashSecret(token);
    if (!(await this.store.channels.useLink(tokenHash, this.clock()))) {
      throw new ConflictError('This link was used already, or expired; it works once.');
    }
    const link = (await this.store.channels.link(tokenHash)) as { actionId: string };
    return this.approvals.decide(link.actionId, { decision, userId: user.id, notes });
  }
}

function validationOf(error: { issues: { path: PropertyKey[]; message: string }[] }) {
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') || undefined;
  return new ValidationError(
    `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid channel'}`,
    field,
  );
}

export { kinds as channelKinds };
