import type { Queryable, Statement } from '../store/database';

/** The sealed verbatim arguments of one action with sensitive paths. */
export interface SensitiveArgumentsRecord {
  actionId: string;
  /** The sensitive paths found in the call (`card.number`). */
  paths: string[];
  /** `SecretBox.seal({args_json, kwargs_json})`. */
  sealed: string;
  createdAt: number;
}

/** One full read of an action's sensitive arguments by an admin. */
export interface SensitiveReadRecord {
  id: string;
  actionId: string;
  userId: string | null;
  userEmail: string | null;
  reason: string | null;
  readAt: number;
}

/** Sealed sensitive arguments and the log of who read them. */
export function sensitiveRepository(db: Queryable) {
  return {
    /** The INSERT of an action's sealed arguments, committed with the action. */
    insertStatement(record: SensitiveArgumentsRecord): Statement {
      return {
        sql: 'INSERT INTO sensitive_arguments (action_id, paths, sealed, created_at) VALUES (?, ?, ?, ?)',
        params: [record.actionId, JSON.stringify(record.paths), record.sealed, record.createdAt],
      };
    },

    async get(actionId: string): Promise<SensitiveArgumentsRecord | undefined> {
      const row = await db.get<{
        action_id: string;
        paths: string;
        sealed: string;
        created_at: number | string;
      }>('SELECT * FROM sensitive_arguments WHERE action_id = ?', [actionId]);
      return row
        ? {
            actionId: row.action_id,
            paths: JSON.parse(row.paths) as string[],
            sealed: row.sealed,
            createdAt: Number(row.created_at),
          }
        : undefined;
    },

    async recordRead(read: SensitiveReadRecord): Promise<void> {
      await db.run(
        'INSERT INTO sensitive_reads (id, action_id, user_id, user_email, reason, read_at) VALUES (?, ?, ?, ?, ?, ?)',
        [read.id, read.actionId, read.userId, read.userEmail, read.reason, read.readAt],
      );
    },

    /** Who read an action's sensitive arguments, oldest first. */
    async reads(actionId: string): Promise<SensitiveReadRecord[]> {
      const rows = await db.all<{
        id: string;
        action_id: string;
        user_id: string | null;
        user_email: string | null;
        reason: string | null;
        read_at: number | string;
      }>('SELECT * FROM sensitive_reads WHERE action_id = ? ORDER BY read_at, id', [actionId]);
      return rows.map((row) => ({
        id: row.id,
        actionId: row.action_id,
        userId: row.user_id,
        userEmail: row.user_email,
        reason: row.reason,
        readAt: Number(row.read_at),
      }));
    },
  };
}
