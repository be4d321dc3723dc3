import { reservedCondition, reservedSumColumns } from '../budgets/repository';
import type { Queryable, SqlValue, Statement } from '../store/database';
import type { MultiRow } from '../store/multi-row';

/** Calls of one scope grouped by tool and outcome: what counts are added up from. */
export interface CallGroup {
  toolName: string;
  decision: string;
  status: string;
  onTimeout: string | null;
  count: number;
}

/** Who the calls or spend belong to. */
export interface MemoryScope {
  agentId: string;
  environment: string;
  /** Only this session's; null: every session of the agent in the environment. */
  sessionId: string | null;
}

/** Spend recorded as usage: dollars and tokens (input + output). */
export interface RecordedSpend {
  costUsd: number;
  tokens: number;
}

function scopeWhere(
  scope: MemoryScope,
  since: number | undefined,
  alias = '',
): {
  where: string;
  params: SqlValue[];
} {
  const clauses = [`${alias}agent_id = ?`, `${alias}environment = ?`];
  const params: SqlValue[] = [scope.agentId, scope.environment];
  if (scope.sessionId !== null) {
    clauses.unshift(`${alias}session_id = ?`);
    params.unshift(scope.sessionId);
  }
  if (since !== undefined) {
    clauses.push(`${alias}created_at >= ?`);
    params.push(since);
  }
  return { where: clauses.join(' AND '), params };
}

/**
 * The refusals a repeat is refused for: blocked (not for an evaluation error, nor by a budget,
 * which a raised limit or a new day lifts) or denied.
 */
export const refusedSql = `(decision = 'block' AND (reason IS NULL OR reason NOT IN ('condition_error', 'budget_exceeded')))
  OR status = 'denied' OR (status = 'expired' AND on_timeout = 'deny')`;

/**
 * When a refusal was made (what a `repeat_window` counts from): a block when it was decided
 * (its check), a denial when the person denied it, an approval that timed out denied when it
 * expired — not when the call was first held.
 */
export const refusedAtSql = `CASE WHEN status = 'expired' THEN COALESCE(expires_at, decided_at, created_at)
  ELSE COALESCE(decided_at, created_at) END`;

/**
 * The first refusal of a call in its session: parameters session, arguments hash, agent,
 * environment, tool (and since: refused at or after it, `refusedAtSql`). One seek of
 * `actions_memory_refused` (migration 13).
 */
export function firstRefusalSql(withSince: boolean): string {
  return `SELECT id, created_at FROM actions
         WHERE session_id = ? AND args_hash = ? AND decision <> 'allow' AND agent_id = ?
           AND environment = ? AND tool_name = ? AND (${refusedSql})
           ${withSince ? `AND ${refusedAtSql} >= ?` : ''}
         ORDER BY seq LIMIT 1`;
}

/** The message PostgreSQL's error carries when a memory version guard finds the version moved. */
export const memoryConflictMarker = 'arden_memory_version_moved';

/**
 * The version a memory scope's row starts at when a bump (`expected` null) creates it: far below
 * any version a check reads (0 for no row, then counting up), so that a check that read "no row"
 * never finds it again, and never an `expected + 1` of a guard (the bump's marker).
 */
const bumpedFirst = -(2 ** 52);

/**
 * The statement a check with memory commits with its action on PostgreSQL: the version of a
 * session (or agent) it read moves from `expected` (what the check read before its counts; 0: no
 * row yet) to the next, or, when another check of that scope committed meanwhile, the statement
 * fails and with it the transaction (the group committer then retries its requests one by
 * one, and this one's check is decided again). With `expected` null it is a bump: the version
 * moves whatever it was (a scope the check did not read, but whose counts its call changes for
 * another policy). The upsert waits for a concurrent transaction holding the row and then
 * re-reads it, so of two replicas that read the same version only one commits. Its `lockKey`
 * makes transactions take these rows in one order (no deadlock). The error is raised as a failed
 * cast of a text that names it: no function in the schema. The guards and bumps of one commit
 * merge into one statement (`versionGuardRows`): one round trip.
 */
