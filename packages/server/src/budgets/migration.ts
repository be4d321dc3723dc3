import type { Dialect } from '../store/database';

// Schema of the budgets room (migration 8): budgets, their counters per window, and the
// reservations that hold part of a counter until a usage record settles them or they expire.
// Money is kept in integer billionths of a dollar (nanodollars): sums are exact.

/** The SQL of migration 8, per dialect. */
export function budgetsSchema(dialect: Dialect): string[] {
  const time = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const count = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  return [
    `CREATE TABLE budgets (
  id TEXT PRIMARY KEY,
  agent_id TEXT REFERENCES agents (id),
  environment TEXT NOT NULL CHECK (environment IN ('test', 'live')),
  scope TEXT NOT NULL
    CHECK (scope IN ('session', 'agent_day', 'environment_day', 'environment_month')),
  name TEXT,
  limit_usd_nanos ${count},
  limit_tokens ${count},
  on_exceeded TEXT NOT NULL DEFAULT 'block' CHECK (on_exceeded IN ('block', 'requires_approval')),
  created_at ${time} NOT NULL,
  updated_at ${time} NOT NULL
)`,
    'CREATE INDEX budgets_environment ON budgets (environment, agent_id)',
    `CREATE TABLE budget_counters (
  budget_id TEXT NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
  window_key TEXT NOT NULL,
  spent_usd_nanos ${count} NOT NULL DEFAULT 0,
  spent_tokens ${count} NOT NULL DEFAULT 0,
  reserved_usd_nanos ${count} NOT NULL DEFAULT 0,
  reserved_tokens ${count} NOT NULL DEFAULT 0,
  updated_at ${time} NOT NULL,
  PRIMARY KEY (budget_id, window_key)
)`,
    `CREATE TABLE budget_reservations (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  environment TEXT NOT NULL CHECK (environment IN ('test', 'live')),
  session_id TEXT,
  kind TEXT NOT NULL CHECK (kind IN ('model', 'tool')),
  subject TEXT NOT NULL,
  usd_nanos ${count} NOT NULL,
  tokens ${count} NOT NULL,
  counters TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('reserved', 'settled', 'expired')),
  created_at ${time} NOT NULL,
  expires_at ${time} NOT NULL,
  settled_at ${time},
  usage_id TEXT,
  actual_usd_nanos ${count},
  actual_tokens ${count}
)`,
    'CREATE INDEX budget_reservations_open ON budget_reservations (status, expires_at)',
    'CREATE INDEX budget_reservations_session ON budget_reservations (agent_id, environment, session_id)',
  ];
}
