import type { Environment } from '../crypto';
import { bumpVersions, sessionScopeKey } from '../memory/bump';
import type { Queryable, Row, SqlValue, Statement } from '../store/database';
import { decodeCursor } from '../store/json';
import { unnestInsert } from '../store/multi-row';
import type { Page, UsageRecord } from '../store/records';
import { clampLimit, page, text } from '../store/rows';

// Token usage events and their daily roll-ups: rows of `usage`, `usage_daily` (per day, agent,
// environment and model) and `usage_session_daily` (the same per session too).

function toUsage(row: Row): UsageRecord {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    sessionId: text(row.session_id),
    model: String(row.model),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    costUsd: Number(row.cost_usd),
    rateFound: Number(row.rate_found) === 1,
    createdAt: Number(row.created_at),
    receivedAt: Number(row.received_at ?? row.created_at),
  };
}

/** Filters of usage listings and aggregations. Times in ms; `to` is exclusive. */
export interface UsageFilter {
  agentId?: string;
  environment?: Environment;
  sessionId?: string;
  model?: string;
  from?: number;
  to?: number;
}

/** What usage can be grouped by. `day` is the UTC calendar day. */
export type UsageGrouping = 'model' | 'day' | 'session' | 'agent';

/** One group of usage: tokens and cost summed. */
export interface UsageAggregate {
  /** The model, day (`YYYY-MM-DD`), session id or agent id; null for usage without a session. */
  key: string | null;
  /** For `agent`: the agent's name. */
  label?: string;
  events: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  /** Events whose model had no price (counted at cost 0). */
  unpricedEvents: number;
}

const dayMilliseconds = 86_400_000;

function usageWhere(filter: UsageFilter): { where: string[]; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const add = (clause: string, value: SqlValue | undefined) => {
    if (value === undefined) return;
    where.push(clause);
    params.push(value);
  };
  add('u.agent_id = ?', filter.agentId);
  add('u.environment = ?', filter.environment);
  add('u.session_id = ?', filter.sessionId);
  add('u.model = ?', filter.model);
  add('u.created_at >= ?', filter.from);
  add('u.created_at < ?', filter.to);
  return { where, params };
}

interface Sums {
  events: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  unpricedEvents: number;
}

const dailyUpsertSql = `INSERT INTO usage_daily (day, agent_id, environment, model, events,
    prompt_tokens, completion_tokens, cost_usd, unpriced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (day, agent_id, environment, model) DO UPDATE SET
    events = usage_daily.events + excluded.events,
    prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
    cost_usd = usage_daily.cost_usd + excluded.cost_usd,
    unpriced = usage_daily.unpriced + excluded.unpriced`;

// The same statements merged, many rows per statement, by the group commit on PostgreSQL (see
// store/multi-row.ts); their parameters are in the order of the columns here.
const usageRows = unnestInsert({
  key: 'usage_insert',
  table: 'usage',
  columns: [
    ['id', 'text'],
    ['agent_id', 'text'],
    ['environment', 'text'],
    ['session_id', 'text'],
    ['model', 'text'],
    ['prompt_tokens', 'integer'],
    ['completion_tokens', 'integer'],
    ['cost_usd', 'double precision'],
    ['rate_found', 'integer'],
    ['created_at', 'bigint'],
    ['received_at', 'bigint'],
  ],
});

/**
 * Rows whose first `keys` values are equal, summed into one (the rest are amounts): one
 * statement cannot update a row twice.
 */
function sumByKey(
  keys: number,
): (rows: readonly (readonly SqlValue[])[]) => (readonly SqlValue[])[] {
  return (rows) => {
    const sums = new Map<string, SqlValue[]>();
    for (const row of rows) {
      const key = row.slice(0, keys).join('\u0000');
      const sum = sums.get(key);
      if (!sum) {
        sums.set(key, [...row]);
        continue;
      }
      for (let index = keys; index < row.length; index++) {
        sum[index] = Number(sum[index]) + Number(row[index]);
      }
    }
    return [...sums.values()];
  };
}

// One statement cannot update a row twice: the totals of one day, agent, environment and model
// are summed first (they arrive side by side, sorted by their lock key).
const dailyRows = unnestInsert({
  key: 'usage_daily_upsert',
  table: 'usage_daily',
  columns: [
    ['day', 'integer'],
    ['agent_id', 'text'],
    ['environment', 'text'],
    ['model', 'text'],
    ['events', 'bigint'],
    ['prompt_tokens', 'bigint'],
    ['completion_tokens', 'bigint'],
    ['cost_usd', 'double precision'],
    ['unpriced', 'bigint'],
  ],
  suffix: dailyUpsertSql.slice(dailyUpsertSql.indexOf('ON CONFLICT')),
  combine: sumByKey(4),
});

