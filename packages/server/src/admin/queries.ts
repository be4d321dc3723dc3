import type { AdminTokenRecord, Queryable, Row } from '../store';

// Reads the admin API needs that the shared repositories do not offer (yet). Written against
// the same `Queryable` interface, so they serve SQLite and PostgreSQL alike.

function toAdminToken(row: Row): AdminTokenRecord {
  const time = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return {
    id: String(row.id),
    userId: String(row.user_id),
    name: String(row.name),
    prefix: String(row.prefix),
    createdAt: Number(row.created_at),
    expiresAt: time(row.expires_at),
    revokedAt: time(row.revoked_at),
    lastUsedAt: time(row.last_used_at),
  };
}

/** Admin API reads on a database or transaction. */
export function adminQueries(db: Queryable) {
  return {
    /** One admin token by id (revoked or not). */
    async adminToken(id: string): Promise<AdminTokenRecord | undefined> {
      const row = await db.get('SELECT * FROM admin_tokens WHERE id = ?', [id]);
      return row ? toAdminToken(row) : undefined;
    },
    /** Emails of users by id (for "decided by" and "saved by" columns). */
    async userEmails(ids: readonly string[]): Promise<Map<string, string>> {
      const unique = [...new Set(ids)].slice(0, 500);
      const emails = new Map<string, string>();
      if (unique.length === 0) return emails;
      const rows = await db.all<{ id: string; email: string }>(
        `SELECT id, email FROM users WHERE id IN (${unique.map(() => '?').join(', ')})`,
        unique,
      );
      for (const row of rows) emails.set(String(row.id), String(row.email));
      return emails;
    },
  };
}

/** The queries of `adminQueries()`. */
export type AdminQueries = ReturnType<typeof adminQueries>;
