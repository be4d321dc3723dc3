import type { Dialect } from '../store/database';

// Migration 9 (approvals): the approval state of a held action (votes, edits, in-app decision)
// as one JSON column of `actions`, and the groups users belong to (for `from: [group]`).

/** The statements of migration 9 for one dialect. */
export function approvalsMigration(dialect: Dialect): string[] {
  if (dialect === 'postgres') {
    return [
      // Nullable without a default: instant on PostgreSQL, whatever the table's size.
      'ALTER TABLE actions ADD COLUMN IF NOT EXISTS approval TEXT',
      `CREATE TABLE IF NOT EXISTS user_groups (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        group_name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (user_id, group_name)
      )`,
    ];
  }
  return [
    'ALTER TABLE actions ADD COLUMN approval TEXT',
    `CREATE TABLE IF NOT EXISTS user_groups (
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      group_name TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (user_id, group_name)
    )`,
  ];
}