export function memoryVersionGuard(scopeKey: string, expected: number | null): Statement {
  const inserted = expected === null ? bumpedFirst : expected + 1;
  return {
    rows: versionGuardRows,
    sql: `WITH bumped AS (
            INSERT INTO memory_versions (scope_key, version) VALUES (?, ?)
            ON CONFLICT (scope_key) DO UPDATE SET version = memory_versions.version + 1
            WHERE memory_versions.version = ? OR EXCLUDED.version = ${bumpedFirst}
            RETURNING version)
          SELECT CAST(CASE WHEN COUNT(*) = 1 THEN '1' ELSE '${memoryConflictMarker}' END AS INTEGER) AS ok
          FROM bumped`,
    params: [scopeKey, inserted, expected],
    // A bump goes before a guard of its scope in one transaction (the guard then sees it and
    // fails): the suffix orders the two and nothing else (keys are text without NUL).
    lockKey: `memory_versions|${scopeKey}${expected === null ? '\u0000' : '\u0001'}`,
  };
}

/**
 * The guards of one commit as one statement: every scope's version moves from what its check
 * read (a bump's whatever it was), in key order, or the statement fails (and the group committer
 * retries the commit's requests one by one: only the checks whose scope moved fail). Parameters
 * as the guard's.
 */
const versionGuardRows: MultiRow = {
  key: 'memory_version_guard',
  // One statement cannot update a row twice; a second guard of one scope goes in the next.
  distinct: (params) => String(params[0]),
  build(rows) {
    return {
      name: 'arden_rows_memory_version_guard',
      text: `WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS v(scope_key, version)),
        bumped AS (
          INSERT INTO memory_versions (scope_key, version)
          SELECT scope_key, version FROM v ORDER BY scope_key
          ON CONFLICT (scope_key) DO UPDATE SET version = memory_versions.version + 1
          WHERE memory_versions.version = EXCLUDED.version - 1 OR EXCLUDED.version = ${bumpedFirst}
          RETURNING scope_key)
        SELECT CAST(CASE WHEN COUNT(*) = cardinality($1::text[]) THEN '1' ELSE '${memoryConflictMarker}' END AS INTEGER) AS ok
        FROM bumped`,
      values: [rows.map((row) => row[0]), rows.map((row) => row[1])],
    };
  },
  results: (_returned, rows) => rows.map(() => ({ changes: 1 })),
};

/** Whether `error` is a memory version guard's: the check's scope moved since it was read. */
export function isMemoryConflict(error: unknown): boolean {
  return error instanceof Error && error.message.includes(memoryConflictMarker);
}

/** Calls of a scope by tool and outcome (`callGroups`): its statement. */
function callGroupsSql(scope: MemoryScope, since: number | undefined, excluded: readonly string[]) {
  const { where, params } = scopeWhere(scope, since);
  // SQLite only (calls being committed, counted from memory): one statement text for any number.
  if (excluded.length > 0) params.push(JSON.stringify(excluded));
  return {
    sql: `SELECT tool_name, decision, status, on_timeout, COUNT(*) AS count FROM actions
         WHERE ${where}${excluded.length > 0 ? ' AND id NOT IN (SELECT value FROM json_each(?))' : ''}
         GROUP BY tool_name, decision, status, on_timeout`,
    params,
  };
}

/**
 * Spend recorded as usage of a scope (`recordedSpend`): its statement (columns cost, tokens). A
 * window places usage by when the server received it (`received_at`, migration 21), not by the
 * client's `created_at`: backdated usage still counts. Events stored before migration 21 have no
 * `received_at` and are placed by `created_at`.
 */