const sessionUpsertSql = `INSERT INTO usage_session_daily (day, agent_id, environment, session_id,
    model, events, prompt_tokens, completion_tokens, cost_usd, unpriced)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (model, day, agent_id, environment, session_id) DO UPDATE SET
    events = usage_session_daily.events + excluded.events,
    prompt_tokens = usage_session_daily.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = usage_session_daily.completion_tokens + excluded.completion_tokens,
    cost_usd = usage_session_daily.cost_usd + excluded.cost_usd,
    unpriced = usage_session_daily.unpriced + excluded.unpriced`;

const sessionRows = unnestInsert({
  key: 'usage_session_daily_upsert',
  table: 'usage_session_daily',
  columns: [
    ['day', 'integer'],
    ['agent_id', 'text'],
    ['environment', 'text'],
    ['session_id', 'text'],
    ['model', 'text'],
    ['events', 'bigint'],
    ['prompt_tokens', 'bigint'],
    ['completion_tokens', 'bigint'],
    ['cost_usd', 'double precision'],
    ['unpriced', 'bigint'],
  ],
  suffix: sessionUpsertSql.slice(sessionUpsertSql.indexOf('ON CONFLICT')),
  combine: sumByKey(5),
});

type NewUsage = Omit<UsageRecord, 'seq'>;

// The two totals tables: each one's key columns (after `day`) and the keys a record adds to (a
// session's usage adds to its model's row and to the row of every model, model '').
const totalsTables = [
  {
    table: 'usage_daily',
    keys: ['agent_id', 'environment', 'model'],
    keysOf: (record: NewUsage): SqlValue[][] => [
      [record.agentId, record.environment, record.model],
    ],
    statement: { sql: dailyUpsertSql, rows: dailyRows },
  },
  {
    table: 'usage_session_daily',
    keys: ['agent_id', 'environment', 'session_id', 'model'],
    keysOf: (record: NewUsage): SqlValue[][] => [
      [record.agentId, record.environment, record.sessionId ?? '', record.model],
      [record.agentId, record.environment, record.sessionId ?? '', ''],
    ],
    statement: { sql: sessionUpsertSql, rows: sessionRows },
  },
] as const;

/**
 * `records` summed per key of a totals table: the lock key of each total (the group committer
 * and the retention take the locks of totals in this order), and its parameters — the day and
 * the key columns, then events, prompt and completion tokens, cost and unpriced events.
 */
function totalsOf(records: readonly NewUsage[], tableIndex: 0 | 1): Map<string, SqlValue[]> {
  const { table, keysOf } = totalsTables[tableIndex];
  const totals = new Map<string, SqlValue[]>();
  for (const record of records) {
    for (const key of keysOf(record)) {
      const leading = [Math.floor(record.createdAt / dayMilliseconds), ...key];
      const lockKey = `${table}\u0000${leading.join('\u0000')}`;
      let sums = totals.get(lockKey);
      if (!sums) {
        sums = [...leading, 0, 0, 0, 0, 0];
        totals.set(lockKey, sums);
      }
      const at = leading.length;
      sums[at] = Number(sums[at]) + 1;
      sums[at + 1] = Number(sums[at + 1]) + record.promptTokens;
      sums[at + 2] = Number(sums[at + 2]) + record.completionTokens;
      sums[at + 3] = Number(sums[at + 3]) + record.costUsd;
      sums[at + 4] = Number(sums[at + 4]) + (record.rateFound ? 0 : 1);
    }
  }
  return totals;
}

/**
 * How a time range splits for the daily totals: whole UTC days (`firstDay` to before `endDay`,
 * either open) read from `usage_daily`, and the partial days at its ends read from the events.
 */
function splitRange(from: number | undefined, to: number | undefined) {
  const firstDay = from === undefined ? undefined : Math.ceil(from / dayMilliseconds);
  const endDay = to === undefined ? undefined : Math.floor(to / dayMilliseconds);
  if (firstDay !== undefined && endDay !== undefined && firstDay >= endDay) {
    return { days: undefined, edges: [{ from, to }] };
  }
  const edges: { from: number | undefined; to: number | undefined }[] = [];
  if (from !== undefined && firstDay !== undefined && from < firstDay * dayMilliseconds) {
    edges.push({ from, to: firstDay * dayMilliseconds });
  }
  if (to !== undefined && endDay !== undefined && endDay * dayMilliseconds < to) {
    edges.push({ from: endDay * dayMilliseconds, to });
  }
  return { days: { firstDay, endDay }, edges };
}

