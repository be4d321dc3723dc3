import { isEffect } from '@arden/policy';
import type { Environment } from '../crypto';
import type { Dialect, Queryable, Row, SqlValue, Statement } from '../store/database';
import { decodeCursor, encodeCursor, jsonOrNull, jsonText, parseJson } from '../store/json';
import { unnestInsert, unnestUpdate } from '../store/multi-row';
import type { ActionRecord, ActionStatus, Effect, Page } from '../store/records';
import { clampLimit, int, page, text } from '../store/rows';

// The action log (every check, its decision, approval and outcome), and the sessions read from it.

/**
 * How many times a held action's outcome was changed in this process (decided, cancelled,
 * expired). The embedded store's session cache re-reads its sessions' held calls only when this
 * moved (memory/session-cache.ts), instead of at every check. One count for the whole process:
 * a change in another store of the process costs this one's cache a needless re-read, never a
 * missed one. Every write of `status` is in this file, and each counts.
 */
let heldOutcomeChanges = 0;

/** See `heldOutcomeChanges`. */
export function heldOutcomeVersion(): number {
  return heldOutcomeChanges;
}

function toAction(row: Row): ActionRecord {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    toolName: String(row.tool_name),
    args: parseJson(row.args, []),
    kwargs: parseJson(row.kwargs, {}),
    metadata: parseJson(row.metadata, null),
    argsJson: jsonText(row.args, '[]'),
    kwargsJson: jsonText(row.kwargs, '{}'),
    metadataJson: row.metadata === null || row.metadata === undefined ? null : String(row.metadata),
    sessionId: text(row.session_id),
    decision: row.decision as Effect,
    reason: text(row.reason),
    policy: parseJson(row.policy, null),
    status: row.status as ActionStatus,
    expiresAt: int(row.expires_at),
    onTimeout: (text(row.on_timeout) as ActionRecord['onTimeout']) ?? null,
    decidedBy: text(row.decided_by),
    decidedAt: int(row.decided_at),
    notes: text(row.notes),
    resultStatus: (text(row.result_status) as ActionRecord['resultStatus']) ?? null,
    durationMs: int(row.duration_ms),
    resultError: text(row.result_error),
    result: parseJson(row.result, null),
    reportedAt: int(row.reported_at),
    createdAt: Number(row.created_at),
    repeatOf: text(row.repeat_of),
    approval: parseJson(row.approval, null),
  };
}

/**
 * A new action, as the check endpoint logs it. The JSON texts are what is stored; without them
 * (actions made in tests) the parsed values are stored as `JSON.stringify` writes them.
 */
export type NewAction = Omit<ActionRecord, 'seq' | 'argsJson' | 'kwargsJson' | 'metadataJson'> &
  Partial<Pick<ActionRecord, 'argsJson' | 'kwargsJson' | 'metadataJson'>>;

/** Filters of the action log. Times are ms since the epoch; `to` is exclusive. */
export interface ActionFilter {
  agentId?: string;
  environment?: Environment;
  /** A tool name, or a prefix ending in `*` (`stripe.*`). */
  tool?: string;
  decision?: Effect;
  status?: ActionStatus | ActionStatus[];
  sessionId?: string;
  from?: number;
  to?: number;
}

/** Filters of session listings. */
export interface SessionFilter {
  agentId?: string;
  environment?: Environment;
  from?: number;
  to?: number;
}

/** One session: its actions counted and its token usage summed. */
export interface SessionSummary {
  sessionId: string;
  agentId: string;
  environment: Environment;
  actions: number;
  pending: number;
  blocked: number;
  firstAt: number;
  lastAt: number;
  totalTokens: number;
  costUsd: number;
}

const actionStatuses: readonly ActionStatus[] = [
  'pending',
  'approved',
  'denied',
  'completed',
  'expired',
  'cancelled',
];

