// The action log and usage at scale: seeds N actions (and N/2 usage events) spread over 120 days
// into a fresh store — SQLite, and PostgreSQL when one answers — then times the queries the
// admin API and dashboard make (action-log filters, sessions, usage aggregations), each as a
// p95 beside two baselines from the same run: a lookup by primary key (the floor) and a full
// COUNT(*) of the table (what a query costs that reads everything). Also the cost the indexes
// add to the insert hot path: group-committed inserts with and without them.
//   node src/run.ts --only log-scale            (1 000 000 actions per store)
//   ARDEN_BENCH_LOG_ROWS=200000 node src/run.ts --only log-scale
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  type Database,
  openStore,
  PostgresDatabase,
  type SqlValue,
  type Store,
  uuidv7,
} from '@arden/server';
import { summarize } from '../stats.ts';
import { type Benchmark, type BenchResult, type Measurement, ratio } from '../types.ts';

const day = 86_400_000;
const spanDays = 120;
const tools = [
  ...Array.from({ length: 40 }, (_, index) => `crm.tool_${index}`),
  'stripe.issue_refund',
  'stripe.charge',
  'stripe.lookup',
  'email.send',
  'email.draft',
  'db.query',
  'db.drop_table',
  'shell.run',
  'files.read',
  'files.write',
];
const rareTool = 'db.drop_table';
const commonTools = tools.filter((tool) => tool !== rareTool);
const models = [
  'gpt-4o',
  'gpt-4o-mini',
  'claude-sonnet-4-5',
  'claude-haiku-4-5',
  'gemini-2.5-flash',
  'gemini-2.5-pro',
  'o3-mini',
  'mystery-model',
];

