import type { Dialect } from '../store/database';

// Migration 9: receipt signing keys, the signed receipts of every decision, and the audit
// chain over them (heads with their retention anchors, signed checkpoints).
export function receiptsSchema(dialect: Dialect): string[] {
  const time = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const sequence =
    dialect === 'sqlite'
      ? 'INTEGER PRIMARY KEY'
      : 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY';
  return [
    `CREATE TABLE receipt_keys (
  kid TEXT PRIMARY KEY,
  public_key TEXT NOT NULL,
  private_key TEXT NOT NULL,
  created_at ${time} NOT NULL,
  retired_at ${time}
)`,
    `CREATE TABLE receipts (
  seq ${sequence},
  id TEXT NOT NULL,
  action_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  environment TEXT NOT NULL,
  decision TEXT NOT NULL,
  receipt TEXT NOT NULL,
  created_at ${time} NOT NULL,
  chain_position ${time},
  chain_hash TEXT
)`,
    'CREATE INDEX receipts_action ON receipts (action_id)',
    'CREATE INDEX receipts_unsealed ON receipts (seq) WHERE chain_hash IS NULL',
    // Few indexes, so that a check's extra INSERT stays cheap: the receipt id (a UUIDv7) needs no
    // unique index, and the chain index holds sealed rows only.
    'CREATE INDEX receipts_chain ON receipts (agent_id, environment, chain_position) WHERE chain_position IS NOT NULL',
    `CREATE TABLE audit_heads (
  agent_id TEXT NOT NULL,
  environment TEXT NOT NULL,
  position ${time} NOT NULL,
  hash TEXT NOT NULL,
  anchor_position ${time} NOT NULL,
  anchor_hash TEXT NOT NULL,
  anchored_at ${time},
  checkpoint_at ${time},
  PRIMARY KEY (agent_id, environment)
)`,
    `CREATE TABLE audit_checkpoints (
  seq ${sequence},
  agent_id TEXT NOT NULL,
  environment TEXT NOT NULL,
  position ${time} NOT NULL,
  hash TEXT NOT NULL,
  checkpoint TEXT NOT NULL,
  created_at ${time} NOT NULL
)`,
    'CREATE INDEX audit_checkpoints_chain ON audit_checkpoints (agent_id, environment, position)',
  ];
}
