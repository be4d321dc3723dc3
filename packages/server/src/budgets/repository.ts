import type { Environment } from '../crypto';
import type { Queryable, SqlValue, Statement } from '../store/database';

// SQL of the budgets room. Money is in integer nanodollars (10⁻⁹ USD), tokens are counts.

/** Where a budget counts: one session, one agent's UTC day, or the whole environment's day or month. */
export type BudgetScope = 'session' | 'agent_day' | 'environment_day' | 'environment_month';

/** What happens to the tool calls of a session (or agent, environment) once it is over budget. */
export type BudgetOnExceeded = 'block' | 'requires_approval';

/** A stored budget. `agentId` null: every agent of the environment. */
export interface BudgetRecord {
  id: string;
  agentId: string | null;
  environment: Environment;
  scope: BudgetScope;
  name: string | null;
  limitUsdNanos: number | null;
  limitTokens: number | null;
  onExceeded: BudgetOnExceeded;
  createdAt: number;
  updatedAt: number;
}

/** A budget's counter for one window (a session id, `2026-12-06`, `2026-12`). */
export interface CounterRecord {
  budgetId: string;
  windowKey: string;
  spentUsdNanos: number;
  spentTokens: number;
  reservedUsdNanos: number;
  reservedTokens: number;
}

export type ReservationStatus = 'reserved' | 'settled' | 'expired';

/** An amount held against the counters it names until settled or expired. */
export interface ReservationRecord {
  id: string;
  agentId: string;
  environment: Environment;
  sessionId: string | null;
  kind: 'model' | 'tool';
  subject: string;
  usdNanos: number;
  tokens: number;
  /** The counters held: [budget id, window key]. */
  counters: [string, string][];
  status: ReservationStatus;
  createdAt: number;
  expiresAt: number;
  settledAt: number | null;
  usageId: string | null;
  actualUsdNanos: number | null;
  actualTokens: number | null;
}

type Row = Record<string, unknown>;

const num = (value: unknown): number => Number(value ?? 0);
const nullableNum = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

