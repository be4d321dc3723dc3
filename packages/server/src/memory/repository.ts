import { createHash } from 'node:crypto';
import { reservedCondition, reservedSumColumns } from '../budgets/repository';
import type { Queryable, SqlValue, Statement } from '../store/database';
import { extendedKind, type MultiRow } from '../store/multi-row';
import { bumpedFirst } from './bump';

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
 * What a check with memory commits with its action on PostgreSQL, for one scope: the version
 * of a session (or agent) it read (`expected`; 0: no row yet), which its commit moves to the
 * next; or, `expected` null, a bump: the version moves whatever it was (a scope the check did
 * not read, but whose counts its call changes for another policy).
 */
export type MemoryGuard = readonly [scopeKey: string, expected: number | null];

/** The name a failed guard gives its scope in the error (no session id in error messages). */
export function conflictKey(scopeKey: string): string {
  return createHash('md5').update(scopeKey).digest('hex');
}

/**
 * The action's INSERT with its memory guards in the same statement (PostgreSQL): one
 * autocommitted statement per group commit, as for a check without memory, instead of a
 * transaction around the INSERT and a statement of guards. A data-modifying CTE moves every
 * scope's version in `memory_versions` (an upsert, rows taken in key order: replicas never
 * deadlock); when a guarded scope's version is not the one its check read plus one afterwards
 * (another check of the scope committed after the read, here or on another replica: the upsert
 * waits for that transaction and then re-reads the row), the statement fails, naming the scope
 * by `conflictKey`, and nothing of it is written. The group committer then commits the
 * statement's other checks without the ones guarding that scope, which are decided again. The
 * guards of all the checks merged into one statement are added up per scope: the bumps first,
 * then the guard (of two guards of one scope in one statement, neither holds). A failed guard
 * raises a failed cast of a text naming it: no function in the schema.
 *
 * `insert` must be a multi-row statement (`rows`): the embedded store never guards.
 */
export function guardedInsert(insert: Statement, guards: readonly MemoryGuard[]): Statement {
  const inner = insert.rows;
  if (guards.length === 0) return insert;
  if (inner === undefined) throw new Error('A memory guard rides only in a multi-row INSERT.');
  const clean = guards.map(
    ([scopeKey, expected]) => [scopeKey.replaceAll('\u0000', '\uFFFD'), expected] as const,
  );
  return {
    // Never run unmerged (PostgreSQL merges every statement with `rows`): this one would fail.
    sql: `SELECT CAST('${memoryConflictMarker} unmerged' AS INTEGER)`,
    params: [...(insert.params ?? []), JSON.stringify(clean)],
    rows: guardedRows(inner),
    conflictKeys: [
      // A refusal guard's, when `insert` carries one (`refusalGuarded`).
      ...(insert.conflictKeys ?? []),
      ...clean
        .filter(([, expected]) => expected !== null)
        .map(([scopeKey]) => conflictKey(scopeKey)),
    ],
  };
}

function guardedRows(inner: MultiRow): MultiRow {
  return extendedKind(inner, 'guarded', 1, (merged, tails) => {
    const keys: string[] = [];
    const expected: (number | null)[] = [];
    for (const [guards] of tails) {
      for (const [scopeKey, version] of JSON.parse(String(guards)) as [string, number | null][]) {
        keys.push(scopeKey);
        expected.push(version);
      }
    }
    const next = merged.values.length;
    return {
      // The CTE `moved` runs to completion whether or not the INSERT reads it (PostgreSQL's
      // rule for data-modifying CTEs), its RETURNING raising for a guard that does not hold.
      text: `WITH e AS (SELECT * FROM unnest($${next + 1}::text[], $${next + 2}::bigint[]) AS e(scope_key, expected)),
        g AS (SELECT scope_key, COUNT(*) AS n, COUNT(expected) AS guards, MAX(expected) AS expected
          FROM e GROUP BY scope_key),
        moved AS (
          INSERT INTO memory_versions AS m (scope_key, version)
          SELECT scope_key, CASE WHEN guards = 1 AND n = 1 AND expected = 0 THEN 1 ELSE ${bumpedFirst} + n - 1 END
          FROM g ORDER BY scope_key
          ON CONFLICT (scope_key) DO UPDATE
            SET version = m.version + (SELECT g.n FROM g WHERE g.scope_key = EXCLUDED.scope_key)
          RETURNING CAST(CASE WHEN (SELECT g.guards = 0 OR (g.guards = 1 AND m.version = g.expected + 1)
            FROM g WHERE g.scope_key = m.scope_key) THEN '1'
            ELSE '${memoryConflictMarker} ' || md5(m.scope_key) END AS INTEGER) AS ok)
        ${merged.text}`,
      values: [...merged.values, keys, expected],
    };
  });
}

/** What a guard against refused repeats adds to an action's INSERT (`refusalGuarded`). */
export interface RefusalGuard {
  /** The action's id (a failed guard names it, by `refusalConflictKey`). */
  actionId: string;
  /** Refusals at or after this time count (`repeat_window`); undefined: any refusal. */
  since: number | undefined;
}