/** Token usage events and their aggregations. */
export function usageRepository(db: Queryable) {
  // Sums grouped by `groupBy` (or all together), from the daily totals and the events at the
  // partial days of the range. Not for session filters or grouping (the totals have none).
  async function summed(
    groupBy: Exclude<UsageGrouping, 'session'> | undefined,
    filter: UsageFilter,
  ): Promise<Map<string, Sums>> {
    const groups = new Map<string, Sums>();
    const add = (key: string, row: Row) => {
      const sums = groups.get(key) ?? {
        events: 0,
        promptTokens: 0,
        completionTokens: 0,
        costUsd: 0,
        unpricedEvents: 0,
      };
      sums.events += Number(row.events ?? 0);
      sums.promptTokens += Number(row.prompt_tokens ?? 0);
      sums.completionTokens += Number(row.completion_tokens ?? 0);
      sums.costUsd += Number(row.cost_usd ?? 0);
      sums.unpricedEvents += Number(row.unpriced ?? 0);
      groups.set(key, sums);
    };
    const { days, edges } = splitRange(filter.from, filter.to);
    if (days) {
      const where: string[] = [];
      const params: SqlValue[] = [];
      const condition = (clause: string, value: SqlValue | undefined) => {
        if (value === undefined) return;
        where.push(clause);
        params.push(value);
      };
      condition('agent_id = ?', filter.agentId);
      condition('environment = ?', filter.environment);
      condition('model = ?', filter.model);
      condition('day >= ?', days.firstDay);
      condition('day < ?', days.endDay);
      const key =
        groupBy === undefined ? "''" : { model: 'model', day: 'day', agent: 'agent_id' }[groupBy];
      const rows = await db.all<Row>(
        `SELECT ${key} AS key, SUM(events) AS events, SUM(prompt_tokens) AS prompt_tokens,
           SUM(completion_tokens) AS completion_tokens, SUM(cost_usd) AS cost_usd,
           SUM(unpriced) AS unpriced
         FROM usage_daily ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ${groupBy === undefined ? '' : `GROUP BY ${key}`}`,
        params,
      );
      for (const row of rows) if (Number(row.events ?? 0) > 0) add(String(row.key), row);
    }
    for (const edge of edges) {
      const { where, params } = usageWhere({ ...filter, from: edge.from, to: edge.to });
      const key =
        groupBy === undefined
          ? "''"
          : { model: 'u.model', day: `u.created_at / ${dayMilliseconds}`, agent: 'u.agent_id' }[
              groupBy
            ];
      const rows = await db.all<Row>(
        `SELECT ${key} AS key, COUNT(*) AS events, SUM(u.prompt_tokens) AS prompt_tokens,
           SUM(u.completion_tokens) AS completion_tokens, SUM(u.cost_usd) AS cost_usd,
           SUM(1 - u.rate_found) AS unpriced
         FROM usage u ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ${groupBy === undefined ? '' : `GROUP BY ${key}`}`,
        params,
      );
      for (const row of rows) if (Number(row.events) > 0) add(String(row.key), row);
    }
    return groups;
  }

  // Usage by session, biggest cost first: the session totals of the whole days of the range and
  // the events of its partial days, added up per session in one statement (which returns only
  // the first `limit`).
  async function bySession(filter: UsageFilter, limit: number): Promise<UsageAggregate[]> {
    const { days, edges } = splitRange(filter.from, filter.to);
    const parts: string[] = [];
    const params: SqlValue[] = [];
    if (days) {
      const where: string[] = [];
      const condition = (clause: string, value: SqlValue | undefined) => {
        if (value === undefined) return;
        where.push(clause);
        params.push(value);
      };
      // The rows of one model, or those of every model together (model '').
      condition('model = ?', filter.model ?? '');
      condition('day >= ?', days.firstDay);
      condition('day < ?', days.endDay);
      condition('agent_id = ?', filter.agentId);
      condition('environment = ?', filter.environment);
      parts.push(
        `SELECT session_id AS key, events, prompt_tokens, completion_tokens, cost_usd, unpriced
         FROM usage_session_daily ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
      );
    }
    for (const edge of edges) {
      const { where, params: edgeParams } = usageWhere({ ...filter, from: edge.from, to: edge.to });
      params.push(...edgeParams);
      parts.push(
        `SELECT COALESCE(u.session_id, '') AS key, 1 AS events, u.prompt_tokens,
           u.completion_tokens, u.cost_usd, 1 - u.rate_found AS unpriced
         FROM usage u ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
      );
    }
    const rows = await db.all<Row>(
      `SELECT t.key AS key, SUM(t.events) AS events, SUM(t.prompt_tokens) AS prompt_tokens,
         SUM(t.completion_tokens) AS completion_tokens, SUM(t.cost_usd) AS cost_usd,
         SUM(t.unpriced) AS unpriced
       FROM (${parts.join(' UNION ALL ')}) t
       GROUP BY t.key HAVING SUM(t.events) > 0
       ORDER BY cost_usd DESC, events DESC, key LIMIT ?`,
      [...params, limit],
    );
    return rows.map((row) =>
      aggregateOf(String(row.key) === '' ? null : String(row.key), {
        events: Number(row.events),
        promptTokens: Number(row.prompt_tokens ?? 0),
        completionTokens: Number(row.completion_tokens ?? 0),
        costUsd: Number(row.cost_usd ?? 0),
        unpricedEvents: Number(row.unpriced ?? 0),
      }),
    );
  }

  function aggregateOf(key: string | null, sums: Sums): UsageAggregate {
    return {
      key,
      events: sums.events,
      promptTokens: sums.promptTokens,
      completionTokens: sums.completionTokens,
      totalTokens: sums.promptTokens + sums.completionTokens,
      costUsd: sums.costUsd,
      unpricedEvents: sums.unpricedEvents,
    };
  }

  return {
    /**
     * The statements that store usage events: the events, and their addition to the daily
     * totals and the session totals (marked with a `lockKey`, so the group committer runs them last, in one order).
     * Commit them together (`committer.submitAll`).
     */
    writeStatements(records: readonly NewUsage[]): Statement[] {
      return [
        ...records.map((record) => this.insertStatement(record)),
        ...([0, 1] as const).flatMap((tableIndex) =>
          [...totalsOf(records, tableIndex).entries()].map(([lockKey, params]) => ({
            ...totalsTables[tableIndex].statement,
            params,
            lockKey,
          })),
        ),
      ];
    },
    /** Usage summed by model, UTC day, session or agent; biggest cost first (days in order). */
    async aggregate(
      groupBy: UsageGrouping,
      filter: UsageFilter = {},
      options: { limit?: number } = {},
    ): Promise<UsageAggregate[]> {
      // One session's events are found through its index; a session grouping adds up the
      // session totals.
      if (filter.sessionId !== undefined) return this.aggregateRaw(groupBy, filter, options);
      if (groupBy === 'session') return bySession(filter, clampLimit(options.limit, 1000, 10_000));
      const groups = await summed(groupBy, filter);
      let items = [...groups.entries()].map(([key, sums]) =>
        aggregateOf(
          groupBy === 'day'
            ? new Date(Number(key) * dayMilliseconds).toISOString().slice(0, 10)
            : key,
          sums,
        ),
      );
      items.sort((a, b) =>
        groupBy === 'day'
          ? String(a.key) < String(b.key)
            ? -1
            : 1
          : b.costUsd - a.costUsd || b.events - a.events,
      );
      items = items.slice(0, clampLimit(options.limit, 1000, 10_000));
      if (groupBy === 'agent' && items.length > 0) {
        const names = await db.all<{ id: string; name: string }>(
          `SELECT id, name FROM agents WHERE id IN (${items.map(() => '?').join(', ')})`,
          items.map((item) => item.key as string),
        );
        const byId = new Map(names.map((row) => [String(row.id), String(row.name)]));
        for (const item of items) item.label = byId.get(item.key as string);
      }
      return items;
    },
    /** Totals over the filter. */
    async totals(filter: UsageFilter = {}): Promise<Omit<UsageAggregate, 'key'>> {
      if (filter.sessionId !== undefined) return this.totalsRaw(filter);
      const sums = (await summed(undefined, filter)).get('') ?? {
        events: 0,
        promptTokens: 0,
        completionTokens: 0,
        costUsd: 0,
        unpricedEvents: 0,
      };
      const { key: _key, ...totals } = aggregateOf(null, sums);
      return totals;
    },
    /**
     * Recomputes the daily and session totals from the usage events (after usage rows were
     * written some other way than `writeStatements`, such as a bulk import). Run it in a
     * transaction.
     */
    async rebuildDaily(): Promise<void> {
      await db.run('DELETE FROM usage_daily');
      await db.run(
        `INSERT INTO usage_daily (day, agent_id, environment, model, events, prompt_tokens,
           completion_tokens, cost_usd, unpriced)
         SELECT created_at / ${dayMilliseconds}, agent_id, environment, model, COUNT(*),
           SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), SUM(1 - rate_found)
         FROM usage GROUP BY created_at / ${dayMilliseconds}, agent_id, environment, model`,
      );
      await db.run('DELETE FROM usage_session_daily');
      // As migration 14 fills it: per model, and every model together (model '').
      for (const model of ['model', "''"]) {
        await db.run(
          `INSERT INTO usage_session_daily (day, agent_id, environment, session_id, model, events,
             prompt_tokens, completion_tokens, cost_usd, unpriced)
           SELECT created_at / ${dayMilliseconds}, agent_id, environment,
             COALESCE(session_id, ''), ${model}, COUNT(*), SUM(prompt_tokens),
             SUM(completion_tokens), SUM(cost_usd), SUM(1 - rate_found)
           FROM usage GROUP BY created_at / ${dayMilliseconds}, agent_id, environment,
             COALESCE(session_id, '')${model === 'model' ? ', model' : ''}`,
        );
      }
    },
    /**
     * Deletes the daily and session totals of days before `day` (days since the epoch); returns
     * how many rows.
     */
    async purgeDailyBefore(day: number): Promise<number> {
      const daily = (await db.run('DELETE FROM usage_daily WHERE day < ?', [day])).changes;
      const sessions = (await db.run('DELETE FROM usage_session_daily WHERE day < ?', [day]))
        .changes;
      return daily + sessions;
    },
    /** The INSERT of one usage event alone; `writeStatements` adds the daily totals. */
    insertStatement(usage: NewUsage): Statement {
      return {
        sql: `INSERT INTO usage (id, agent_id, environment, session_id, model, prompt_tokens,
                completion_tokens, cost_usd, rate_found, created_at, received_at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        rows: usageRows,
        params: [
          usage.id,
          usage.agentId,
          usage.environment,
          usage.sessionId,
          usage.model,
          usage.promptTokens,
          usage.completionTokens,
          usage.costUsd,
          usage.rateFound ? 1 : 0,
          usage.createdAt,
          usage.receivedAt ?? usage.createdAt,
        ],
      };
    },
    /**
     * Usage events newest first (or oldest first with `order: 'asc'`: the simulation's spend
     * replay), by `seq`, `limit` per page.
     */
    async list(
      filter: UsageFilter = {},
      options: { cursor?: string; limit?: number; order?: 'asc' | 'desc' } = {},
    ): Promise<Page<UsageRecord>> {
      const limit = clampLimit(options.limit);
      const ascending = options.order === 'asc';
      const { where, params } = usageWhere(filter);
      const after = decodeCursor(options.cursor);
      if (after !== undefined) {
        where.push(ascending ? 'u.seq > ?' : 'u.seq < ?');
        params.push(after);
      }
      const rows = await db.all(
        `SELECT u.* FROM usage u ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY u.seq ${ascending ? 'ASC' : 'DESC'} LIMIT ?`,
        [...params, limit + 1],
      );
      return page(rows.map(toUsage), limit);
    },
    /**
     * Usage summed by model, UTC day, session or agent over the usage events themselves (what
     * `aggregate` does for one session; kept to check the totals against).
     */
    async aggregateRaw(
      groupBy: UsageGrouping,
      filter: UsageFilter = {},
      options: { limit?: number } = {},
    ): Promise<UsageAggregate[]> {
      const { where, params } = usageWhere(filter);
      const key = {
        model: 'u.model',
        day: `u.created_at / ${dayMilliseconds}`,
        session: 'u.session_id',
        agent: 'u.agent_id',
      }[groupBy];
      const join = groupBy === 'agent' ? 'LEFT JOIN agents a ON a.id = u.agent_id' : '';
      const label = groupBy === 'agent' ? ', MAX(a.name) AS label' : '';
      const rows = await db.all<Row>(
        `SELECT ${key} AS key${label}, COUNT(*) AS events,
           SUM(u.prompt_tokens) AS prompt_tokens, SUM(u.completion_tokens) AS completion_tokens,
           SUM(u.cost_usd) AS cost_usd, SUM(1 - u.rate_found) AS unpriced
         FROM usage u ${join} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         GROUP BY ${key}
         ORDER BY ${groupBy === 'day' ? 'key ASC' : 'cost_usd DESC, events DESC'} LIMIT ?`,
        [...params, clampLimit(options.limit, 1000, 10_000)],
      );
      return rows.map((row) => {
        const promptTokens = Number(row.prompt_tokens ?? 0);
        const completionTokens = Number(row.completion_tokens ?? 0);
        const aggregate: UsageAggregate = {
          key:
            groupBy === 'day'
              ? new Date(Number(row.key) * dayMilliseconds).toISOString().slice(0, 10)
              : text(row.key),
          events: Number(row.events),
          promptTokens,
          completionTokens,
          totalTokens: promptTokens + completionTokens,
          costUsd: Number(row.cost_usd ?? 0),
          unpricedEvents: Number(row.unpriced ?? 0),
        };
        if (groupBy === 'agent') aggregate.label = text(row.label) ?? undefined;
        return aggregate;
      });
    },
    /**
     * Deletes up to `limit` usage events from before `cutoff`, oldest first, and takes those of
     * the cutoff's own day out of that day's totals (the totals of the days wholly before it go
     * with `purgeDailyBefore`), so that totals and events keep agreeing; returns how many. Run
     * it in a transaction.
     */
    async purgeOlderThan(cutoff: number, limit: number): Promise<number> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const deleted = await db.all<Row>(
        `DELETE FROM usage WHERE seq IN (
           SELECT seq FROM usage WHERE created_at < ? ORDER BY created_at LIMIT ? ${lock})
         RETURNING *`,
        [cutoff, limit],
      );
      // Their sessions' spend changed: their memory versions move (PostgreSQL, memory/bump.ts).
      await bumpVersions(
        db,
        deleted.flatMap((row) =>
          row.session_id === null || row.session_id === undefined
            ? []
            : [
                sessionScopeKey(
                  String(row.agent_id),
                  String(row.environment),
                  String(row.session_id),
                ),
              ],
        ),
      );
      const keptDay = Math.floor(cutoff / dayMilliseconds);
      const partial = deleted
        .map(toUsage)
        .filter((record) => Math.floor(record.createdAt / dayMilliseconds) >= keptDay);
      // In the lock order of the usage writes (by lock key), so that neither waits on the other
      // in a cycle.
      const updates = ([0, 1] as const).flatMap((tableIndex) =>
        [...totalsOf(partial, tableIndex).entries()].map(([lockKey, params]) => ({
          lockKey,
          params,
          tableIndex,
        })),
      );
      updates.sort((a, b) => (a.lockKey < b.lockKey ? -1 : a.lockKey > b.lockKey ? 1 : 0));
      for (const { params, tableIndex } of updates) {
        const { table, keys } = totalsTables[tableIndex];
        const at = keys.length + 1;
        await db.run(
          `UPDATE ${table} SET events = events - ?, prompt_tokens = prompt_tokens - ?,
             completion_tokens = completion_tokens - ?, cost_usd = cost_usd - ?,
             unpriced = unpriced - ?
           WHERE day = ? AND ${keys.map((key) => `${key} = ?`).join(' AND ')}`,
          [...params.slice(at), ...params.slice(0, at)],
        );
      }
      return deleted.length;
    },
    /** Totals over the usage events themselves. */
    async totalsRaw(filter: UsageFilter = {}): Promise<Omit<UsageAggregate, 'key'>> {
      const { where, params } = usageWhere(filter);
      const row = await db.get<Row>(
        `SELECT COUNT(*) AS events, SUM(u.prompt_tokens) AS prompt_tokens,
           SUM(u.completion_tokens) AS completion_tokens, SUM(u.cost_usd) AS cost_usd,
           SUM(1 - u.rate_found) AS unpriced
         FROM usage u ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
        params,
      );
      const promptTokens = Number(row?.prompt_tokens ?? 0);
      const completionTokens = Number(row?.completion_tokens ?? 0);
      return {
        events: Number(row?.events ?? 0),
        promptTokens,
        completionTokens,
        totalTokens: promptTokens + completionTokens,
        costUsd: Number(row?.cost_usd ?? 0),
        unpricedEvents: Number(row?.unpriced ?? 0),
      };
    },
  };
}