function budgetOf(row: Row): BudgetRecord {
  return {
    id: row.id as string,
    agentId: (row.agent_id as string | null) ?? null,
    environment: row.environment as Environment,
    scope: row.scope as BudgetScope,
    name: (row.name as string | null) ?? null,
    limitUsdNanos: nullableNum(row.limit_usd_nanos),
    limitTokens: nullableNum(row.limit_tokens),
    onExceeded: row.on_exceeded as BudgetOnExceeded,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/** A counter from its row. */
export function counterOf(row: Row): CounterRecord {
  return {
    budgetId: row.budget_id as string,
    windowKey: row.window_key as string,
    spentUsdNanos: num(row.spent_usd_nanos),
    spentTokens: num(row.spent_tokens),
    reservedUsdNanos: num(row.reserved_usd_nanos),
    reservedTokens: num(row.reserved_tokens),
  };
}

function reservationOf(row: Row): ReservationRecord {
  return {
    id: row.id as string,
    agentId: row.agent_id as string,
    environment: row.environment as Environment,
    sessionId: (row.session_id as string | null) ?? null,
    kind: row.kind as 'model' | 'tool',
    subject: row.subject as string,
    usdNanos: num(row.usd_nanos),
    tokens: num(row.tokens),
    counters: JSON.parse(row.counters as string) as [string, string][],
    status: row.status as ReservationStatus,
    createdAt: num(row.created_at),
    expiresAt: num(row.expires_at),
    settledAt: nullableNum(row.settled_at),
    usageId: (row.usage_id as string | null) ?? null,
    actualUsdNanos: nullableNum(row.actual_usd_nanos),
    actualTokens: nullableNum(row.actual_tokens),
  };
}

/** A counter with nothing spent or reserved (a window not used yet). */
export function emptyCounter(budgetId: string, windowKey: string): CounterRecord {
  return {
    budgetId,
    windowKey,
    spentUsdNanos: 0,
    spentTokens: 0,
    reservedUsdNanos: 0,
    reservedTokens: 0,
  };
}

const budgetColumns =
  'id, agent_id, environment, scope, name, limit_usd_nanos, limit_tokens, on_exceeded, created_at, updated_at';

// A new reservation's row, in one order for every INSERT of it (one at a time, or a batch's
// VALUES list). Numbers are cast: in a VALUES list PostgreSQL would otherwise take them (and the
// NULLs) as text, which a BIGINT column refuses.
const reservationColumns =
  'id, agent_id, environment, session_id, kind, subject, usd_nanos, tokens, counters, status, created_at, expires_at, settled_at, actual_usd_nanos, actual_tokens';
const bigint = 'CAST(? AS BIGINT)';

/** The placeholders of one row of `reservationColumns` (`reservationParams` binds them). */
export const reservationPlaceholders = `(?, ?, ?, ?, ?, ?, ${bigint}, ${bigint}, ?, ?, ${bigint}, ${bigint}, ${bigint}, ${bigint}, ${bigint})`;

/** The values of a reservation's row, in the order of `reservationColumns`. */
export function reservationParams(reservation: ReservationRecord): SqlValue[] {
  return [
    reservation.id,
    reservation.agentId,
    reservation.environment,
    reservation.sessionId,
    reservation.kind,
    reservation.subject,
    reservation.usdNanos,
    reservation.tokens,
    JSON.stringify(reservation.counters),
    reservation.status,
    reservation.createdAt,
    reservation.expiresAt,
    reservation.settledAt,
    reservation.actualUsdNanos,
    reservation.actualTokens,
  ];
}

/** `INSERT INTO budget_reservations (…)`: the columns `reservationParams` gives values for. */
export const insertReservationsInto = `INSERT INTO budget_reservations (${reservationColumns})`;

/** Adds spend to a counter, creating it (the lock of a shared row: runs last, in key order). */
export function addSpendStatement(
  budgetId: string,
  windowKey: string,
  usdNanos: number,
  tokens: number,
  now: number,
): Statement {
  return {
    sql: `INSERT INTO budget_counters (budget_id, window_key, spent_usd_nanos, spent_tokens, updated_at)
      VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (budget_id, window_key) DO UPDATE SET
        spent_usd_nanos = budget_counters.spent_usd_nanos + excluded.spent_usd_nanos,
        spent_tokens = budget_counters.spent_tokens + excluded.spent_tokens,
        updated_at = excluded.updated_at`,
    params: [budgetId, windowKey, usdNanos, tokens, now],
    lockKey: counterLockKey(budgetId, windowKey),
  };
}

/** The group committer's key of a counter row. */
export function counterLockKey(budgetId: string, windowKey: string): string {
  return `budget_counter\u0000${budgetId}\u0000${windowKey}`;
}

/**
 * The statements that settle a reservation with a usage record, in the usage's commit: the
 * reservation is marked settled by this usage (only if still reserved), then each of its
 * counters gives back the held amount — only if this usage is the one that settled it (a second
 * usage naming the same reservation, or one that arrives after it expired, gives back nothing).
 */
export function settleStatements(
  reservation: ReservationRecord,
  usageId: string,
  actualUsdNanos: number,
  actualTokens: number,
  now: number,
): Statement[] {
  const statements: Statement[] = [
    {
      sql: `UPDATE budget_reservations SET status = 'settled', settled_at = ?, usage_id = ?,
        actual_usd_nanos = ?, actual_tokens = ? WHERE id = ? AND status = 'reserved'`,
      params: [now, usageId, actualUsdNanos, actualTokens, reservation.id],
    },
  ];
  for (const [budgetId, windowKey] of reservation.counters) {
    statements.push({
      sql: `UPDATE budget_counters SET reserved_usd_nanos = reserved_usd_nanos - ?,
        reserved_tokens = reserved_tokens - ?, updated_at = ?
        WHERE budget_id = ? AND window_key = ? AND EXISTS (
          SELECT 1 FROM budget_reservations WHERE id = ? AND usage_id = ?)`,
      params: [
        reservation.usdNanos,
        reservation.tokens,
        now,
        budgetId,
        windowKey,
        reservation.id,
        usageId,
      ],
      lockKey: counterLockKey(budgetId, windowKey),
    });
  }
  return statements;
}

/**
 * The statements that spend a held tool cost in its action's commit (the call was allowed): the
 * reservation is marked settled with its own amount (only if still held), and each of its
 * counters moves the amount from reserved to spent — only if it was this commit that settled it.
 * If the action's commit fails, none of this happens: the call was never answered, nothing spent.
 */
export function chargeStatements(reservation: ReservationRecord, now: number): Statement[] {
  const statements: Statement[] = [
    {
      sql: `UPDATE budget_reservations SET status = 'settled', settled_at = ?, actual_usd_nanos = ?,
        actual_tokens = ? WHERE id = ? AND status = 'reserved'`,
      params: [now, reservation.usdNanos, reservation.tokens, reservation.id],
    },
  ];
  for (const [budgetId, windowKey] of reservation.counters) {
    statements.push({
      sql: `UPDATE budget_counters SET reserved_usd_nanos = reserved_usd_nanos - ?,
        reserved_tokens = reserved_tokens - ?, spent_usd_nanos = spent_usd_nanos + ?,
        spent_tokens = spent_tokens + ?, updated_at = ?
        WHERE budget_id = ? AND window_key = ? AND EXISTS (
          SELECT 1 FROM budget_reservations WHERE id = ? AND status = 'settled' AND usage_id IS NULL
            AND settled_at = ?)`,
      params: [
        reservation.usdNanos,
        reservation.tokens,
        reservation.usdNanos,
        reservation.tokens,
        now,
        budgetId,
        windowKey,
        reservation.id,
        now,
      ],
      lockKey: counterLockKey(budgetId, windowKey),
    });
  }
  return statements;
}

/** What is reserved and not yet settled, for `reservedAmount()`. */
export interface ReservedFilter {
  agentId?: string;
  environment: Environment;
  sessionId?: string;
  /** Reservations made at or after this time (ms), e.g. the start of a UTC day. */
  from?: number;
  to?: number;
  /**
   * Also the costs of tool calls (a policy's `cost`), which are kept as settled tool
   * reservations: what `session.cost_usd` and `agent.cost_usd(window)` add to recorded usage.
   */
  withToolCharges?: boolean;
}

/** The budgets room's SQL, bound to a database or transaction. */
export function budgetRepository(db: Queryable) {
  return {
    async list(filter: { environment?: Environment; agentId?: string } = {}) {
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (filter.environment) {
        where.push('environment = ?');
        params.push(filter.environment);
      }
      if (filter.agentId) {
        where.push('(agent_id = ? OR agent_id IS NULL)');
        params.push(filter.agentId);
      }
      const rows = await db.all<Row>(
        `SELECT ${budgetColumns} FROM budgets ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at, id`,
        params,
      );
      return rows.map(budgetOf);
    },
    async get(id: string): Promise<BudgetRecord | undefined> {
      const row = await db.get<Row>(`SELECT ${budgetColumns} FROM budgets WHERE id = ?`, [id]);
      return row ? budgetOf(row) : undefined;
    },
    /** The budgets that apply to an agent's calls in an environment. */
    async applicable(agentId: string, environment: Environment): Promise<BudgetRecord[]> {
      const rows = await db.all<Row>(
        `SELECT ${budgetColumns} FROM budgets
         WHERE environment = ? AND (agent_id = ? OR agent_id IS NULL) ORDER BY id`,
        [environment, agentId],
      );
      return rows.map(budgetOf);
    },
    async insert(budget: BudgetRecord): Promise<void> {
      await db.run(`INSERT INTO budgets (${budgetColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
        budget.id,
        budget.agentId,
        budget.environment,
        budget.scope,
        budget.name,
        budget.limitUsdNanos,
        budget.limitTokens,
        budget.onExceeded,
        budget.createdAt,
        budget.updatedAt,
      ]);
    },
    async update(budget: BudgetRecord): Promise<void> {
      await db.run(
        `UPDATE budgets SET name = ?, limit_usd_nanos = ?, limit_tokens = ?, on_exceeded = ?,
         updated_at = ? WHERE id = ?`,
        [
          budget.name,
          budget.limitUsdNanos,
          budget.limitTokens,
          budget.onExceeded,
          budget.updatedAt,
          budget.id,
        ],
      );
    },
    async delete(id: string): Promise<boolean> {
      await db.run('DELETE FROM budget_counters WHERE budget_id = ?', [id]);
      return (await db.run('DELETE FROM budgets WHERE id = ?', [id])).changes > 0;
    },
    async counter(budgetId: string, windowKey: string): Promise<CounterRecord | undefined> {
      const row = await db.get<Row>(
        'SELECT * FROM budget_counters WHERE budget_id = ? AND window_key = ?',
        [budgetId, windowKey],
      );
      return row ? counterOf(row) : undefined;
    },
    async insertReservation(reservation: ReservationRecord): Promise<void> {
      await db.run(
        `${insertReservationsInto} VALUES ${reservationPlaceholders}`,
        reservationParams(reservation),
      );
    },
    /**
     * Settles a held tool call's reservation with its own amount (the call was approved): marked
     * settled (only if still reserved), and each counter moves the amount from reserved to spent.
     * Whether this call settled it.
     */
    async settleHeld(reservation: ReservationRecord, now: number): Promise<boolean> {
      const marked = await db.run(
        `UPDATE budget_reservations SET status = 'settled', settled_at = ?, actual_usd_nanos = ?,
           actual_tokens = ? WHERE id = ? AND status = 'reserved'`,
        [now, reservation.usdNanos, reservation.tokens, reservation.id],
      );
      if (marked.changes === 0) return false;
      for (const [budgetId, windowKey] of reservation.counters) {
        await db.run(
          `UPDATE budget_counters SET reserved_usd_nanos = reserved_usd_nanos - ?,
             reserved_tokens = reserved_tokens - ?, spent_usd_nanos = spent_usd_nanos + ?,
             spent_tokens = spent_tokens + ?, updated_at = ?
           WHERE budget_id = ? AND window_key = ?`,
          [
            reservation.usdNanos,
            reservation.tokens,
            reservation.usdNanos,
            reservation.tokens,
            now,
            budgetId,
            windowKey,
          ],
        );
      }
      return true;
    },
    /** Moves a held reservation's expiry (a held call not decided yet). */
    async extend(id: string, expiresAt: number): Promise<void> {
      await db.run(
        `UPDATE budget_reservations SET expires_at = ? WHERE id = ? AND status = 'reserved'`,
        [expiresAt, id],
      );
    },
    async reservation(id: string): Promise<ReservationRecord | undefined> {
      const row = await db.get<Row>('SELECT * FROM budget_reservations WHERE id = ?', [id]);
      return row ? reservationOf(row) : undefined;
    },
    async reservations(filter: {
      agentId?: string;
      environment?: Environment;
      sessionId?: string;
      status?: ReservationStatus;
      limit?: number;
    }): Promise<ReservationRecord[]> {
      const where: string[] = [];
      const params: SqlValue[] = [];
      for (const [column, value] of [
        ['agent_id', filter.agentId],
        ['environment', filter.environment],
        ['session_id', filter.sessionId],
        ['status', filter.status],
      ] as const) {
        if (value !== undefined) {
          where.push(`${column} = ?`);
          params.push(value);
        }
      }
      params.push(filter.limit ?? 100);
      const rows = await db.all<Row>(
        `SELECT * FROM budget_reservations ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT ?`,
        params,
      );
      return rows.map(reservationOf);
    },
    /** Ids of reservations still held past their expiry. */
    async overdue(now: number, limit: number): Promise<string[]> {
      const rows = await db.all<{ id: string }>(
        `SELECT id FROM budget_reservations WHERE status = 'reserved' AND expires_at <= ?
         ORDER BY expires_at LIMIT ?`,
        [now, limit],
      );
      return rows.map((row) => row.id);
    },
    /** Marks a held reservation expired; whether this call did (another may have settled it). */
    async markExpired(id: string, now: number): Promise<boolean> {
      const result = await db.run(
        `UPDATE budget_reservations SET status = 'expired', settled_at = ?
         WHERE id = ? AND status = 'reserved'`,
        [now, id],
      );
      return result.changes > 0;
    },
    /** Adds a held amount to a counter (whose row the transaction has locked). */
    async hold(budgetId: string, windowKey: string, usdNanos: number, tokens: number, now: number) {
      await db.run(
        `UPDATE budget_counters SET reserved_usd_nanos = reserved_usd_nanos + ?,
           reserved_tokens = reserved_tokens + ?, updated_at = ?
         WHERE budget_id = ? AND window_key = ?`,
        [usdNanos, tokens, now, budgetId, windowKey],
      );
    },
    /** Gives back a held amount to a counter. */
    async release(
      budgetId: string,
      windowKey: string,
      usdNanos: number,
      tokens: number,
      now: number,
    ) {
      await db.run(
        `UPDATE budget_counters SET reserved_usd_nanos = reserved_usd_nanos - ?,
           reserved_tokens = reserved_tokens - ?, updated_at = ?
         WHERE budget_id = ? AND window_key = ?`,
        [usdNanos, tokens, now, budgetId, windowKey],
      );
    },
    /**
     * Tool calls' costs (held or spent) by tool, for a session or an agent since `from`: what a
     * policy's `budget` adds up over the tools it covers.
     */
    async toolCosts(filter: {
      agentId: string;
      environment: string;
      sessionId?: string;
      from?: number;
    }): Promise<{ tool: string; usdNanos: number }[]> {
      const params: SqlValue[] = [filter.agentId, filter.environment];
      let where = '';
      if (filter.sessionId !== undefined) {
        where += ' AND session_id = ?';
        params.push(filter.sessionId);
      }
      if (filter.from !== undefined) {
        where += ' AND created_at >= ?';
        params.push(filter.from);
      }
      const rows = await db.all<Row>(
        `SELECT subject, SUM(COALESCE(actual_usd_nanos, usd_nanos)) AS usd FROM budget_reservations
         WHERE agent_id = ? AND environment = ? AND kind = 'tool'
           AND status IN ('reserved', 'settled')${where} GROUP BY subject`,
        params,
      );
      return rows.map((row) => ({ tool: row.subject as string, usdNanos: num(row.usd) }));
    },
    /** Reserved and not yet settled or expired: nanodollars and tokens. */
    async reservedSum(filter: ReservedFilter): Promise<{ usdNanos: number; tokens: number }> {
      const where = [reservedCondition(filter.withToolCharges === true), 'environment = ?'];
      const params: SqlValue[] = [filter.environment];
      if (filter.agentId !== undefined) {
        where.push('agent_id = ?');
        params.push(filter.agentId);
      }
      if (filter.sessionId !== undefined) {
        where.push('session_id = ?');
        params.push(filter.sessionId);
      }
      if (filter.from !== undefined) {
        where.push('created_at >= ?');
        params.push(filter.from);
      }
      if (filter.to !== undefined) {
        where.push('created_at < ?');
        params.push(filter.to);
      }
      const row = await db.get<Row>(
        `SELECT ${reservedSumColumns} FROM budget_reservations WHERE ${where.join(' AND ')}`,
        params,
      );
      return { usdNanos: num(row?.usd), tokens: num(row?.tokens) };
    },
  };
}

/**
 * What `reservedSum` adds up: reserved and not yet settled or expired (with tool charges, the
 * settled costs of tool calls too). Also read in memory/'s PostgreSQL snapshot.
 */
export function reservedCondition(withToolCharges: boolean): string {
  return withToolCharges
    ? "(status = 'reserved' OR (kind = 'tool' AND status = 'settled'))"
    : "status = 'reserved'";
}

/** `reservedSum`'s columns: usd (nanodollars) and tokens. */
export const reservedSumColumns = `COALESCE(SUM(COALESCE(actual_usd_nanos, usd_nanos)), 0) AS usd,
  COALESCE(SUM(COALESCE(actual_tokens, tokens)), 0) AS tokens`;

/** The repository of `budgetRepository()`. */
export type BudgetRepository = ReturnType<typeof budgetRepository>;