// A small deterministic generator, so both stores get the same data.
function generator(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Seeded {
  agents: string[];
  start: number;
  end: number;
  sessions: string[];
  pendingSample: string[];
  ids: string[];
}

const actionColumns = [
  'id',
  'agent_id',
  'environment',
  'tool_name',
  'args',
  'kwargs',
  'metadata',
  'session_id',
  'decision',
  'reason',
  'policy',
  'status',
  'expires_at',
  'on_timeout',
  'decided_by',
  'decided_at',
  'notes',
  'created_at',
];
const usageColumns = [
  'id',
  'agent_id',
  'environment',
  'session_id',
  'model',
  'prompt_tokens',
  'completion_tokens',
  'cost_usd',
  'rate_found',
  'created_at',
];

function insertSql(table: string, columns: string[], rows: number): string {
  const row = `(${columns.map(() => '?').join(', ')})`;
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')}`;
}

/** Seeds `count` actions and `count / 2` usage events, oldest first, in multi-row batches. */
export async function seed(
  store: Store,
  count: number,
  log: (message: string) => void,
): Promise<Seeded> {
  const random = generator(42);
  const now = Date.now();
  const start = now - spanDays * day;
  const agents: string[] = [];
  for (let index = 0; index < 5; index++) {
    const id = uuidv7(start);
    agents.push(id);
    await store.agents.insert({
      id,
      name: `agent-${index}`,
      description: null,
      defaultAction: 'allow',
      webhookUrl: null,
      signingKey: 'whsec_bench',
      createdAt: start,
      updatedAt: start,
      deletedAt: null,
    });
  }
  const sessions: string[] = [];
  // Each session's agent and environment, by its index in `sessions`.
  const owners: { agent: string; environment: string }[] = [];
  const pendingSample: string[] = [];
  const ids: string[] = [];
  const batch = 500;
  const started = performance.now();
  let session: { id: string; agent: string; environment: string; left: number } | undefined;
  for (let offset = 0; offset < count; offset += batch) {
    const rows = Math.min(batch, count - offset);
    const params: SqlValue[] = [];
    for (let index = 0; index < rows; index++) {
      const n = offset + index;
      const at = Math.floor(start + ((now - start) * n) / count);
      if (!session || session.left === 0) {
        session =
          random() < 0.6
            ? {
                id: `session-${n.toString(36)}`,
                agent: agents[Math.floor(random() * agents.length)] as string,
                environment: random() < 0.5 ? 'live' : 'test',
                left: 5 + Math.floor(random() * 30),
              }
            : {
                id: '',
                agent: agents[Math.floor(random() * agents.length)] as string,
                environment: random() < 0.5 ? 'live' : 'test',
                left: 10,
              };
        if (session.id) {
          sessions.push(session.id);
          owners.push({ agent: session.agent, environment: session.environment });
        }
      }
      session.left--;
      const roll = random();
      const tool =
        roll < 0.0005
          ? rareTool
          : (commonTools[Math.floor(random() * commonTools.length)] as string);
      const decision = roll < 0.9 ? 'allow' : roll < 0.95 ? 'block' : 'requires_approval';
      const recent = count - n < 2_000;
      const status =
        decision !== 'requires_approval'
          ? 'completed'
          : recent && random() < 0.5
            ? 'pending'
            : (['approved', 'denied', 'expired'][Math.floor(random() * 3)] as string);
      const id = uuidv7(at);
      if (n % Math.max(1, Math.floor(count / 1_000)) === 0) ids.push(id);
      if (status === 'pending') pendingSample.push(id);
      params.push(
        id,
        session.agent,
        session.environment,
        tool,
        '[]',
        JSON.stringify({ amount: Math.floor(random() * 500), to: 'someone@example.com' }),
        null,
        session.id || null,
        decision,
        decision === 'allow' ? 'no_policy_configured' : 'rule_matched',
        null,
        status,
        decision === 'requires_approval' ? at + 3_600_000 : null,
        decision === 'requires_approval' ? 'deny' : null,
        status === 'approved' || status === 'denied' ? 'user-1' : null,
        status === 'pending' ? null : at,
        null,
        at,
      );
    }
    await store.database.run(insertSql('actions', actionColumns, rows), params);
    if (offset > 0 && offset % 200_000 === 0) log(`${offset.toLocaleString('en-US')} actions…`);
  }
  const usageCount = Math.floor(count / 2);
  for (let offset = 0; offset < usageCount; offset += batch) {
    const rows = Math.min(batch, usageCount - offset);
    const params: SqlValue[] = [];
    for (let index = 0; index < rows; index++) {
      const n = offset + index;
      const at = Math.floor(start + ((now - start) * n) / usageCount);
      const model = models[Math.floor(random() * models.length)] as string;
      // A session's LLM calls are its agent's, and happen while it runs: one of the sessions of
      // that moment (the sessions are in time order; ±20 around it, so about an hour).
      const near = Math.floor((n / usageCount) * sessions.length) + Math.floor(random() * 41) - 20;
      const which = Math.min(sessions.length - 1, Math.max(0, near));
      const inSession = random() < 0.7;
      const owner = inSession ? owners[which] : undefined;
      params.push(
        uuidv7(at),
        owner?.agent ?? (agents[Math.floor(random() * agents.length)] as string),
        owner?.environment ?? (random() < 0.5 ? 'live' : 'test'),
        inSession ? (sessions[which] as string) : null,
        model,
        100 + Math.floor(random() * 2_000),
        20 + Math.floor(random() * 500),
        model === 'mystery-model' ? 0 : random() / 100,
        model === 'mystery-model' ? 0 : 1,
        at,
      );
    }
    await store.database.run(insertSql('usage', usageColumns, rows), params);
  }
  // Rows written in bulk: the daily and session usage totals are computed once, as the
  // migrations do (timed: what migration 13 costs at this size, with migration 3's pass).
  const totalsStarted = performance.now();
  await store.transaction((repositories) => repositories.usage.rebuildDaily());
  log(
    `usage totals (daily, and per session) computed from ${usageCount.toLocaleString('en-US')} events in ${((performance.now() - totalsStarted) / 1000).toFixed(1)} s`,
  );
  await store.database.exec('ANALYZE');
  log(
    `seeded ${count.toLocaleString('en-US')} actions and ${usageCount.toLocaleString('en-US')} usage events in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return { agents, start, end: now, sessions, pendingSample, ids };
}

interface QueryCase {
  name: string;
  run: (index: number) => Promise<unknown>;
  /** The p95 goal in ms (50 unless said: a 90-day window's goal is 300 ms, issue #14). */
  goalMs?: number;
  /** A figure to compare with (the way a query was answered before), with no goal. */
  reference?: boolean;
}

export function queries(store: Store, seeded: Seeded): QueryCase[] {
  const { agents, end, sessions } = seeded;
  const pick = <T>(items: readonly T[], index: number): T => items[index % items.length] as T;
  const recentSessions = sessions.slice(-500);
  const oldSessions = sessions.slice(0, 500);
  const last30 = { from: end - 30 * day, to: end };
  const last90 = { from: end - 90 * day, to: end };
  const wide = 300;
  return [
    { name: 'actions: newest page (no filter)', run: () => store.actions.list({}, { limit: 50 }) },
    {
      name: 'actions: agent + environment',
      run: (index) =>
        store.actions.list(
          { agentId: pick(agents, index), environment: index % 2 ? 'live' : 'test' },
          { limit: 50 },
        ),
    },
    {
      name: 'actions: one tool (frequent)',
      run: (index) => store.actions.list({ tool: pick(commonTools, index) }, { limit: 50 }),
    },
    {
      name: 'actions: one tool (rare, 0.05 %)',
      run: () => store.actions.list({ tool: rareTool }, { limit: 50 }),
    },
    {
      name: 'actions: tool prefix (stripe.*)',
      run: () => store.actions.list({ tool: 'stripe.*' }, { limit: 50 }),
    },
    {
      name: 'actions: decision = block',
      run: () => store.actions.list({ decision: 'block' }, { limit: 50 }),
    },
    {
      name: 'actions: status = pending (the approval queue)',
      run: () => store.actions.list({ status: 'pending' }, { limit: 50, order: 'asc' }),
    },
    {
      name: 'actions: status = denied, one agent',
      run: (index) =>
        store.actions.list({ status: 'denied', agentId: pick(agents, index) }, { limit: 50 }),
    },
    {
      name: 'actions: one session (recent)',
      run: (index) => store.actions.list({ sessionId: pick(recentSessions, index) }, { limit: 50 }),
    },
    {
      name: 'actions: one session (old)',
      run: (index) => store.actions.list({ sessionId: pick(oldSessions, index) }, { limit: 50 }),
    },
    {
      name: 'actions: one day, 60–90 days ago',
      run: (index) => {
        const from = end - (60 + (index % 30)) * day;
        return store.actions.list({ from, to: from + day }, { limit: 50 });
      },
    },
    {
      name: 'actions: one day ago + agent + tool',
      run: (index) => {
        const from = end - (20 + (index % 30)) * day;
        return store.actions.list(
          { from, to: from + day, agentId: pick(agents, index), tool: pick(tools, index) },
          { limit: 50 },
        );
      },
    },
    {
      name: 'actions: page 20 of the log (cursor)',
      run: async () => {
        let cursor: string | undefined;
        for (let page = 0; page < 20; page++) {
          cursor = (await store.actions.list({}, { cursor, limit: 50 })).nextCursor;
        }
      },
    },
    {
      name: 'sessions: most recent page',
      run: () => store.actions.listSessions({}, { limit: 50 }),
    },
    {
      name: 'sessions: one agent, last 30 days',
      run: (index) => store.actions.listSessions({ agentId: pick(agents, index), ...last30 }),
    },
    {
      name: 'usage: by model, last 30 days',
      run: () => store.usage.aggregate('model', last30),
    },
    {
      name: 'usage: by day, last 30 days',
      run: () => store.usage.aggregate('day', last30),
    },
    {
      name: 'usage: by session, one agent, last 30 days',
      run: (index) => store.usage.aggregate('session', { agentId: pick(agents, index), ...last30 }),
    },
    {
      name: 'usage: by agent, last 30 days',
      run: () => store.usage.aggregate('agent', last30),
    },
    {
      name: 'usage: totals, last 30 days',
      run: () => store.usage.totals(last30),
    },
    // 90-day windows (three quarters of the log): what the dashboard's wide presets ask.
    {
      name: 'actions: 90 days, newest page',
      run: () => store.actions.list(last90, { limit: 100 }),
      goalMs: wide,
    },
    {
      name: 'actions: 90 days, decision = block',
      run: () => store.actions.list({ ...last90, decision: 'block' }, { limit: 100 }),
      goalMs: wide,
    },
    {
      name: 'actions: 90 days, one tool (rare, 0.05 %)',
      run: () => store.actions.list({ ...last90, tool: rareTool }, { limit: 100 }),
      goalMs: wide,
    },
    {
      name: 'sessions: 90 days',
      run: () => store.actions.listSessions(last90, { limit: 100 }),
      goalMs: wide,
    },
    {
      name: 'sessions: 90 days, one agent',
      run: (index) =>
        store.actions.listSessions({ ...last90, agentId: pick(agents, index) }, { limit: 100 }),
      goalMs: wide,
    },
    {
      name: 'usage: by model, 90 days',
      run: () => store.usage.aggregate('model', last90),
      goalMs: wide,
    },
    {
      name: 'usage: by session, 90 days',
      run: () => store.usage.aggregate('session', last90, { limit: 100 }),
      goalMs: wide,
    },
    {
      name: 'usage: by session, 90 days, summed from the events (before migration 13)',
      run: () => store.usage.aggregateRaw('session', last90, { limit: 100 }),
      reference: true,
    },
    {
      name: 'usage: by session, 90 days, one agent',
      run: (index) =>
        store.usage.aggregate(
          'session',
          { ...last90, agentId: pick(agents, index) },
          { limit: 100 },
        ),
      goalMs: wide,
    },
    {
      name: 'usage: by session, 90 days, one model, live',
      run: (index) =>
        store.usage.aggregate(
          'session',
          { ...last90, model: pick(models, index), environment: 'live' },
          { limit: 100 },
        ),
      goalMs: wide,
    },
    {
      name: 'usage: by session, all time',
      run: () => store.usage.aggregate('session', {}, { limit: 100 }),
      goalMs: wide,
    },
    {
      name: 'usage: by day, 90 days',
      run: () => store.usage.aggregate('day', last90),
      goalMs: wide,
    },
    {
      name: 'usage: by agent, 90 days',
      run: () => store.usage.aggregate('agent', last90),
      goalMs: wide,
    },
    {
      name: 'usage: totals, 90 days',
      run: () => store.usage.totals(last90),
      goalMs: wide,
    },
    {
      name: 'usage: by model, all time',
      run: () => store.usage.aggregate('model', {}),
      goalMs: wide,
    },
    {
      name: 'usage: one session',
      run: (index) => store.usage.totals({ sessionId: pick(recentSessions, index) }),
    },
  ];
}

async function p95(samples: number, run: (index: number) => Promise<unknown>): Promise<number> {
  await run(0); // warm the cache and the statement
  const durations: number[] = [];
  for (let index = 1; index <= samples; index++) {
    const started = performance.now();
    await run(index);
    durations.push(performance.now() - started);
  }
  return summarize(durations).p95;
}

// Indexes migrations add for the log's scale, with the SQL that creates each (they are dropped
// and created again to measure the insert cost they add).
async function scaleIndexes(database: Database): Promise<{ name: string; sql: string }[]> {
  const rows =
    database.dialect === 'postgres'
      ? await database.all<{ name: string; sql: string }>(
          `SELECT indexname AS name, indexdef AS sql FROM pg_indexes
           WHERE schemaname = current_schema() AND tablename IN ('actions', 'usage')
             AND indexname LIKE '%\\_scale\\_%' ESCAPE '\\'`,
        )
      : await database.all<{ name: string; sql: string }>(
          `SELECT name, sql FROM sqlite_master WHERE type = 'index'
             AND tbl_name IN ('actions', 'usage') AND name LIKE '%\\_scale\\_%' ESCAPE '\\'`,
        );
  return rows.map((row) => ({ name: String(row.name), sql: String(row.sql) }));
}

/** Checks per second through the group committer (bursts of 200), on the seeded table. */
async function insertRate(store: Store, agentId: string, count: number): Promise<number> {
  const started = performance.now();
  const base = Date.now();
  for (let offset = 0; offset < count; offset += 200) {
    await Promise.all(
      Array.from({ length: 200 }, (_, index) => {
        const at = base + offset + index;
        return store.committer.submit(
          store.actions.insertStatement({
            id: uuidv7(at),
            agentId,
            environment: 'live',
            toolName: pickTool(offset + index),
            args: [],
            kwargs: { amount: index },
            metadata: null,
            sessionId: index % 3 === 0 ? null : `insert-session-${offset}`,
            decision: 'allow',
            reason: 'no_policy_configured',
            policy: null,
            status: 'completed',
            expiresAt: null,
            onTimeout: null,
            decidedBy: null,
            decidedAt: at,
            notes: null,
            resultStatus: null,
            durationMs: null,
            resultError: null,
            result: null,
            reportedAt: null,
            createdAt: at,
          }),
        );
      }),
    );
  }
  return (count / (performance.now() - started)) * 1000;
}

function pickTool(index: number): string {
  return tools[index % tools.length] as string;
}

interface Target {
  label: string;
  open(): Promise<{ store: Store; cleanup: () => Promise<void> }>;
}

async function postgresTarget(log: (message: string) => void): Promise<Target | undefined> {
  const url =
    process.env.ARDEN_BENCH_POSTGRES_URL ??
    process.env.ARDEN_TEST_POSTGRES_URL ??
    'postgres://postgres@127.0.0.1:5432/test';
  const silent = createLogger('silent');
  try {
    await (await PostgresDatabase.connect(url, silent)).close();
  } catch (error) {
    if (process.env.ARDEN_REQUIRE_POSTGRES) {
      throw new Error(`PostgreSQL at ${url} does not answer: ${(error as Error).message}`);
    }
    log(`PostgreSQL at ${url} does not answer; measuring SQLite only`);
    return undefined;
  }
  return {
    label: 'PostgreSQL',
    async open() {
      const schema = `arden_bench_${Math.random().toString(36).slice(2, 10)}`;
      const admin = await PostgresDatabase.connect(url, silent);
      await admin.exec(`CREATE SCHEMA ${schema}`);
      await admin.close();
      const scoped = new URL(url);
      scoped.searchParams.set('options', `-c search_path=${schema}`);
      const store = await openStore({
        databaseUrl: scoped.toString(),
        logger: silent,
      });
      return {
        store,
        async cleanup() {
          await store.close();
          const dropper = await PostgresDatabase.connect(url, silent);
          await dropper.exec(`DROP SCHEMA ${schema} CASCADE`);
          await dropper.close();
        },
      };
    },
  };
}

const sqliteTarget: Target = {
  label: 'SQLite',
  async open() {
    const dataDir = mkdtempSync(join(tmpdir(), 'arden-bench-log-'));
    const store = await openStore({ dataDir, logger: createLogger('silent') });
    return {
      store,
      async cleanup() {
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};

export const logScale: Benchmark = {
  name: 'log-scale',
  description:
    'Action-log filters and usage aggregations at 1 000 000 actions (p95), on SQLite and PostgreSQL',
  async run({ smoke, log }): Promise<BenchResult> {
    const count = smoke ? 20_000 : Number(process.env.ARDEN_BENCH_LOG_ROWS ?? 1_000_000);
    const samples = smoke ? 5 : 30;
    // ARDEN_BENCH_LOG_STORES=sqlite|postgres measures one store; ARDEN_BENCH_LOG_QUERIES=text
    // only the queries whose name holds it (and not the insert path): a run that fits in a few
    // minutes.
    const stores = process.env.ARDEN_BENCH_LOG_STORES ?? 'sqlite,postgres';
    const only = process.env.ARDEN_BENCH_LOG_QUERIES;
    const targets = [
      ...(stores.includes('sqlite') ? [sqliteTarget] : []),
      ...(stores.includes('postgres')
        ? [await postgresTarget(log)].filter((t) => t !== undefined)
        : []),
    ];
    const measurements: Measurement[] = [];
    const notes: string[] = [
      `${count.toLocaleString('en-US')} actions and ${Math.floor(count / 2).toLocaleString('en-US')} usage events over ${spanDays} days, 5 agents, 50 tools, sessions of 5–35 calls; p95 of ${samples} runs each.`,
    ];
    for (const target of targets as Target[]) {
      log(`${target.label}: seeding ${count.toLocaleString('en-US')} actions…`);
      const { store, cleanup } = await target.open();
      try {
        const seeded = await seed(store, count, log);
        const lookup = await p95(samples, (index) =>
          store.actions.get(seeded.ids[index % seeded.ids.length] as string),
        );
        const fullCount = await p95(Math.min(samples, 10), () =>
          store.database.get('SELECT COUNT(*) AS n FROM actions'),
        );
        measurements.push({
          metric: `${target.label} baseline: action by primary key, p95`,
          value: lookup,
          unit: 'ms',
        });
        measurements.push({
          metric: `${target.label} baseline: full COUNT(*) of actions, p95`,
          value: fullCount,
          unit: 'ms',
        });
        for (const query of queries(store, seeded).filter(
          (query) => only === undefined || query.name.includes(only),
        )) {
          const value = await p95(samples, query.run);
          log(`${target.label} ${query.name}: p95 ${value.toFixed(3)} ms`);
          measurements.push({
            metric: `${target.label} ${query.name}, p95`,
            value,
            unit: 'ms',
            baseline: { name: 'full COUNT(*) of actions', value: fullCount },
            ratio: ratio(value, fullCount),
            ...(query.reference
              ? {}
              : { goal: `≤ ${query.goalMs ?? 50} ms`, met: value <= (query.goalMs ?? 50) }),
          });
        }
        if (only !== undefined) continue;
        // The insert hot path: with every index and without the scale indexes, twice each,
        // alternating (the table grows and warms as it goes).
        const inserts = smoke ? 2_000 : 20_000;
        const agentId = seeded.agents[0] as string;
        await insertRate(store, agentId, Math.min(2_000, inserts)); // warm-up
        const indexes = await scaleIndexes(store.database);
        const rates = { with: [] as number[], without: [] as number[] };
        for (let round = 0; round < 2; round++) {
          rates.with.push(await insertRate(store, agentId, inserts));
          for (const index of indexes) await store.database.exec(`DROP INDEX ${index.name}`);
          rates.without.push(await insertRate(store, agentId, inserts));
          if (round === 0) for (const index of indexes) await store.database.exec(index.sql);
        }
        const mean = (values: number[]) =>
          values.reduce((sum, value) => sum + value, 0) / values.length;
        measurements.push({
          metric: `${target.label} inserts through the group committer, with the ${indexes.length} scale indexes`,
          value: mean(rates.with),
          unit: '/s',
          baseline: { name: 'without them', value: mean(rates.without) },
          ratio: ratio(mean(rates.with), mean(rates.without)),
        });
        const addedMicroseconds = 1e6 / mean(rates.with) - 1e6 / mean(rates.without);
        measurements.push({
          metric: `${target.label} time the scale indexes add to one insert`,
          value: Math.max(0.001, addedMicroseconds),
          unit: 'µs',
          baseline: { name: 'one insert without them', value: 1e6 / mean(rates.without) },
          ratio: ratio(Math.max(0.001, addedMicroseconds), 1e6 / mean(rates.without)),
          goal: '≤ 0.2× an insert',
          met: addedMicroseconds <= 0.2 * (1e6 / mean(rates.without)),
        });
      } finally {
        await cleanup();
      }
    }
    return { name: 'log-scale', measurements, notes };
  },
};