function recordedSpendSql(scope: MemoryScope, since: number | undefined) {
  const { where, params } = scopeWhere(scope, undefined);
  if (since === undefined) {
    return {
      sql: `SELECT SUM(cost_usd) AS cost, SUM(prompt_tokens + completion_tokens) AS tokens
         FROM usage WHERE ${where}`,
      params,
    };
  }
  // `+received_at`: SQLite would seek the legacy rows through `received_at IS NULL` (all of an
  // agent's) rather than through `created_at >= ?`; the unary plus keeps that term off the index,
  // so both stores seek each branch through its own index.
  return {
    sql: `SELECT SUM(cost_usd) AS cost, SUM(prompt_tokens + completion_tokens) AS tokens
         FROM usage WHERE ${where}
           AND (received_at >= ? OR (+received_at IS NULL AND created_at >= ?))`,
    params: [...params, since, since],
  };
}

interface CallGroupRow {
  tool_name: string;
  decision: string;
  status: string;
  on_timeout: string | null;
  count: number | string;
}

function toCallGroup(row: CallGroupRow): CallGroup {
  return {
    toolName: row.tool_name,
    decision: row.decision,
    status: row.status,
    onTimeout: row.on_timeout,
    count: Number(row.count),
  };
}

/** What a check with memory reads with its scope's version on PostgreSQL (`snapshots`). */
export interface MemoryReads {
  /** The session whose calls and spend are read (none: only the version is). */
  session: { agentId: string; environment: string; sessionId: string } | undefined;
  /** The session's calls by tool and outcome, in each of these windows (since; all: undefined). */
  since: (number | undefined)[];
  /** Whether the session's recorded spend is read. */
  spend: boolean;
}

/** The answers of `snapshots`: the scopes' versions, and the reads as of those versions. */
export interface MemorySnapshot {
  /** The version of each scope key asked for, in order (0: no row yet). */
  versions: number[];
  /** The session's call groups by the `since` they were read for ('' for all). */
  groups: Map<string, CallGroup[]>;
  spend: RecordedSpend | undefined;
  /** Reserved for the session (nanodollars and tokens), read with its spend. */
  reserved: { usdNanos: number; tokens: number } | undefined;
}

/**
 * The statement of `snapshots`, one text for every batch: a row per read (`kind` v: version,
 * g: call groups since `since`, s: recorded spend, r: reserved spend, as budgets/ sums it with
 * the costs of tool calls). A session's rows are read through its session index,
 * behind an optimisation fence (`OFFSET 0`): on a log without fresh statistics the planner
 * otherwise takes the agent's index and reads every session of the agent in the window, a cost
 * that grows with the log (the policy-memory benchmark: 5,561 rows read for 57).
 */
const snapshotsSql = `SELECT q.i, q.kind, CASE q.kind
    WHEN 'v' THEN to_json((SELECT version FROM memory_versions WHERE scope_key = q.scope_key))
    WHEN 'g' THEN (SELECT json_agg(g) FROM (
      SELECT a.tool_name, a.decision, a.status, a.on_timeout, COUNT(*) AS count
      FROM (SELECT * FROM actions WHERE session_id = q.session_id OFFSET 0) a
      WHERE a.agent_id = q.agent_id AND a.environment = q.environment
        AND (q.since IS NULL OR a.created_at >= q.since)
      GROUP BY a.tool_name, a.decision, a.status, a.on_timeout) g)
    WHEN 's' THEN (SELECT json_build_object('cost', SUM(u.cost_usd),
        'tokens', SUM(u.prompt_tokens + u.completion_tokens))
      FROM (SELECT * FROM usage WHERE session_id = q.session_id OFFSET 0) u
      WHERE u.agent_id = q.agent_id AND u.environment = q.environment)
    WHEN 'r' THEN (SELECT json_build_object('usd', r.usd, 'tokens', r.tokens) FROM (
      SELECT ${reservedSumColumns} FROM budget_reservations
      WHERE ${reservedCondition(true)} AND environment = q.environment
        AND agent_id = q.agent_id AND session_id = q.session_id) r)
    END AS value, q.since, q.k
  FROM json_to_recordset(?::json) AS q(i int, kind text, scope_key text, session_id text,
    agent_id text, environment text, since bigint, k int)`;

