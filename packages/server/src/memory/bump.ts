import type { Queryable, SqlValue, Statement } from '../store/database';
import type { MultiRow } from '../store/multi-row';

// Version bumps of sessions whose spend changed (PostgreSQL): what keeps the spend a replica
// keeps with a session's calls (`replica-cache.ts`) exact. Every write that changes what
// `session.cost_usd` or `session.tokens` reads — usage recorded for the session, a reservation
// made, settled or given back, usage removed by retention — moves the session's version in
// `memory_versions` in the same transaction, whatever policy is in force: a copy read at an
// older version then fails its check's guard (`guardedInsert`) and is read again. A tool call's
// cost, reserved while its check is decided, moves the version in that check's own commit
// instead (`MemoryLease.guard`): a bump of its own would fail its own guard. No imports of
// budgets/ or usage/ here: both import this file.

/** The scope key of a session's memory (`memory_versions`): agent, environment, session. */
export function sessionScopeKey(agentId: string, environment: string, sessionId: string): string {
  return `session|${agentId}|${environment}|${sessionId}`;
}

/**
 * The version a memory scope's row starts at when a bump creates it: far below any version a
 * check reads (0 for no row, then counting up), so that a check that read "no row" never finds
 * it again, and never an `expected + 1` of a guard.
 */
export const bumpedFirst = -(2 ** 52);

// PostgreSQL text holds no NUL: as `guardedInsert` writes a scope key.
const clean = (key: string) => key.replaceAll('\u0000', '\uFFFD');

/**
 * The upsert of `bumpSql`/`bumpStatements` for keys in one array parameter: each distinct key
 * once, rows taken in key order (as `guardedInsert` takes them: replicas never deadlock on them).
 */
const bumpArrayText = `INSERT INTO memory_versions AS m (scope_key, version)
  SELECT DISTINCT scope_key, CAST(${bumpedFirst} AS BIGINT) FROM unnest($1::text[]) AS b(scope_key)
  ORDER BY scope_key
  ON CONFLICT (scope_key) DO UPDATE SET version = m.version + 1`;

const bumpRows: MultiRow = {
  key: 'memory_versions_bump',
  build(rows) {
    return {
      name: 'memory_versions_bump',
      text: bumpArrayText,
      values: [rows.map((row) => clean(String(row[0])))],
    };
  },
  results: (_returned, rows) => rows.map(() => ({ changes: 1 })),
};

/**
 * For a transaction's statements (the group committer): moves the versions of `keys`. Each
 * statement carries a `lockKey` sorting before every other one (`!`), so that all of a
 * commit's bumps merge into one statement and take their rows before the budget counters and
 * the usage totals (in the order of every other transaction that bumps or guards).
 */
export function bumpStatements(keys: Iterable<string>): Statement[] {
  const statements: Statement[] = [];
  for (const key of new Set(keys)) {
    statements.push({
      sql: `INSERT INTO memory_versions AS m (scope_key, version) VALUES (?, ${bumpedFirst})
        ON CONFLICT (scope_key) DO UPDATE SET version = m.version + 1`,
      params: [clean(key)] as SqlValue[],
      rows: bumpRows,
      lockKey: `!memory_versions\u0000${key}`,
    });
  }
  return statements;
}

/** Moves the versions of `keys` now, in `db`'s transaction (PostgreSQL; nothing when empty). */
export async function bumpVersions(db: Queryable, keys: Iterable<string>): Promise<void> {
  const distinct = [...new Set(keys)].map(clean);
  if (distinct.length === 0 || db.dialect !== 'postgres') return;
  await db.run(
    `INSERT INTO memory_versions AS m (scope_key, version)
      SELECT DISTINCT scope_key, CAST(${bumpedFirst} AS BIGINT)
      FROM json_array_elements_text(CAST(? AS json)) AS b(scope_key)
      ORDER BY scope_key
      ON CONFLICT (scope_key) DO UPDATE SET version = m.version + 1`,
    [JSON.stringify(distinct)],
  );
}

/**
 * The same bump as a data-modifying CTE body for a statement of its own (`json` a JSON array
 * parameter's placeholder): the reserver's single statement.
 */
export function bumpCte(json: string): string {
  return `INSERT INTO memory_versions AS m (scope_key, version)
      SELECT DISTINCT scope_key, CAST(${bumpedFirst} AS BIGINT)
      FROM json_array_elements_text(CAST(${json} AS json)) AS b(scope_key)
      ORDER BY scope_key
      ON CONFLICT (scope_key) DO UPDATE SET version = m.version + 1
      RETURNING 1`;
}

/** The JSON parameter of `bumpCte`/`bumpVersions`' keys (NUL replaced, as stored). */
export function bumpKeysJson(keys: Iterable<string>): string {
  return JSON.stringify([...new Set(keys)].map(clean));
}
