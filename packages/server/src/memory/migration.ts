import type { Dialect } from '../store/database';

/**
 * Migration 7, policies with memory: each action of a session keeps the hash of its tool and
 * canonical arguments (`args_hash`), so a repeat of a refused call is found with one index
 * seek (a partial index: refused and held calls only), and a refused repeat names the refusal
 * it repeats (`repeat_of`). On PostgreSQL counts over an agent's recent calls read through
 * `(agent_id, environment, created_at)`; SQLite, where every index of the log costs each commit
 * a page (see scaleIndexes), reads them through `created_at` or `(agent_id, seq)`. Spend reads
 * usage through `(agent_id, environment, created_at)`. The columns are nullable without a
 * default (instant on PostgreSQL); the indexes are built CONCURRENTLY there.
 */
export function memorySchema(dialect: Dialect): string[] {
  const postgres = dialect === 'postgres';
  const add = postgres ? 'ADD COLUMN IF NOT EXISTS' : 'ADD COLUMN';
  const create = postgres
    ? 'CREATE INDEX CONCURRENTLY IF NOT EXISTS'
    : 'CREATE INDEX IF NOT EXISTS';
  return [
    `ALTER TABLE actions ${add} args_hash TEXT`,
    `ALTER TABLE actions ${add} repeat_of TEXT`,
    `${create} actions_memory_refusals ON actions (session_id, args_hash) WHERE args_hash IS NOT NULL AND decision <> 'allow'`,
    ...(postgres
      ? [`${create} actions_memory_agent ON actions (agent_id, environment, created_at)`]
      : []),
    `${create} usage_memory_agent ON usage (agent_id, environment, created_at)`,
  ];
}
