import type { Dialect } from '../store/database';

// Migration 12 (sensitive arguments): the verbatim arguments of calls whose policy marks paths
// sensitive (`redact`), sealed with the server's secrets key, one row per action (deleted with
// it); and the log of every time an admin read them in full.
export function sensitiveSchema(dialect: Dialect): string[] {
  const time = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  return [
    `CREATE TABLE sensitive_arguments (
  action_id TEXT PRIMARY KEY REFERENCES actions (id) ON DELETE CASCADE,
  paths TEXT NOT NULL,
  sealed TEXT NOT NULL,
  created_at ${time} NOT NULL
)`,
    `CREATE TABLE sensitive_reads (
  id TEXT PRIMARY KEY,
  action_id TEXT NOT NULL,
  user_id TEXT,
  user_email TEXT,
  reason TEXT,
  read_at ${time} NOT NULL
)`,
    'CREATE INDEX sensitive_reads_action ON sensitive_reads (action_id, read_at)',
  ];
}
