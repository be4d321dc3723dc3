import type { Queryable, Row, SqlValue } from '../store/database';
import type { DeliveryAttemptRecord, DeliveryRecord, DeliveryStatus, Page } from '../store/records';
import { clampLimit, int, text } from '../store/rows';

// The webhook outbox: deliveries and their attempts.

function toDelivery(row: Row): DeliveryRecord {
  return {
    id: String(row.id),
    eventId: String(row.event_id),
    agentId: String(row.agent_id),
    actionId: text(row.action_id),
    eventType: String(row.event_type),
    url: String(row.url),
    payload: String(row.payload),
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    leaseOwner: text(row.lease_owner),
    leaseUntil: int(row.lease_until),
    lastStatus: int(row.last_status),
    lastError: text(row.last_error),
    createdAt: Number(row.created_at),
    deliveredAt: int(row.delivered_at),
  };
}

function toAttempt(row: Row): DeliveryAttemptRecord {
  return {
    id: String(row.id),
    outboxId: String(row.outbox_id),
    attempt: Number(row.attempt),
    statusCode: int(row.status_code),
    error: text(row.error),
    durationMs: Number(row.duration_ms),
    at: Number(row.at),
  };
}

/** Filters of delivery listings. */
export interface DeliveryFilter {
  agentId?: string;
  actionId?: string;
  status?: DeliveryStatus;
}

