import type { Dialect } from '../store/database';

// Migration 14: the usage of each session per day, agent, environment and model (the daily totals
// of migration 3 have no session), so that usage grouped by session over a wide window adds up
// totals instead of every event. Each session and day also has a row of all its models together,
// model '' (a model name is never empty), which a grouping without a model filter reads: one row
// per session and day. `session_id` is '' for usage without a session (a key column cannot be
// NULL; the agent API stores an empty session id as none). The key starts with the model, so
// that either kind of row is one range of days. Filled from the events already stored, in two
// grouped passes; on PostgreSQL the events are locked against writes meanwhile (replicas' usage
// writes wait for the migration's commit): none written meanwhile is missed.
export function sessionUsageSchema(dialect: Dialect): string[] {
  const big = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const real = dialect === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION';
  const fill = (model: string) =>
    `INSERT INTO usage_session_daily (day, agent_id, environment, session_id, model, events,
   prompt_tokens, completion_tokens, cost_usd, unpriced)
 SELECT created_at / 86400000, agent_id, environment, COALESCE(session_id, ''), ${model}, COUNT(*),
   SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), SUM(1 - rate_found)
 FROM usage GROUP BY created_at / 86400000, agent_id, environment, COALESCE(session_id, '')${model === 'model' ? ', model' : ''}`;
  return [
    ...(dialect === 'postgres' ? ['LOCK TABLE usage IN SHARE MODE'] : []),
    `CREATE TABLE usage_session_daily (
  day INTEGER NOT NULL,
  agent_id TEXT NOT NULL,
  environment TEXT NOT NULL,
  session_id TEXT NOT NULL,
  model TEXT NOT NULL,
  events ${big} NOT NULL,
  prompt_tokens ${big} NOT NULL,
  completion_tokens ${big} NOT NULL,
  cost_usd ${real} NOT NULL,
  unpriced ${big} NOT NULL,
  PRIMARY KEY (model, day, agent_id, environment, session_id)
)${dialect === 'sqlite' ? ' WITHOUT ROWID' : ''}`,
    fill('model'),
    fill("''"),
  ];
}

/**
 * Migration 21: the time the server received each usage event (`received_at`, its clock), next to
 * the time the client says the model call happened (`created_at`, what reports show). A policy's
 * `agent.cost_usd(window)` places usage in its window by `received_at`, so usage an agent sends
 * backdated (or a client whose clock runs behind) still counts in the window of now. The column is
 * nullable without a default (instant on PostgreSQL, no rewrite): events stored before it have
 * none and are placed by `created_at`, as they were. Its index serves that window's sum, built
 * CONCURRENTLY on PostgreSQL.
 */
export function usageReceivedSchema(dialect: Dialect): string[] {
  const postgres = dialect === 'postgres';
  const create = postgres
    ? 'CREATE INDEX CONCURRENTLY IF NOT EXISTS'
    : 'CREATE INDEX IF NOT EXISTS';
  return [
    postgres
      ? 'ALTER TABLE usage ADD COLUMN IF NOT EXISTS received_at BIGINT'
      : 'ALTER TABLE usage ADD COLUMN received_at INTEGER',
    `${create} usage_memory_agent_received ON usage (agent_id, environment, received_at)`,
  ];
}
