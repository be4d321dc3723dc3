import { outboxQueries } from '../outbox/repository';
import type { Queryable, Row, SqlValue } from '../store/database';
import type { DeliveryRecord, DeliveryStatus, Page } from '../store/records';
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

/** Filters of delivery listings. */
export interface DeliveryFilter {
  agentId?: string;
  actionId?: string;
  status?: DeliveryStatus;
}

/** The durable webhook outbox and its attempt log. */
export function webhookRepository(db: Queryable) {
  const outbox = outboxQueries<DeliveryRecord, DeliveryStatus>(
    db,
    { outbox: 'webhook_outbox', attempts: 'webhook_attempts', kept: 'url' },
    toDelivery,
  );
  return {
    ...outbox,
    /** Makes a delivery due now again (whatever its status), keeping its event id. */
    redeliver: outbox.makeDue,
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
