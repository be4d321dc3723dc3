import type { Queryable, Row, SqlValue } from '../store/database';
import { int, text } from '../store/rows';

// The durable outbox, once: the webhook outbox (src/webhooks/) and the channel outbox
// (src/channels/) are two tables of the same shape — rows leased by a worker, settled with the
// outcome of an attempt, retried on a schedule, taken over when a lease runs out, made due again
// by hand, purged when settled and old — each with an attempt log. Their repositories spread
// `outboxQueries()` over their own table and add what is theirs.

/** One attempt to send an outbox row (`webhook_attempts`, `channel_attempts`). */
export interface OutboxAttemptRecord {
  id: string;
  outboxId: string;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: number;
}

/** The outcome of an attempt, written by `settle()`. */
export interface OutboxOutcome<Status extends string> {
  status: Status;
  attempts: number;
  nextAttemptAt: number;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
}

/** An outbox's tables and the column an attempt may update besides the outcome. */
export interface OutboxTables {
  /** The outbox table: id, status, attempts, next_attempt_at, lease_owner, lease_until, ... */
  outbox: 'webhook_outbox' | 'channel_outbox';
  /** Its attempt log: id, outbox_id, attempt, status_code, error, duration_ms, at. */
  attempts: 'webhook_attempts' | 'channel_attempts';
  /** A column `settle()` sets when given a value and keeps otherwise (`url`, `ref`). */
  kept: 'url' | 'ref';
}

function toAttempt(row: Row): OutboxAttemptRecord {
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

/** The lease, retry and take-over queries of an outbox, on SQLite and PostgreSQL. */
export function outboxQueries<Record, Status extends string>(
  db: Queryable,
  tables: OutboxTables,
  toRecord: (row: Row) => Record,
) {
  const { outbox, attempts: attemptTable, kept } = tables;
  // PostgreSQL: concurrent replicas skip the rows another one is claiming or purging.
  const skipLocked = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
  return {
    /**
     * Leases up to `limit` due rows to `owner` until `now + leaseMs`. A lease that ran out (its
     * worker died mid-send) can be claimed again: that is the take-over.
     */
    async claimDue(owner: string, now: number, leaseMs: number, limit: number): Promise<Record[]> {
      const rows = await db.all(
        `UPDATE ${outbox} SET lease_owner = ?, lease_until = ?
         WHERE id IN (
           SELECT id FROM ${outbox}
           WHERE status = 'pending' AND next_attempt_at <= ?
             AND (lease_until IS NULL OR lease_until <= ?)
           ORDER BY next_attempt_at LIMIT ? ${skipLocked})
         RETURNING *`,
        [owner, now + leaseMs, now, now, limit],
      );
      return rows.map(toRecord);
    },
    /** The next time a pending row is due, if any. */
    async nextDue(): Promise<number | undefined> {
      const row = await db.get<{ due: number | null }>(
        `SELECT MIN(next_attempt_at) AS due FROM ${outbox} WHERE status = 'pending'`,
      );
      return row?.due == null ? undefined : Number(row.due);
    },
    /**
     * Records an attempt's outcome and releases the lease — only if `owner` still holds it
     * (false when it ran out and another worker took the row over).
     */
    async settle(
      id: string,
      owner: string,
      outcome: OutboxOutcome<Status> & { [column in OutboxTables['kept']]?: string | null },
    ): Promise<boolean> {
      const result = await db.run(
        `UPDATE ${outbox} SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?,
           last_error = ?, delivered_at = ?, ${kept} = COALESCE(?, ${kept}), lease_owner = NULL,
           lease_until = NULL
         WHERE id = ? AND lease_owner = ?`,
        [
          outcome.status,
          outcome.attempts,
          outcome.nextAttemptAt,
          outcome.lastStatus,
          outcome.lastError,
          outcome.deliveredAt,
          outcome[kept] ?? null,
          id,
          owner,
        ],
      );
      return result.changes > 0;
    },
    /** Makes a row due now again (whatever its status), lease released. */
    async makeDue(id: string, now: number): Promise<boolean> {
      const result = await db.run(
        `UPDATE ${outbox} SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,
           lease_until = NULL WHERE id = ?`,
        [now, id],
      );
      return result.changes > 0;
    },
    async recordAttempt(attempt: OutboxAttemptRecord): Promise<void> {
      await db.run(
        `INSERT INTO ${attemptTable} (id, outbox_id, attempt, status_code, error, duration_ms, at)
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
    async attempt(id: string): Promise<OutboxAttemptRecord | undefined> {
      const row = await db.get(`SELECT * FROM ${attemptTable} WHERE id = ?`, [id]);
      return row ? toAttempt(row) : undefined;
    },
    async attempts(outboxId: string): Promise<OutboxAttemptRecord[]> {
      const rows = await db.all(
        `SELECT * FROM ${attemptTable} WHERE outbox_id = ? ORDER BY attempt, at`,
        [outboxId],
      );
      return rows.map(toAttempt);
    },
    /**
     * Deletes up to `limit` settled (not pending) rows created before `cutoff`, with their
     * attempts. Run it in a transaction.
     */
    async purgeSettled(cutoff: number, limit: number): Promise<{ rows: number; attempts: number }> {
      const rows = await db.all<{ id: string }>(
        `SELECT id FROM ${outbox} WHERE created_at < ? AND status <> 'pending'
         ORDER BY created_at LIMIT ? ${skipLocked}`,
        [cutoff, limit],
      );
      if (rows.length === 0) return { rows: 0, attempts: 0 };
      const ids: SqlValue[] = rows.map((row) => row.id);
      const list = ids.map(() => '?').join(', ');
      const attempts = await db.run(
        `DELETE FROM ${attemptTable} WHERE outbox_id IN (${list})`,
        ids,
      );
      const deleted = await db.run(`DELETE FROM ${outbox} WHERE id IN (${list})`, ids);
      return { rows: deleted.changes, attempts: attempts.changes };
    },
  };
}