/** The durable webhook outbox and its attempt log. */
export function webhookRepository(db: Queryable) {
  return {
    async enqueue(
      delivery: Omit<
        DeliveryRecord,
        'leaseOwner' | 'leaseUntil' | 'lastStatus' | 'lastError' | 'deliveredAt'
      > & { lastError?: string | null },
    ): Promise<void> {
      await db.run(
        `INSERT INTO webhook_outbox (id, event_id, agent_id, action_id, event_type, url, payload,
           status, attempts, next_attempt_at, created_at, last_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          delivery.id,
          delivery.eventId,
          delivery.agentId,
          delivery.actionId,
          delivery.eventType,
          delivery.url,
          delivery.payload,
          delivery.status,
          delivery.attempts,
          delivery.nextAttemptAt,
          delivery.createdAt,
          delivery.lastError ?? null,
        ],
      );
    },
    /**
     * Leases up to `limit` due deliveries to `owner` until `now + leaseMs`. A lease that ran out
     * (its worker died) can be claimed again; on PostgreSQL, `SKIP LOCKED` keeps concurrent
     * replicas from claiming the same rows.
     */
    async claimDue(
      owner: string,
      now: number,
      leaseMs: number,
      limit: number,
    ): Promise<DeliveryRecord[]> {
      const skipLocked = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const rows = await db.all(
        `UPDATE webhook_outbox SET lease_owner = ?, lease_until = ?
         WHERE id IN (
           SELECT id FROM webhook_outbox
           WHERE status = 'pending' AND next_attempt_at <= ?
             AND (lease_until IS NULL OR lease_until <= ?)
           ORDER BY next_attempt_at LIMIT ? ${skipLocked})
         RETURNING *`,
        [owner, now + leaseMs, now, now, limit],
      );
      return rows.map(toDelivery);
    },
    /** Records an attempt's outcome and releases the lease (only if `owner` still holds it). */
    async settle(
      id: string,
      owner: string,
      outcome: {
        status: DeliveryStatus;
        attempts: number;
        nextAttemptAt: number;
        lastStatus: number | null;
        lastError: string | null;
        deliveredAt: number | null;
        /** The URL the attempt went to (the agent's URL when it was sent). */
        url?: string;
      },
    ): Promise<boolean> {
      const result = await db.run(
        `UPDATE webhook_outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?,
           last_error = ?, delivered_at = ?, url = COALESCE(?, url), lease_owner = NULL,
           lease_until = NULL
         WHERE id = ? AND lease_owner = ?`,
        [
          outcome.status,
          outcome.attempts,
          outcome.nextAttemptAt,
          outcome.lastStatus,
          outcome.lastError,
          outcome.deliveredAt,
          outcome.url ?? null,
          id,
          owner,
        ],
      );
      return result.changes > 0;
    },
    async recordAttempt(attempt: DeliveryAttemptRecord): Promise<void> {
      await db.run(
        `INSERT INTO webhook_attempts (id, outbox_id, attempt, status_code, error, duration_ms, at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [
          attempt.id,
          attempt.outboxId,
          attempt.attempt,
          attempt.statusCode,
          attempt.error,
          attempt.durationMs,
          attempt.at,
        ],
      );
    },
    async get(id: string): Promise<DeliveryRecord | undefined> {
      const row = await db.get('SELECT * FROM webhook_outbox WHERE id = ?', [id]);
      return row ? toDelivery(row) : undefined;
    },
    /** Newest first; the cursor is opaque. */
    async list(
      filter: DeliveryFilter = {},
      options: { cursor?: string; limit?: number } = {},
    ): Promise<Page<DeliveryRecord>> {
      const limit = clampLimit(options.limit);
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (filter.agentId) {
        where.push('agent_id = ?');
        params.push(filter.agentId);
      }
      if (filter.actionId) {
        where.push('action_id = ?');
        params.push(filter.actionId);
      }
      if (filter.status) {
        where.push('status = ?');
        params.push(filter.status);
      }
      const before = options.cursor ? Buffer.from(options.cursor, 'base64url').toString() : '';
      if (before) {
        where.push('id < ?');
        params.push(before);
      }
      const rows = await db.all(
        `SELECT * FROM webhook_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY id DESC LIMIT ?`,
        [...params, limit + 1],
      );
      const items = rows.slice(0, limit).map(toDelivery);
      const last = items[items.length - 1];
      return {
        items,
        nextCursor:
          rows.length > limit && last ? Buffer.from(last.id).toString('base64url') : undefined,
      };
    },
    async attempt(id: string): Promise<DeliveryAttemptRecord | undefined> {
      const row = await db.get('SELECT * FROM webhook_attempts WHERE id = ?', [id]);
      return row ? toAttempt(row) : undefined;
    },
    async attempts(outboxId: string): Promise<DeliveryAttemptRecord[]> {
      const rows = await db.all(
        'SELECT * FROM webhook_attempts WHERE outbox_id = ? ORDER BY attempt, at',
        [outboxId],
      );
      return rows.map(toAttempt);
    },
    /** Makes a delivery due now again (whatever its status), keeping its event id. */
    async redeliver(id: string, now: number): Promise<boolean> {
      const result = await db.run(
        `UPDATE webhook_outbox SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,
           lease_until = NULL WHERE id = ?`,
        [now, id],
      );
      return result.changes > 0;
    },
    /**
     * Deletes up to `limit` settled (delivered or failed) deliveries created before `cutoff`,
     * with their attempts. Run it in a transaction.
     */
    async purgeSettled(
      cutoff: number,
      limit: number,
    ): Promise<{ deliveries: number; attempts: number }> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const rows = await db.all<{ id: string }>(
        `SELECT id FROM webhook_outbox WHERE created_at < ? AND status <> 'pending'
         ORDER BY created_at LIMIT ? ${lock}`,
        [cutoff, limit],
      );
      if (rows.length === 0) return { deliveries: 0, attempts: 0 };
      const ids = rows.map((row) => row.id);
      const list = ids.map(() => '?').join(', ');
      const attempts = await db.run(
        `DELETE FROM webhook_attempts WHERE outbox_id IN (${list})`,
        ids,
      );
      const deliveries = await db.run(`DELETE FROM webhook_outbox WHERE id IN (${list})`, ids);
      return { deliveries: deliveries.changes, attempts: attempts.changes };
    },
    /** Counts by status (for health pages). */
    async countByStatus(): Promise<Record<DeliveryStatus, number>> {
      const rows = await db.all<{ status: DeliveryStatus; count: number }>(
        'SELECT status, COUNT(*) AS count FROM webhook_outbox GROUP BY status',
      );
      const counts: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, failed: 0 };
      for (const row of rows) counts[row.status] = Number(row.count);
      return counts;
    },
  };
}