/**
 * The smallest string greater than every string that starts with `prefix` (in code point
 * order, which is byte order for UTF-8), or undefined when there is none: `prefix <= x < upper`
 * is "x starts with prefix", and an index can answer it.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = (points.pop() as string).codePointAt(0) as number;
    let next = last + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
    if (next <= 0x10ffff) return points.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

function actionWhere(
  filter: ActionFilter,
  dialect: Dialect,
  alias = '',
  timeIndex = true,
): { where: string[]; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const column = (name: string) => `${alias}${name}`;
  // A wide window is read in seq order: on SQLite its time bounds are written with a unary `+`
  // so that the planner does not read them through the created_at index (it has no histogram
  // and takes 90 days of 120 for a narrow range). PostgreSQL estimates the range from its
  // statistics and picks seq order itself; `created_at + 0` there would hide the estimate.
  const time =
    timeIndex || dialect === 'postgres' ? column('created_at') : `+${column('created_at')}`;
  if (filter.agentId) {
    where.push(`${column('agent_id')} = ?`);
    params.push(filter.agentId);
  }
  if (filter.environment) {
    where.push(`${column('environment')} = ?`);
    params.push(filter.environment);
  }
  if (filter.tool) {
    // Byte-wise comparisons, which the tool index answers (PostgreSQL: its "C" collation).
    const tool =
      dialect === 'postgres' ? `${column('tool_name')} COLLATE "C"` : column('tool_name');
    if (filter.tool.endsWith('*')) {
      const prefix = filter.tool.slice(0, -1);
      if (prefix !== '') {
        where.push(`${tool} >= ?`);
        params.push(prefix);
        const upper = prefixUpperBound(prefix);
        if (upper !== undefined) {
          where.push(`${tool} < ?`);
          params.push(upper);
        }
      }
    } else {
      where.push(`${tool} = ?`);
      params.push(filter.tool);
    }
  }
  // Decisions and statuses are few known words, written into the SQL as literals (after
  // checking them): SQLite uses a partial index only for a literal match of its condition.
  const decision = isEffect(filter.decision) ? filter.decision : undefined;
  if (filter.decision !== undefined && decision === undefined) where.push('1 = 0');
  if (decision) where.push(`${column('decision')} = '${decision}'`);
  let statuses: ActionStatus[] | undefined;
  if (filter.status !== undefined) {
    const asked = Array.isArray(filter.status) ? filter.status : [filter.status];
    if (asked.length > 0) {
      statuses = asked.filter((status) => actionStatuses.includes(status));
      if (statuses.length === 0) where.push('1 = 0');
      else if (statuses.length === 1) where.push(`${column('status')} = '${statuses[0]}'`);
      else
        where.push(
          `${column('status')} IN (${statuses.map((status) => `'${status}'`).join(', ')})`,
        );
    }
  }
  // Only held or blocked calls: say so in the words of the "attention" partial index.
  if (
    (decision !== undefined && decision !== 'allow') ||
    (statuses !== undefined && statuses.length > 0 && !statuses.includes('completed'))
  ) {
    where.push(`${column('decision')} <> 'allow'`);
  }
  if (filter.sessionId) {
    where.push(`${column('session_id')} = ?`);
    params.push(filter.sessionId);
  }
  if (filter.from !== undefined) {
    where.push(`${time} >= ?`);
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    where.push(`${time} < ?`);
    params.push(filter.to);
  }
  return { where, params };
}

const insertActionSql = `INSERT INTO actions (id, agent_id, environment, tool_name, args, kwargs,
  metadata, session_id, decision, reason, policy, status, expires_at, on_timeout, decided_by,
  decided_at, notes, result_status, duration_ms, result_error, result, reported_at, created_at,
  args_hash, repeat_of)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

// The same INSERTs and outcome reports merged, many rows per statement, by the group commit on
// PostgreSQL (see store/multi-row.ts); their parameters are in the order of the columns here.
const insertRows = unnestInsert({
  key: 'actions_insert',
  table: 'actions',
  columns: [
    ['id', 'text'],
    ['agent_id', 'text'],
    ['environment', 'text'],
    ['tool_name', 'text'],
    ['args', 'text'],
    ['kwargs', 'text'],
    ['metadata', 'text'],
    ['session_id', 'text'],
    ['decision', 'text'],
    ['reason', 'text'],
    ['policy', 'text'],
    ['status', 'text'],
    ['expires_at', 'bigint'],
    ['on_timeout', 'text'],
    ['decided_by', 'text'],
    ['decided_at', 'bigint'],
    ['notes', 'text'],
    ['result_status', 'text'],
    ['duration_ms', 'double precision'],
    ['result_error', 'text'],
    ['result', 'text'],
    ['reported_at', 'bigint'],
    ['created_at', 'bigint'],
    ['args_hash', 'text'],
    ['repeat_of', 'text'],
  ],
  returning: { column: 'seq', keyColumn: 0 },
});

// Only an action that ran (or may have) may claim its run.
const reportable = `(status = 'approved' OR (status = 'completed' AND decision = 'allow')
                  OR (status = 'expired' AND on_timeout = 'allow'))`;

// An outcome is also taken for a held action that was denied (or expired unapproved): a client
// that ran it anyway reports that run — Claude Code runs a call whose permission prompt the
// developer approved after an approver in Arden denied it (the prompt cannot be withdrawn) — and
// the log keeps it, next to the decision it went against. Blocked calls never take one.
const takesOutcome = `(${reportable} OR status IN ('denied', 'expired'))`;

const reportRows = unnestUpdate({
  key: 'actions_report',
  table: 'actions',
  columns: [
    ['result_status', 'text'],
    ['duration_ms', 'double precision'],
    ['result_error', 'text'],
    ['result', 'text'],
    ['reported_at', 'bigint'],
    ['id', 'text'],
    ['agent_id', 'text'],
    ['environment', 'text'],
  ],
  set: ['result_status', 'duration_ms', 'result_error', 'result', 'reported_at'],
  match: ['id', 'agent_id', 'environment'],
  keyColumn: 5,
  where: takesOutcome,
});

// A time window holding fewer rows than this is read through the created_at index.
const narrowWindow = 20_000;

/** The action log: inserts (batched by the group committer), reads, decisions and expiry. */
export function actionRepository(db: Queryable) {
  // SQLite reports the new seq itself; PostgreSQL has to be asked for it.
  const insertSql =
    db.dialect === 'postgres' ? `${insertActionSql} RETURNING seq` : insertActionSql;
  /**
   * How to read rows of `filter` newest (or oldest) first. Without a time window, in `seq`
   * order. With a narrow one (estimated from the sequence numbers at its two ends — two index
   * seeks; the log is written in time order, give or take a moment), through the created_at
   * index, then sorted: planners otherwise walk the whole log in `seq` order looking for rows
   * of, say, one day two months ago. Only the plan changes: the filter is the same.
   */
  async function readPlan(
    filter: ActionFilter,
    descending: boolean,
  ): Promise<{ from: string; order: string; timeIndex: boolean }> {
    const direction = descending ? 'DESC' : 'ASC';
    const plain = { from: 'actions', order: `seq ${direction}`, timeIndex: true };
    if ((filter.from === undefined && filter.to === undefined) || filter.sessionId) return plain;
    const low =
      filter.from === undefined
        ? 0
        : (
            await db.get<{ seq: number }>(
              'SELECT seq FROM actions WHERE created_at >= ? ORDER BY created_at LIMIT 1',
              [filter.from],
            )
          )?.seq;
    const high =
      filter.to === undefined
        ? (await db.get<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM actions'))?.seq
        : (
            await db.get<{ seq: number }>(
              'SELECT seq FROM actions WHERE created_at < ? ORDER BY created_at DESC LIMIT 1',
              [filter.to],
            )
          )?.seq;
    const rows = low == null || high == null ? 0 : Math.max(0, Number(high) - Number(low));
    // A wide window: in seq order, its bounds only checked. Planners otherwise pick the
    // created_at index for the range and sort most of the log to return a page of it (1.4 s
    // for the newest 100 rows of 90 days at 1M rows on SQLite).
    if (rows >= narrowWindow) return { ...plain, timeIndex: false };
    return db.dialect === 'sqlite'
      ? {
          from: 'actions INDEXED BY actions_scale_created',
          order: `seq ${direction}`,
          timeIndex: true,
        }
      : { from: 'actions', order: `seq + 0 ${direction}`, timeIndex: true };
  }

  return {
    /** The INSERT of a new action, for the group committer. */
    insertStatement(action: NewAction): Statement {
      return {
        sql: insertSql,
        rows: insertRows,
        params: [
          action.id,
          action.agentId,
          action.environment,
          action.toolName,
          action.argsJson ?? JSON.stringify(action.args),
          action.kwargsJson ?? JSON.stringify(action.kwargs),
          action.metadataJson !== undefined ? action.metadataJson : jsonOrNull(action.metadata),
          action.sessionId,
          action.decision,
          action.reason,
          jsonOrNull(action.policy),
          action.status,
          action.expiresAt,
          action.onTimeout,
          action.decidedBy,
          action.decidedAt,
          action.notes,
          action.resultStatus,
          action.durationMs,
          action.resultError,
          jsonOrNull(action.result),
          action.reportedAt,
          action.createdAt,
          action.argsHash ?? null,
          action.repeatOf ?? null,
        ],
      };
    },
    async insert(action: NewAction): Promise<void> {
      const statement = this.insertStatement(action);
      await db.run(statement.sql, statement.params);
    },
    async get(id: string): Promise<ActionRecord | undefined> {
      const row = await db.get('SELECT * FROM actions WHERE id = ?', [id]);
      return row ? toAction(row) : undefined;
    },
    /** Newest first (or oldest first with `order: 'asc'`), `limit` per page (max 500). */
    async list(
      filter: ActionFilter = {},
      options: { cursor?: string; limit?: number; order?: 'asc' | 'desc' } = {},
    ): Promise<Page<ActionRecord>> {
      const limit = clampLimit(options.limit);
      const ascending = options.order === 'asc';
      const plan = await readPlan(filter, !ascending);
      const { where, params } = actionWhere(filter, db.dialect, '', plan.timeIndex);
      const after = decodeCursor(options.cursor);
      if (after !== undefined) {
        where.push(ascending ? 'seq > ?' : 'seq < ?');
        params.push(after);
      }
      const rows = await db.all(
        `SELECT * FROM ${plan.from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY ${plan.order} LIMIT ?`,
        [...params, limit + 1],
      );
      return page(rows.map(toAction), limit);
    },
    async count(filter: ActionFilter = {}): Promise<number> {
      const { where, params } = actionWhere(filter, db.dialect);
      const row = await db.get<{ count: number }>(
        `SELECT COUNT(*) AS count FROM actions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
        params,
      );
      return Number(row?.count ?? 0);
    },
    /**
     * Records a human decision if the action is still pending and not overdue; returns the
     * updated action, or undefined when someone else decided first (or it expired).
     */
    async decide(
      id: string,
      decision: { status: 'approved' | 'denied'; decidedBy: string | null; notes: string | null },
      now: number,
    ): Promise<ActionRecord | undefined> {
      const row = await db.get(
        `UPDATE actions SET status = ?, decided_by = ?, decided_at = ?, notes = ?
         WHERE id = ? AND status = 'pending' AND (expires_at IS NULL OR expires_at > ?)
         RETURNING *`,
        [decision.status, decision.decidedBy, now, decision.notes, id, now],
      );
      heldOutcomeChanges++;
      return row ? toAction(row) : undefined;
    },
    /**
     * Marks a pending action cancelled (its agent gave up the call while it was held: it never
     * runs); undefined when it was decided meanwhile.
     */
    async cancel(id: string, now: number, notes: string): Promise<ActionRecord | undefined> {
      const row = await db.get(
        `UPDATE actions SET status = 'cancelled', decided_at = ?, notes = ?
         WHERE id = ? AND status = 'pending' RETURNING *`,
        [now, notes, id],
      );
      heldOutcomeChanges++;
      return row ? toAction(row) : undefined;
    },
    /** Marks an overdue pending action expired; undefined when it was decided meanwhile. */
    async expire(id: string, now: number, notes: string): Promise<ActionRecord | undefined> {
      const row = await db.get(
        `UPDATE actions SET status = 'expired', decided_at = ?, notes = ?
         WHERE id = ? AND status = 'pending' AND expires_at <= ? RETURNING *`,
        [now, notes, id, now],
      );
      heldOutcomeChanges++;
      return row ? toAction(row) : undefined;
    },
    /** Actions by id (those that exist), in no particular order. */
    async getMany(ids: readonly string[]): Promise<ActionRecord[]> {
      if (ids.length === 0) return [];
      const rows = await db.all(
        `SELECT * FROM actions WHERE id IN (${ids.map(() => '?').join(', ')})`,
        ids as string[],
      );
      return rows.map(toAction);
    },
    /**
     * Pending actions whose approval window has passed, oldest first, locked for the caller's
     * transaction. On PostgreSQL rows another replica's sweeper holds are skipped (`SKIP
     * LOCKED`), so sweepers on every replica share the work instead of queueing on it.
     */
    async lockOverdue(now: number, limit = 100): Promise<ActionRecord[]> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const rows = await db.all(
        `SELECT * FROM actions WHERE status = 'pending' AND expires_at <= ?
         ORDER BY expires_at LIMIT ? ${lock}`,
        [now, limit],
      );
      return rows.map(toAction);
    },
    /**
     * Deletes up to `limit` actions created before `cutoff` (never pending ones), oldest first;
     * returns how many. On PostgreSQL rows another replica is deleting are skipped.
     */
    async purgeOlderThan(cutoff: number, limit: number): Promise<number> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const result = await db.run(
        `DELETE FROM actions WHERE seq IN (
           SELECT seq FROM actions WHERE created_at < ? AND status <> 'pending'
           ORDER BY created_at LIMIT ? ${lock})`,
        [cutoff, limit],
      );
      return result.changes;
    },
    /** Ids of pending actions whose approval window has passed. */
    async listOverdue(now: number, limit = 100): Promise<string[]> {
      const rows = await db.all<{ id: string }>(
        `SELECT id FROM actions WHERE status = 'pending' AND expires_at <= ?
         ORDER BY expires_at LIMIT ?`,
        [now, limit],
      );
      return rows.map((row) => row.id);
    },
    /** The earliest expiry among pending actions, to time the sweeper. */
    async nextExpiry(): Promise<number | undefined> {
      const row = await db.get<{ at: number | null }>(
        `SELECT MIN(expires_at) AS at FROM actions WHERE status = 'pending'`,
      );
      return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
    },
    /**
     * The UPDATE that records a call's outcome, for the group committer. It only matches an
     * action of this agent and environment that was allowed to run (0 changes otherwise).
     */
    reportResultStatement(
      id: string,
      agentId: string,
      environment: Environment,
      report: {
        status: 'succeeded' | 'failed';
        durationMs: number | null;
        error: string | null;
        result: unknown;
      },
      now: number,
    ): Statement {
      return {
        sql: `UPDATE actions SET result_status = ?, duration_ms = ?, result_error = ?, result = ?,
                reported_at = ?
              WHERE id = ? AND agent_id = ? AND environment = ?
                AND ${takesOutcome}`,
        rows: reportRows,
        params: [
          report.status,
          report.durationMs,
          report.error,
          jsonOrNull(report.result),
          now,
          id,
          agentId,
          environment,
        ],
      };
    },
    /**
     * Claims the one run of an approved (or allowed-on-expiry) action before its tool runs: an
     * adapter that resumes an approval from outside (a framework's message history) claims it,
     * so that the same approval never runs a second call. Changes no row when the action cannot
     * run or was claimed, or ran, already (its outcome time is set).
     */
    claimRunStatement(
      id: string,
      agentId: string,
      environment: Environment,
      now: number,
    ): Statement {
      return {
        sql: `UPDATE actions SET reported_at = ?
              WHERE id = ? AND agent_id = ? AND environment = ? AND reported_at IS NULL
                AND ${reportable}`,
        params: [now, id, agentId, environment],
      };
    },
    /**
     * Sessions with their action counts and token cost, most recently active first (by their
     * latest action within the filter). Reads the log newest first until it has a page of
     * sessions, then sums just those sessions through the session index — never the whole log.
     * The cursor is the position of the last session returned.
     */
    async listSessions(
      filter: SessionFilter = {},
      options: { cursor?: string; limit?: number } = {},
    ): Promise<Page<SessionSummary>> {
      const limit = clampLimit(options.limit);
      const before = decodeCursor(options.cursor);
      const key = (row: Row) => `${row.session_id}\u0000${row.agent_id}\u0000${row.environment}`;
      // Sessions found, in order of their latest matching action.
      const found: {
        key: string;
        sessionId: string;
        agentId: string;
        environment: string;
        last: number;
      }[] = [];
      const seen = new Set<string>();
      let scanFrom = before;
      const chunk = 2_000;
      const plan = await readPlan(filter, true);
      while (found.length <= limit) {
        const { where, params } = actionWhere(filter, db.dialect, '', plan.timeIndex);
        where.push('session_id IS NOT NULL');
        if (scanFrom !== undefined) {
          where.push('seq < ?');
          params.push(scanFrom);
        }
        const rows = await db.all<Row>(
          `SELECT seq, session_id, agent_id, environment FROM ${plan.from}
           WHERE ${where.join(' AND ')} ORDER BY ${plan.order} LIMIT ?`,
          [...params, chunk],
        );
        const candidates: typeof found = [];
        for (const row of rows) {
          const id = key(row);
          if (seen.has(id)) continue;
          seen.add(id);
          candidates.push({
            key: id,
            sessionId: String(row.session_id),
            agentId: String(row.agent_id),
            environment: String(row.environment),
            last: Number(row.seq),
          });
        }
        if (before !== undefined && candidates.length > 0) {
          // On a later page, a session met again here was shown already if it has a matching
          // action at or after the cursor.
          const shown = new Set<string>();
          const ids = [...new Set(candidates.map((candidate) => candidate.sessionId))];
          for (let start = 0; start < ids.length; start += 500) {
            const slice = ids.slice(start, start + 500);
            const { where: again, params: againParams } = actionWhere(filter, db.dialect);
            again.push(`session_id IN (${slice.map(() => '?').join(', ')})`, 'seq >= ?');
            const rowsAgain = await db.all<Row>(
              `SELECT DISTINCT session_id, agent_id, environment FROM actions
               WHERE ${again.join(' AND ')}`,
              [...againParams, ...slice, before],
            );
            for (const row of rowsAgain) shown.add(key(row));
          }
          for (const candidate of candidates) if (!shown.has(candidate.key)) found.push(candidate);
        } else {
          found.push(...candidates);
        }
        if (rows.length < chunk) break;
        scanFrom = Number(rows[rows.length - 1]?.seq);
      }
      const more = found.length > limit;
      const selected = found.slice(0, limit);
      const summaries = new Map<string, SessionSummary>();
      const costs = new Map<string, { tokens: number; cost: number }>();
      if (selected.length > 0) {
        const ids = [...new Set(selected.map((entry) => entry.sessionId))];
        const list = ids.map(() => '?').join(', ');
        const { where, params } = actionWhere(filter, db.dialect);
        where.push(`session_id IN (${list})`);
        const rows = await db.all<Row>(
          `SELECT session_id, agent_id, environment, COUNT(*) AS actions,
             SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
             SUM(CASE WHEN decision = 'block' THEN 1 ELSE 0 END) AS blocked,
             MIN(created_at) AS first_at, MAX(created_at) AS last_at
           FROM actions WHERE ${where.join(' AND ')}
           GROUP BY session_id, agent_id, environment`,
          [...params, ...ids],
        );
        for (const row of rows) {
          summaries.set(key(row), {
            sessionId: String(row.session_id),
            agentId: String(row.agent_id),
            environment: row.environment as Environment,
            actions: Number(row.actions),
            pending: Number(row.pending ?? 0),
            blocked: Number(row.blocked ?? 0),
            firstAt: Number(row.first_at),
            lastAt: Number(row.last_at),
            totalTokens: 0,
            costUsd: 0,
          });
        }
        const usageRows = await db.all<Row>(
          `SELECT session_id, agent_id, environment,
             SUM(prompt_tokens + completion_tokens) AS tokens, SUM(cost_usd) AS cost
           FROM usage WHERE session_id IN (${list})
           GROUP BY session_id, agent_id, environment`,
          ids,
        );
        for (const row of usageRows) {
          costs.set(key(row), { tokens: Number(row.tokens ?? 0), cost: Number(row.cost ?? 0) });
        }
      }
      const items = selected.flatMap((entry) => {
        const summary = summaries.get(entry.key);
        if (!summary) return [];
        const usage = costs.get(entry.key);
        return [{ ...summary, totalTokens: usage?.tokens ?? 0, costUsd: usage?.cost ?? 0 }];
      });
      const last = selected[selected.length - 1];
      return { items, nextCursor: more && last ? encodeCursor(last.last) : undefined };
    },
  };
}
