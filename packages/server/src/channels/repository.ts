import { type OutboxAttemptRecord, outboxQueries } from '../outbox/repository';
import type { Queryable, Row, Statement } from '../store/database';
import { int, text } from '../store/rows';

// Notification channels: the channels, the agents' default targets, the outbox of channel
// messages (notify, remind, escalate, update) with its attempts, decision links, seen Slack
// signatures.

/** The kinds of channel. */
export type ChannelKind = 'slack' | 'email' | 'webhook';

/** A notification channel; `secrets` is the encrypted blob (see `secrets.ts`). */
export interface ChannelRecord {
  id: string;
  name: string;
  kind: ChannelKind;
  config: Record<string, unknown>;
  secrets: string;
  enabled: boolean;
  failingSince: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What a row of the channel outbox does. */
export type ChannelJob = 'notify' | 'remind' | 'escalate' | 'update';

/** The states of an outbox row; `cancelled` is a reminder whose action was decided first. */
export type ChannelMessageStatus = 'pending' | 'delivered' | 'failed' | 'cancelled';

/** One message of a channel about one action. */
export interface ChannelMessageRecord {
  id: string;
  dedupeKey: string;
  actionId: string;
  channelId: string;
  job: ChannelJob;
  /** Where it goes: a Slack channel, an email address, a URL. */
  target: string;
  status: ChannelMessageStatus;
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  lastStatus: number | null;
  lastError: string | null;
  /** What the channel answered that later messages need (a Slack message's `channel/ts`). */
  ref: string | null;
  /** When its follow-up (a Slack update after the decision) was queued. */
  closedAt: number | null;
  createdAt: number;
  deliveredAt: number | null;
}

/** One attempt to send a channel message. */
export type ChannelAttemptRecord = OutboxAttemptRecord;

/** A single-use decision link (its token is stored hashed). */
export interface ChannelLinkRecord {
  tokenHash: string;
  actionId: string;
  channelId: string;
  recipient: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

function toChannel(row: Row): ChannelRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    kind: row.kind as ChannelKind,
    config: JSON.parse(String(row.config)),
    secrets: String(row.secrets),
    enabled: Number(row.enabled) === 1,
    failingSince: int(row.failing_since),
    lastError: text(row.last_error),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toMessage(row: Row): ChannelMessageRecord {
  return {
    id: String(row.id),
    dedupeKey: String(row.dedupe_key),
    actionId: String(row.action_id),
    channelId: String(row.channel_id),
    job: row.job as ChannelJob,
    target: String(row.target),
    status: row.status as ChannelMessageStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    leaseOwner: text(row.lease_owner),
    leaseUntil: int(row.lease_until),
    lastStatus: int(row.last_status),
    lastError: text(row.last_error),
    ref: text(row.ref),
    closedAt: int(row.closed_at),
    createdAt: Number(row.created_at),
    deliveredAt: int(row.delivered_at),
  };
}

/** The channels' tables. */
export function channelRepository(db: Queryable) {
  const outbox = outboxQueries<ChannelMessageRecord, ChannelMessageStatus>(
    db,
    { outbox: 'channel_outbox', attempts: 'channel_attempts', kept: 'ref' },
    toMessage,
  );
  const ignore = (sql: string) =>
    db.dialect === 'postgres'
      ? `${sql} ON CONFLICT DO NOTHING`
      : sql.replace(/^INSERT INTO/, 'INSERT OR IGNORE INTO');
  const registerHold = async (actionId: string, now: number): Promise<boolean> => {
    const result = await db.run(
      ignore('INSERT INTO channel_holds (action_id, registered_at) VALUES (?, ?)'),
      [actionId, now],
    );
    return result.changes > 0;
  };
  return {
    // Lease, retry, take-over, attempts and purge: the durable outbox's (src/outbox/).
    ...outbox,
    /** Sends a message again now (whatever its status). */
    resend: outbox.makeDue,
    async insert(channel: ChannelRecord): Promise<void> {
      await db.run(
        `INSERT INTO channels (id, name, kind, config, secrets, enabled, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          channel.id,
          channel.name,
          channel.kind,
          JSON.stringify(channel.config),
          channel.secrets,
          channel.enabled ? 1 : 0,
          channel.createdAt,
          channel.updatedAt,
        ],
      );
    },
    async update(
      id: string,
      fields: { config: Record<string, unknown>; secrets: string; enabled: boolean; now: number },
    ): Promise<void> {
      await db.run(
        `UPDATE channels SET config = ?, secrets = ?, enabled = ?, updated_at = ?,
           failing_since = NULL, last_error = NULL WHERE id = ?`,
        [JSON.stringify(fields.config), fields.secrets, fields.enabled ? 1 : 0, fields.now, id],
      );
    },
    async remove(id: string): Promise<boolean> {
      const result = await db.run('DELETE FROM channels WHERE id = ?', [id]);
      return result.changes > 0;
    },
    async get(id: string): Promise<ChannelRecord | undefined> {
      const row = await db.get('SELECT * FROM channels WHERE id = ? OR name = ?', [id, id]);
      return row ? toChannel(row) : undefined;
    },
    async list(): Promise<ChannelRecord[]> {
      return (await db.all('SELECT * FROM channels ORDER BY name')).map(toChannel);
    },
    /** A send failed (`error`) or succeeded (null): the channel's health. */
    async health(id: string, error: string | null, now: number): Promise<void> {
      if (error === null) {
        await db.run('UPDATE channels SET failing_since = NULL, last_error = NULL WHERE id = ?', [
          id,
        ]);
      } else {
        await db.run(
          `UPDATE channels SET failing_since = COALESCE(failing_since, ?), last_error = ?
           WHERE id = ?`,
          [now, error.slice(0, 1_000), id],
        );
      }
    },

    async defaults(agentId: string): Promise<string[] | undefined> {
      const row = await db.get('SELECT notify FROM channel_defaults WHERE agent_id = ?', [agentId]);
      return row ? (JSON.parse(String(row.notify)) as string[]) : undefined;
    },
    async setDefaults(agentId: string, notify: readonly string[], now: number): Promise<void> {
      await db.run('DELETE FROM channel_defaults WHERE agent_id = ?', [agentId]);
      await db.run('INSERT INTO channel_defaults (agent_id, notify, updated_at) VALUES (?, ?, ?)', [
        agentId,
        JSON.stringify(notify),
        now,
      ]);
    },

    /**
     * `registerHold` as a statement, for the group committer (a held call with nobody to tell
     * is marked in the next commit of checks instead of a commit of its own).
     */
    registerHoldStatement(actionId: string, now: number): Statement {
      return {
        sql: ignore('INSERT INTO channel_holds (action_id, registered_at) VALUES (?, ?)'),
        params: [actionId, now],
      };
    },
    /** Marks a held action as handled; false when it already was (by this or another replica). */
    registerHold,
    /**
     * Held actions of which nobody may need telling, at once: for each, the agent's default
     * targets as stored (JSON text) when `readDefaults` (its policy names none), and — when
     * there is nobody to tell (no defaults read, none set, or `[]`) — the hold marked handled:
     * `marked`, and `registered` unless it already was (by another worker or replica). When
     * not `marked`, the caller reads `notify` and writes the messages and the mark in one
     * transaction (`registerHold`). On PostgreSQL one statement for all of them (the read of
     * the defaults and the INSERT in one round trip), instead of two per held call.
     */
    async registerHolds(
      holds: readonly { actionId: string; agentId: string; readDefaults: boolean }[],
      now: number,
    ): Promise<{ notify: string | null; marked: boolean; registered: boolean }[]> {
      if (holds.length === 0) return [];
      if (db.dialect !== 'postgres') {
        const outcomes: { notify: string | null; marked: boolean; registered: boolean }[] = [];
        for (const hold of holds) {
          const notify = hold.readDefaults
            ? ((
                await db.get<{ notify: string }>(
                  'SELECT notify FROM channel_defaults WHERE agent_id = ?',
                  [hold.agentId],
                )
              )?.notify ?? null)
            : null;
          const marked = notify === null || notify === '[]';
          const registered = marked && (await registerHold(hold.actionId, now));
          outcomes.push({ notify, marked, registered });
        }
        return outcomes;
      }
      // The same action twice in one statement (the crash sweep and its event at once): one
      // row; each gets its outcome.
      const positions = new Map<string, number>();
      const unique: (typeof holds)[number][] = [];
      for (const hold of holds) {
        if (positions.has(hold.actionId)) continue;
        positions.set(hold.actionId, unique.length);
        unique.push(hold);
      }
      // The marks are committed without waiting for the WAL's flush (`synchronous_commit` off
      // for this statement's own transaction only: `set_config(…, true)`; callers never run it
      // inside a transaction of theirs): a mark only tells the crash sweep that the hold was
      // handled, and one lost with a crash of PostgreSQL is written again by the channel
      // worker's next round (`unregisteredHolds`), as for a crash of the server. Measured on
      // the 2-core machine: 188–225 µs of the backend's CPU per batch with the flush, 38 without.
      const rows = await db.all<{ notify: string | null; marked: boolean; registered: boolean }>(
        `WITH s AS (SELECT set_config('synchronous_commit', 'off', true) AS setting), d AS (
           SELECT q.i, q.action_id, CASE WHEN q.read_defaults THEN c.notify END AS notify
           FROM json_to_recordset(?::json) AS q(i int, action_id text, agent_id text,
             read_defaults boolean)
           LEFT JOIN channel_defaults c ON c.agent_id = q.agent_id
         ), h AS (
           INSERT INTO channel_holds (action_id, registered_at)
           SELECT action_id, ?::bigint FROM d WHERE notify IS NULL OR notify = '[]'
           ON CONFLICT DO NOTHING RETURNING action_id
         )
         SELECT d.notify, (d.notify IS NULL OR d.notify = '[]') AS marked,
           h.action_id IS NOT NULL AS registered
         FROM d CROSS JOIN s LEFT JOIN h ON h.action_id = d.action_id ORDER BY d.i`,
        [
          JSON.stringify(
            unique.map((hold, i) => ({
              i,
              action_id: hold.actionId,
              agent_id: hold.agentId,
              read_defaults: hold.readDefaults,
            })),
          ),
          now,
        ],
      );
      return holds.map((hold) => {
        const row = rows[positions.get(hold.actionId) as number];
        return {
          notify: row?.notify ?? null,
          marked: row?.marked === true,
          registered: row?.registered === true,
        };
      });
    },
    /** Pending held actions that no worker has registered yet (after a crash). */
    async unregisteredHolds(limit: number): Promise<string[]> {
      const rows = await db.all<{ id: string }>(
        `SELECT a.id FROM actions a WHERE a.status = 'pending' AND a.decision <> 'allow'
           AND NOT EXISTS (SELECT 1 FROM channel_holds h WHERE h.action_id = a.id)
         ORDER BY a.expires_at LIMIT ?`,
        [limit],
      );
      return rows.map((row) => row.id);
    },
    /** Delivered Slack messages whose action was decided but whose update is not queued yet. */
    async unclosed(limit: number): Promise<ChannelMessageRecord[]> {
      const rows = await db.all(
        `SELECT o.* FROM channel_outbox o JOIN actions a ON a.id = o.action_id
         WHERE o.ref IS NOT NULL AND o.closed_at IS NULL AND o.job <> 'update'
           AND a.status <> 'pending'
         LIMIT ?`,
        [limit],
      );
      return rows.map(toMessage);
    },

    /**
     * Open messages (buttons, not yet closed) of held calls that have votes: a vote counted
     * without deciding (two-person approvals) shows in them.
     */
    async voted(limit: number): Promise<ChannelMessageRecord[]> {
      const rows = await db.all(
        `SELECT o.* FROM channel_outbox o JOIN actions a ON a.id = o.action_id
         WHERE o.ref IS NOT NULL AND o.closed_at IS NULL AND o.job <> 'update'
           AND a.status = 'pending' AND a.approval IS NOT NULL
         LIMIT ?`,
        [limit],
      );
      return rows.map(toMessage);
    },
    /** Whether a message with this dedupe key was queued. */
    async queued(dedupeKey: string): Promise<boolean> {
      return (
        (await db.get('SELECT 1 AS found FROM channel_outbox WHERE dedupe_key = ?', [
          dedupeKey,
        ])) !== undefined
      );
    },
    /** Queues a message unless one with its dedupe key exists; true when written. */
    async enqueue(
      message: Pick<
        ChannelMessageRecord,
        'id' | 'dedupeKey' | 'actionId' | 'channelId' | 'job' | 'target' | 'nextAttemptAt'
      > & { status?: ChannelMessageStatus; lastError?: string | null; createdAt: number },
    ): Promise<boolean> {
      const result = await db.run(
        ignore(
          `INSERT INTO channel_outbox (id, dedupe_key, action_id, channel_id, job, target, status,
             attempts, next_attempt_at, last_error, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
        ),
        [
          message.id,
          message.dedupeKey,
          message.actionId,
          message.channelId,
          message.job,
          message.target,
          message.status ?? 'pending',
          message.nextAttemptAt,
          message.lastError ?? null,
          message.createdAt,
        ],
      );
      return result.changes > 0;
    },
    async close(id: string, now: number): Promise<boolean> {
      const result = await db.run(
        'UPDATE channel_outbox SET closed_at = ? WHERE id = ? AND closed_at IS NULL',
        [now, id],
      );
      return result.changes > 0;
    },
    /** Cancels the reminders and escalations still due of a decided action. */
    async cancelPending(actionId: string): Promise<number> {
      const result = await db.run(
        `UPDATE channel_outbox SET status = 'cancelled', lease_owner = NULL, lease_until = NULL
         WHERE action_id = ? AND status = 'pending' AND job IN ('remind', 'escalate')`,
        [actionId],
      );
      return result.changes;
    },
    async message(id: string): Promise<ChannelMessageRecord | undefined> {
      const row = await db.get('SELECT * FROM channel_outbox WHERE id = ?', [id]);
      return row ? toMessage(row) : undefined;
    },
    /** An action's channel messages, oldest first: its timeline of notifications. */
    async messagesOf(actionId: string): Promise<ChannelMessageRecord[]> {
      const rows = await db.all(
        'SELECT * FROM channel_outbox WHERE action_id = ? ORDER BY created_at, id',
        [actionId],
      );
      return rows.map(toMessage);
    },
    async insertLink(link: ChannelLinkRecord): Promise<void> {
      await db.run(
        `INSERT INTO channel_links (token_hash, action_id, channel_id, recipient, expires_at,
           created_at) VALUES (?, ?, ?, ?, ?, ?)`,
        [
          link.tokenHash,
          link.actionId,
          link.channelId,
          link.recipient,
          link.expiresAt,
          link.createdAt,
        ],
      );
    },
    async link(tokenHash: string): Promise<ChannelLinkRecord | undefined> {
      const row = await db.get('SELECT * FROM channel_links WHERE token_hash = ?', [tokenHash]);
      if (!row) return undefined;
      return {
        tokenHash: String(row.token_hash),
        actionId: String(row.action_id),
        channelId: String(row.channel_id),
        recipient: String(row.recipient),
        expiresAt: Number(row.expires_at),
        usedAt: int(row.used_at),
        createdAt: Number(row.created_at),
      };
    },
    /** Uses a link once: true for the first use before it expires, false after. */
    async useLink(tokenHash: string, now: number): Promise<boolean> {
      const result = await db.run(
        `UPDATE channel_links SET used_at = ?
         WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`,
        [now, tokenHash, now],
      );
      return result.changes > 0;
    },

    /** Retention: deletes up to `limit` decision links that expired before `cutoff`. */
    async purgeLinks(cutoff: number, limit: number): Promise<number> {
      const result = await db.run(
        `DELETE FROM channel_links WHERE token_hash IN (
           SELECT token_hash FROM channel_links WHERE expires_at < ? LIMIT ?)`,
        [cutoff, limit],
      );
      return result.changes;
    },
    /**
     * Retention: deletes up to `limit` hold marks registered before `cutoff` whose call is no
     * longer pending (a pending call keeps its mark, or it would be notified again).
     */
    async purgeHolds(cutoff: number, limit: number): Promise<number> {
      const result = await db.run(
        `DELETE FROM channel_holds WHERE action_id IN (
           SELECT h.action_id FROM channel_holds h WHERE h.registered_at < ?
             AND NOT EXISTS (
               SELECT 1 FROM actions a WHERE a.id = h.action_id AND a.status = 'pending')
           LIMIT ?)`,
        [cutoff, limit],
      );
      return result.changes;
    },
    /** Records a request signature; false when it was seen before (a replay). */
    async firstSighting(signature: string, now: number): Promise<boolean> {
      const result = await db.run(
        ignore('INSERT INTO channel_replays (signature, seen_at) VALUES (?, ?)'),
        [signature, now],
      );
      return result.changes > 0;
    },
    async forgetSightings(before: number): Promise<void> {
      await db.run('DELETE FROM channel_replays WHERE seen_at < ?', [before]);
    },
  };
}

/** The repository of `channelRepository()`. */
export type ChannelRepository = ReturnType<typeof channelRepository>;
