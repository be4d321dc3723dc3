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

/**
 * Migration 13, refusals found with one seek: the refused-repeat lookup reads the first refusal
 * of a call in its session, and the index of migration 7 held every call that was not simply
 * allowed (held ones too), unordered, so a session that repeated a held call many times made
 * each lookup read and sort all of them. The new index holds only refusals, in log order; a held
 * call enters it when it is denied or expires denied (an UPDATE re-evaluates the predicate).
 * Its predicate is the lookup's refusal condition, word for word, so both stores' planners use it.
 */
export function refusalsIndexSchema(dialect: Dialect, refused: string): string[] {
  const postgres = dialect === 'postgres';
  const create = postgres
    ? 'CREATE INDEX CONCURRENTLY IF NOT EXISTS'
    : 'CREATE INDEX IF NOT EXISTS';
  const drop = postgres ? 'DROP INDEX CONCURRENTLY IF EXISTS' : 'DROP INDEX IF EXISTS';
  return [
    `${create} actions_memory_refused ON actions (session_id, args_hash, seq) WHERE args_hash IS NOT NULL AND (${refused})`,
    `${drop} actions_memory_refusals`,
  ];
}

/**
 * Migration 16, memory versions (PostgreSQL's arbiter of memory checks): one row per session (or
 * agent) whose calls a policy with memory counts, with the number of such checks committed. A
 * check reads the version before its counts and commits its action only if the version is still
 * the one it read, bumping it in the statement that writes its action (`guardedInsert`); no
 * connection is held while the check waits for the group commit. The embedded store, one process, keeps its
 * sessions in memory and does not use the table; it has it so both schemas stay alike.
 */
export function memoryVersionsSchema(dialect: Dialect): string[] {
  const integer = dialect === 'postgres' ? 'BIGINT' : 'INTEGER';
  return [
    `CREATE TABLE IF NOT EXISTS memory_versions (
  scope_key TEXT PRIMARY KEY,
  version ${integer} NOT NULL
)`,
  ];
}
