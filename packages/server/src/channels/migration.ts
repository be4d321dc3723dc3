import type { Dialect } from '../store/database';

// Migration 10: notification channels (Slack, email, approver webhooks), their outbox of
// messages, reminders and escalations (claimed with a lease, like the webhook outbox), attempts,
// the agents' default targets, single-use email/webhook decision links, and the signatures of
// Slack requests already seen (replays are refused).
export function channelsSchema(dialect: Dialect): string[] {
  const time = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  return [
    `CREATE TABLE channels (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('slack', 'email', 'webhook')),
  config TEXT NOT NULL,
  secrets TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  failing_since ${time},
  last_error TEXT,
  created_at ${time} NOT NULL,
  updated_at ${time} NOT NULL
)`,
    `CREATE TABLE channel_defaults (
  agent_id TEXT PRIMARY KEY,
  notify TEXT NOT NULL,
  updated_at ${time} NOT NULL
)`,
    `CREATE TABLE channel_holds (
  action_id TEXT PRIMARY KEY,
  registered_at ${time} NOT NULL
)`,
    `CREATE TABLE channel_outbox (
  id TEXT PRIMARY KEY,
  dedupe_key TEXT NOT NULL UNIQUE,
  action_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  job TEXT NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at ${time} NOT NULL,
  lease_owner TEXT,
  lease_until ${time},
  last_status INTEGER,
  last_error TEXT,
  ref TEXT,
  closed_at ${time},
  created_at ${time} NOT NULL,
  delivered_at ${time}
)`,
    "CREATE INDEX channel_outbox_due ON channel_outbox (next_attempt_at) WHERE status = 'pending'",
    // Messages with buttons whose update after the decision is not queued yet (few: one per
    // open message of a pending call).
    'CREATE INDEX channel_outbox_open ON channel_outbox (action_id) WHERE ref IS NOT NULL AND closed_at IS NULL',
    'CREATE INDEX channel_outbox_action ON channel_outbox (action_id)',
    `CREATE TABLE channel_attempts (
  id TEXT PRIMARY KEY,
  outbox_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status_code INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL,
  at ${time} NOT NULL
)`,
    'CREATE INDEX channel_attempts_outbox ON channel_attempts (outbox_id)',
    `CREATE TABLE channel_links (
  token_hash TEXT PRIMARY KEY,
  action_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  recipient TEXT NOT NULL,
  expires_at ${time} NOT NULL,
  used_at ${time},
  created_at ${time} NOT NULL
)`,
    `CREATE TABLE channel_replays (
  signature TEXT PRIMARY KEY,
  seen_at ${time} NOT NULL
)`,
  ];
}