/** The memory inputs' reads of the action log and of recorded usage. */
export function memoryRepository(db: Queryable) {
  return {
    /** The committed version of a memory scope (`memoryVersionGuard`); 0 when it has none. */
    async version(scopeKey: string): Promise<number> {
      const row = await db.get<{ version: number | string }>(
        'SELECT version FROM memory_versions WHERE scope_key = ?',
        [scopeKey],
      );
      return row ? Number(row.version) : 0;
    },

    /**
     * Calls of `scope` since `since` (inclusive; all when undefined), by tool and outcome; but
     * those of `excluded` (ids; the embedded store only: calls counted from memory).
     */
    async callGroups(
      scope: MemoryScope,
      since: number | undefined,
      excluded: readonly string[] = [],
    ): Promise<CallGroup[]> {
      const { sql, params } = callGroupsSql(scope, since, excluded);
      return (await db.all<CallGroupRow>(sql, params)).map(toCallGroup);
    },

    /**
     * PostgreSQL: for each check, its memory scope's version and the session's counts and
     * spend it reads, all in one statement (one round trip for the checks of one event-loop
     * turn, one snapshot: each check's reads are exactly as of the version its commit then
     * expects, `memoryVersionGuard`). The answers are in the order of `requests`.
     */
    async snapshots(
      requests: readonly { scopeKeys: readonly string[]; reads: MemoryReads }[],
    ): Promise<MemorySnapshot[]> {
      const lookups: Record<string, unknown>[] = [];
      for (const [i, { scopeKeys, reads }] of requests.entries()) {
        for (const [k, scopeKey] of scopeKeys.entries()) {
          lookups.push({ i, kind: 'v', scope_key: scopeKey, k });
        }
        const session = reads.session;
        if (session === undefined) continue;
        const where = {
          session_id: session.sessionId,
          agent_id: session.agentId,
          environment: session.environment,
        };
        for (const since of reads.since) lookups.push({ i, kind: 'g', ...where, since });
        if (reads.spend) {
          lookups.push({ i, kind: 's', ...where });
          lookups.push({ i, kind: 'r', ...where });
        }
      }
      const rows = await db.all<{
        i: number | string;
        kind: string;
        value: unknown;
        since: number | string | null;
        k: number | string | null;
      }>(snapshotsSql, [JSON.stringify(lookups)]);
      const answers: MemorySnapshot[] = requests.map(({ scopeKeys, reads }) => ({
        versions: scopeKeys.map(() => 0),
        groups: new Map(),
        spend: reads.spend ? { costUsd: 0, tokens: 0 } : undefined,
        reserved: reads.spend ? { usdNanos: 0, tokens: 0 } : undefined,
      }));
      for (const row of rows) {
        const answer = answers[Number(row.i)] as MemorySnapshot;
        if (row.kind === 'v') answer.versions[Number(row.k)] = Number(row.value ?? 0);
        else if (row.kind === 'g') {
          const groups = ((row.value ?? []) as CallGroupRow[]).map(toCallGroup);
          answer.groups.set(row.since === null ? '' : String(row.since), groups);
        } else if (row.kind === 's') {
          const spend = row.value as { cost: number | null; tokens: number | null } | null;
          answer.spend = { costUsd: Number(spend?.cost ?? 0), tokens: Number(spend?.tokens ?? 0) };
        } else if (row.kind === 'r') {
          const reserved = row.value as { usd: number | string; tokens: number | string } | null;
          answer.reserved = {
            usdNanos: Number(reserved?.usd ?? 0),
            tokens: Number(reserved?.tokens ?? 0),
          };
        }
      }
      return answers;
    },

    /** Tools of the session's refused calls with these arguments (canonical hash). */
    async refusedToolsWithArguments(scope: MemoryScope, argsHash: string): Promise<string[]> {
      const rows = await db.all<{ tool_name: string }>(
        `SELECT DISTINCT tool_name FROM actions
         WHERE session_id = ? AND args_hash = ? AND decision <> 'allow' AND agent_id = ?
           AND environment = ? AND (${refusedSql})`,
        [scope.sessionId, argsHash, scope.agentId, scope.environment],
      );
      return rows.map((row) => row.tool_name);
    },

    /**
     * The first refusal of this call (tool and arguments) in the session since `since`, if any:
     * the action a repeat is refused for.
     */
    async firstRefusal(
      scope: MemoryScope & { sessionId: string },
      toolName: string,
      argsHash: string,
      since: number | undefined,
    ): Promise<{ id: string; createdAt: number } | undefined> {
      const params: SqlValue[] = [
        scope.sessionId,
        argsHash,
        scope.agentId,
        scope.environment,
        toolName,
      ];
      if (since !== undefined) params.push(since);
      const row = await db.get<{ id: string; created_at: number | string }>(
        firstRefusalSql(since !== undefined),
        params,
      );
      return row ? { id: row.id, createdAt: Number(row.created_at) } : undefined;
    },

    /**
     * `firstRefusal` of many calls in one statement (PostgreSQL: one round trip for the checks
     * of one event-loop turn instead of one each). The answers are in the order of `lookups`.
     */
    async firstRefusals(
      lookups: readonly {
        scope: MemoryScope & { sessionId: string };
        toolName: string;
        argsHash: string;
        since: number | undefined;
      }[],
    ): Promise<({ id: string; createdAt: number } | undefined)[]> {
      const rows = await db.all<{ i: number | string; id: string; created_at: number | string }>(
        `SELECT q.i, r.id, r.created_at
         FROM json_to_recordset(?::json) AS q(i int, session_id text, args_hash text,
           agent_id text, environment text, tool_name text, since bigint)
         CROSS JOIN LATERAL (
           SELECT a.id, a.created_at FROM actions a
           WHERE a.session_id = q.session_id AND a.args_hash = q.args_hash
             AND a.decision <> 'allow' AND a.agent_id = q.agent_id
             AND a.environment = q.environment AND a.tool_name = q.tool_name
             AND (${refusedSql.replace(/\b(decision|reason|status|on_timeout)\b/g, 'a.$1')})
             AND (q.since IS NULL OR ${refusedAtSql.replace(/\b(status|expires_at|decided_at|created_at)\b/g, 'a.$1')} >= q.since)
           ORDER BY a.seq LIMIT 1) r`,
        [
          JSON.stringify(
            lookups.map((lookup, i) => ({
              i,
              session_id: lookup.scope.sessionId,
              args_hash: lookup.argsHash,
              agent_id: lookup.scope.agentId,
              environment: lookup.scope.environment,
              tool_name: lookup.toolName,
              since: lookup.since ?? null,
            })),
          ),
        ],
      );
      const answers: ({ id: string; createdAt: number } | undefined)[] = lookups.map(
        () => undefined,
      );
      for (const row of rows) {
        answers[Number(row.i)] = { id: row.id, createdAt: Number(row.created_at) };
      }
      return answers;
    },

    /** Dollars and tokens recorded as usage for `scope` since `since` (inclusive). */
    async recordedSpend(scope: MemoryScope, since: number | undefined): Promise<RecordedSpend> {
      const { sql, params } = recordedSpendSql(scope, since);
      const row = await db.get<{ cost: number | string | null; tokens: number | string | null }>(
        sql,
        params,
      );
      return { costUsd: Number(row?.cost ?? 0), tokens: Number(row?.tokens ?? 0) };
    },
  };
}

/** The memory repository bound to a database or transaction. */
export type MemoryRepository = ReturnType<typeof memoryRepository>;