/** The `conflictKey` a failed refusal guard names: the action's own, not a scope's. */
export function refusalConflictKey(actionId: string): string {
  return conflictKey(`refused|${actionId}`);
}

/**
 * The action's INSERT (PostgreSQL), guarded against being a repeat of a refused call: for a
 * check that did not look up its refused repeats before it was decided (its policy reads no
 * memory, `MemoryService.prepare`), the statement itself seeks `actions_memory_refused` for a
 * refusal of the call (its session, arguments hash, agent, environment and tool; refused since
 * `guard.since`), the seek the lookup would have made, and when it finds one fails, naming the
 * action (`refusalConflictKey`) with the memory guards' marker: nothing of the transaction is
 * written — not the action, not its receipt, its sealed arguments or its cost — and the group
 * committer commits the other checks without this one, which is decided again with the lookup
 * (`MemoryConflictError`). The seek reads what is committed when the statement starts, and
 * what earlier statements of its transaction wrote: a refusal committed after the check was
 * decided is found, as are two checks of the same refused call in one group commit.
 *
 * Without `guard` the INSERT is wrapped all the same, unguarded: the checks' INSERTs stay of
 * one kind and merge into one statement. `insert` must be the actions' multi-row INSERT.
 */
export function refusalGuarded(insert: Statement, guard: RefusalGuard | undefined): Statement {
  const inner = insert.rows;
  if (inner === undefined) throw new Error('A refusal guard rides only in a multi-row INSERT.');
  return {
    sql: `SELECT CAST('${memoryConflictMarker} unmerged' AS INTEGER)`,
    params: [...(insert.params ?? []), guard?.actionId ?? null, guard?.since ?? null],
    rows: refusalRows(inner),
    conflictKeys: [
      ...(insert.conflictKeys ?? []),
      ...(guard ? [refusalConflictKey(guard.actionId)] : []),
    ],
  };
}

/** The refusal seek of the row `v` (the INSERT's own row), for `refusalGuarded`. */
const refusalOfRow = `EXISTS (SELECT 1 FROM actions a
      WHERE a.session_id = v.session_id AND a.args_hash = v.args_hash
        AND a.decision <> 'allow' AND a.agent_id = v.agent_id
        AND a.environment = v.environment AND a.tool_name = v.tool_name
        AND (${refusedSql.replace(/\b(decision|reason|status|on_timeout)\b/g, 'a.$1')})
        AND (r.refusal_since IS NULL OR ${refusedAtSql.replace(/\b(status|expires_at|decided_at|created_at)\b/g, 'a.$1')} >= r.refusal_since))`;

function refusalRows(inner: MultiRow): MultiRow {
  return extendedKind(inner, 'refusal', 2, (merged, tails) => {
    const ids: string[] = [];
    const since: (number | null)[] = [];
    for (const [id, refusalSince] of tails) {
      if (id === null || id === undefined) continue;
      ids.push(String(id));
      since.push((refusalSince ?? null) as number | null);
    }
    const next = merged.values.length;
    // The INSERT's rows (`v`) joined to the guarded ones' windows; a guarded row whose call
    // was refused fails the statement in its WHERE (a CASE: evaluated in order, the cast only
    // for such a row; its text is not a constant the planner could fold).
    const parts = merged.text.split(' RETURNING ');
    if (parts.length !== 2 || !/ AS v\(/.test(merged.text)) {
      throw new Error('A refusal guard needs an INSERT … SELECT … AS v(…) RETURNING …');
    }
    return {
      text: `${parts[0]} LEFT JOIN unnest($${next + 1}::text[], $${next + 2}::bigint[])
          AS r(refusal_id, refusal_since) ON r.refusal_id = v.id
        WHERE CASE WHEN r.refusal_id IS NULL THEN true
          WHEN ${refusalOfRow}
          THEN CAST('${memoryConflictMarker} ' || md5('refused|' || v.id) AS INTEGER) = 0
          ELSE true END
        RETURNING ${parts[1]}`,
      values: [...merged.values, ids, since],
    };
  });
}

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

/**
 * The first refusal of the call in row `q` (its session, arguments hash and tool; refused at or
 * after `q.since`), as a subquery for `CROSS JOIN LATERAL` (`firstRefusals`).
 */
const firstRefusalLateral = `(
    SELECT a.id, a.created_at FROM actions a
    WHERE a.session_id = q.session_id AND a.args_hash = q.args_hash
      AND a.decision <> 'allow' AND a.agent_id = q.agent_id
      AND a.environment = q.environment AND a.tool_name = q.tool_name
      AND (${refusedSql.replace(/\b(decision|reason|status|on_timeout)\b/g, 'a.$1')})
      AND (q.since IS NULL OR ${refusedAtSql.replace(/\b(status|expires_at|decided_at|created_at)\b/g, 'a.$1')} >= q.since)
    ORDER BY a.seq LIMIT 1)`;

/** The memory inputs' reads of the action log and of recorded usage. */
export function memoryRepository(db: Queryable) {
  return {
    /** The committed version of a memory scope (`guardedInsert`); 0 when it has none. */
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
     * expects, `guardedInsert`). The answers are in the order of `requests`.
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
         CROSS JOIN LATERAL ${firstRefusalLateral} r`,
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
