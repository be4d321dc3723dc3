import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type LoadResult, runLoad } from '../load.ts';
import { freshPostgres } from '../postgres.ts';
import { processCpuMs, startArden, startBare, startProcess } from '../processes.ts';
import { type Benchmark, type Measurement, ratio } from '../types.ts';

// The receipt secret of the PostgreSQL run with receipts on (PostgreSQL signs receipts only
// with one: it stores the signing key encrypted with it).
const benchReceiptSecret = 'throughput-bench-receipt-secret-0123456789';

/**
 * Starts Arden with the receipt settings given (`ARDEN_RECEIPTS`, `ARDEN_RECEIPT_SECRET`; the
 * server reads them from its environment) and checks that receipts are as expected: each figure
 * says whether its checks were signed.
 */
async function startArdenWithReceipts(
  receipts: 'on' | 'off',
  databaseUrl?: string,
  secret?: string,
): ReturnType<typeof startArden> {
  const saved = {
    ARDEN_RECEIPTS: process.env.ARDEN_RECEIPTS,
    ARDEN_RECEIPT_SECRET: process.env.ARDEN_RECEIPT_SECRET,
  };
  process.env.ARDEN_RECEIPTS = receipts;
  if (secret === undefined) delete process.env.ARDEN_RECEIPT_SECRET;
  else process.env.ARDEN_RECEIPT_SECRET = secret;
  let server: Awaited<ReturnType<typeof startArden>>;
  try {
    server = await startArden(50, databaseUrl);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  const keys = (await (await fetch(`${server.info.url}/.well-known/arden-keys.json`)).json()) as {
    receipts: string;
  };
  if (keys.receipts !== (receipts === 'on' ? 'enabled' : 'disabled')) {
    await server.stop();
    throw new Error(`Receipts should be ${receipts}; the server says ${keys.receipts}.`);
  }
  return server;
}

/**
 * One measured run against a server: a 500 ms warm-up, then `durationMs` of 64 keep-alive
 * clients, with the server process's CPU per answered request. Throws when it answered errors.
 */
async function measure(
  server: { url: string; pid: number },
  label: string,
  bodies: string[],
  durationMs: number,
  headers?: Record<string, string>,
): Promise<{ result: LoadResult; cpuUs: number }> {
  const load = (ms: number) =>
    runLoad({
      url: server.url,
      path: '/policy/check',
      bodies,
      headers,
      connections: 64,
      durationMs: ms,
    });
  await load(500);
  const cpuBefore = processCpuMs(server.pid);
  const result = await load(durationMs);
  const cpuUs = ((processCpuMs(server.pid) - cpuBefore) * 1000) / Math.max(1, result.requests);
  if (result.errors > 0)
    throw new Error(`${label} answered errors: ${JSON.stringify(result.statuses)}`);
  return { result, cpuUs };
}

const bareBaseline = 'bare node:http, same JSON';

/** A rate against a baseline rate. */
function perSecond(metric: string, value: number, name: string, base: number): Measurement {
  return { metric, value, unit: '/s', baseline: { name, value: base }, ratio: ratio(value, base) };
}

/** A server's CPU per check against another's, in µs. */
function cpuPerCheck(metric: string, us: number, name: string, baseUs: number): Measurement {
  const value = Number(us.toFixed(1));
  return {
    metric,
    value,
    unit: 'µs',
    baseline: { name, value: Number(baseUs.toFixed(1)) },
    ratio: ratio(us, baseUs),
  };
}

/** Starts the server `fixtures/<script>`, measures it as `measure` does, and stops it. */
async function measureFixture(
  script: string,
  args: string[],
  label: string,
  bodies: string[],
  durationMs: number,
): Promise<{ result: LoadResult; cpuUs: number }> {
  const server = await startProcess<{ url: string; pid: number }>(script, args);
  try {
    return await measure(server.info, label, bodies, durationMs);
  } finally {
    await server.stop();
  }
}

/**
 * Policy checks per second with every check durably logged before its answer, 64 concurrent
 * keep-alive clients, against 50 policies with CEL rules. Baseline in the same run: a bare
 * node:http server answering the same JSON; and the floors, servers with no Arden code that do
 * only the durable (and on the embedded store, signed and chained) write of each check. Also
 * reports the server's memory under this load, and the same run on PostgreSQL (every check committed with synchronous_commit on), with
 * receipts off and, in a second run, on.
 */
export const throughput: Benchmark = {
  name: 'throughput',
  description: 'Checks per second, 64 keep-alive clients, every check committed before its answer',
  async run({ smoke, log }) {
    const durationMs = smoke ? 1_000 : 10_000;
    const tools = [
      'payments0.issue_refund',
      'mail1.send',
      'db2.delete_rows',
      'crm3.lookup',
      'other.tool',
    ];
    const bodies = Array.from({ length: 100 }, (_, index) =>
      JSON.stringify({
        tool_name: tools[index % tools.length],
        args: [],
        kwargs: { amount: index % 120, to: 'x@example.com', table: 'orders', limit: 10, id: index },
        metadata: { session_id: `session-${index % 10}` },
      }),
    );
    const bare = await startBare();
    let bareRate: number;
    try {
      log('bare node:http baseline');
      bareRate = (await measure(bare.info, 'The bare server', bodies, durationMs)).result.perSecond;
    } finally {
      await bare.stop();
    }
    // The embedded store with receipts on, as it runs by default (a secret made beside the
    // database): every check signed and its receipt written in its commit.
    const arden = await startArdenWithReceipts('on');
    let sqlite: { perSecond: number; requests: number };
    let idleRss: number;
    // The server process's CPU per check: where the time goes on each store (on PostgreSQL the
    // database's own processes work besides, on the same cores here).
    let sqliteCpuUs = 0;
    let sqliteFloor: { perSecond: number; requests: number };
    let sqliteFloorCpuUs = 0;
    let postgresCpuUs = 0;
    let peakRss: number;
    try {
      idleRss = arden.rssMiB();
      log('Arden, embedded store');
      peakRss = idleRss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, arden.rssMiB());
      }, 200);
      try {
        const run = await measure(arden.info, 'Arden', bodies, durationMs, {
          'x-api-key': arden.info.key,
        });
        sqlite = run.result;
        sqliteCpuUs = run.cpuUs;
      } finally {
        clearInterval(sampler);
      }
      // What the machine allows on the embedded store with no Arden code: the same JSON parsed,
      // each check signed, chained and committed with its receipt into Arden's own tables (their
      // CREATE statements read from the database this run just wrote), one transaction a turn.
      log('embedded store floor (no Arden code)');
      const floorDir = mkdtempSync(join(tmpdir(), 'arden-sqlite-floor-'));
      try {
        const run = await measureFixture(
          'sqlite-floor-server.ts',
          [floorDir, join(arden.dataDir, 'arden.db')],
          'The embedded floor',
          bodies,
          durationMs,
        );
        sqliteFloor = run.result;
        sqliteFloorCpuUs = run.cpuUs;
      } finally {
        rmSync(floorDir, { recursive: true, force: true });
      }
    } finally {
      await arden.stop();
    }
    log('Arden, PostgreSQL, receipts off');
    const database = await freshPostgres();
    let postgres: { perSecond: number; requests: number };
    let signed: { perSecond: number; requests: number };
    let signedCpuUs = 0;
    let floor: { perSecond: number; requests: number };
    let floorCpuUs = 0;
    let sameShape: string;
    try {
      // Receipts off, as PostgreSQL runs without ARDEN_RECEIPT_SECRET: the figure of earlier
      // runs, kept comparable.
      const onPostgres = await startArdenWithReceipts('off', database.url);
      try {
        const run = await measure(onPostgres.info, 'Arden on PostgreSQL', bodies, durationMs, {
          'x-api-key': onPostgres.info.key,
        });
        postgres = run.result;
        postgresCpuUs = run.cpuUs;
      } finally {
        await onPostgres.stop();
      }
      // Receipts on (ARDEN_RECEIPT_SECRET set), as the embedded store runs: each check's receipt
      // signed and written in its commit, and the audit sealer chaining them. A fresh schema, so
      // that both PostgreSQL runs start from empty tables.
      log('Arden, PostgreSQL, receipts on');
      const signedDatabase = await freshPostgres();
      try {
        const withReceipts = await startArdenWithReceipts(
          'on',
          signedDatabase.url,
          benchReceiptSecret,
        );
        try {
          const run = await measure(
            withReceipts.info,
            'Arden on PostgreSQL with receipts',
            bodies,
            durationMs,
            { 'x-api-key': withReceipts.info.key },
          );
          signed = run.result;
          signedCpuUs = run.cpuUs;
        } finally {
          await withReceipts.stop();
        }
      } finally {
        await signedDatabase.drop();
      }
      // What the machine allows on PostgreSQL with no Arden code: the same JSON parsed, one row
      // per check in a table shaped like Arden's, group-committed the same way.
      log('PostgreSQL floor (no Arden code)');
      const floorDatabase = await freshPostgres();
      try {
        const run = await measureFixture(
          'pg-floor-server.ts',
          [floorDatabase.url],
          'The PostgreSQL floor',
          bodies,
          durationMs,
        );
        floor = run.result;
        floorCpuUs = run.cpuUs;
        sameShape = await compareActionTables(database.url, floorDatabase.url);
      } finally {
        await floorDatabase.drop();
      }
    } finally {
      await database.drop();
    }
    return {
      name: 'throughput',
      measurements: [
        {
          ...perSecond(
            'checks per second (embedded store, durable)',
            sqlite.perSecond,
            bareBaseline,
            bareRate,
          ),
          goal: '≥ 0.5× baseline',
          met: sqlite.perSecond >= 0.5 * bareRate,
        },
        perSecond(
          'embedded store floor (no Arden code)',
          sqliteFloor.perSecond,
          bareBaseline,
          bareRate,
        ),
        {
          metric: 'Arden on the embedded store ÷ embedded store floor',
          value: ratio(sqlite.perSecond, sqliteFloor.perSecond),
          unit: '×',
        },
        cpuPerCheck(
          'server process CPU per check (embedded store floor)',
          sqliteFloorCpuUs,
          'Arden, embedded store',
          sqliteCpuUs,
        ),
        {
          ...perSecond(
            'checks per second (PostgreSQL, durable)',
            postgres.perSecond,
            bareBaseline,
            bareRate,
          ),
          goal: '≥ 0.6× baseline',
          met: postgres.perSecond >= 0.6 * bareRate,
        },
        perSecond(
          'checks per second (PostgreSQL, durable, receipts on)',
          signed.perSecond,
          'same, receipts off',
          postgres.perSecond,
        ),
        perSecond('PostgreSQL floor (no Arden code)', floor.perSecond, bareBaseline, bareRate),
        {
          metric: 'Arden on PostgreSQL ÷ PostgreSQL floor',
          value: ratio(postgres.perSecond, floor.perSecond),
          unit: '×',
        },
        cpuPerCheck(
          'server process CPU per check (PostgreSQL)',
          postgresCpuUs,
          'same, embedded store',
          sqliteCpuUs,
        ),
        cpuPerCheck(
          'server process CPU per check (PostgreSQL, receipts on)',
          signedCpuUs,
          'same, receipts off',
          postgresCpuUs,
        ),
        cpuPerCheck(
          'server process CPU per check (PostgreSQL floor)',
          floorCpuUs,
          'Arden on PostgreSQL',
          postgresCpuUs,
        ),
        {
          metric: 'server RSS under load (peak, embedded store)',
          value: peakRss,
          unit: 'MiB',
          baseline: { name: 'same server idle', value: idleRss },
          ratio: ratio(peakRss, idleRss),
        },
      ],
      notes: [
        `${durationMs / 1000} s per run; ${sqlite.requests} checks logged on SQLite, ${postgres.requests} on PostgreSQL (receipts off), ${signed.requests} on PostgreSQL with receipts, ${floor.requests} rows by the PostgreSQL floor`,
        'receipts: the embedded store runs with them on (its default: a secret made beside the database), every check signed and its receipt committed with it; "PostgreSQL, durable" is with them off (no ARDEN_RECEIPT_SECRET, as in earlier runs); "PostgreSQL, durable, receipts on" with ARDEN_RECEIPT_SECRET set, comparable to the embedded store — each checked against /.well-known/arden-keys.json',
        `embedded store floor: node:http + node:sqlite, the same JSON parsed; per event-loop turn one Merkle root signed (Ed25519) over the turn's receipts, each receipt chained in memory, one actions row and one receipts row a check and the chain head committed in one transaction (WAL, synchronous=NORMAL, checkpoints on a worker thread), into Arden's own tables; each answer, with its receipt, after its commit; ${sqliteFloor.requests} checks`,
        "servers are measured once idle after their start (see `settle` in processes.ts: Arden compiles its shell parser's WebAssembly for about 2.5 s after it starts)",
        `PostgreSQL floor: node:http + pg, the same JSON parsed, one row per check into a table shaped like Arden's actions (${sameShape}), one multi-row INSERT per event-loop turn, synchronous_commit on, up to 3 commits in flight, each answer after its commit`,
        `load average at the end: ${loadavg()
          .map((value) => value.toFixed(1))
          .join(
            ' / ',
          )} (1 / 5 / 15 min) on ${availableParallelism()} cores — a busy machine lowers every figure, the ratios less`,
      ],
    };
  },
};

/**
 * Whether the floor's table has the columns and indexes of Arden's `actions` (after Arden's
 * migrations), as text for the notes: the floor is only a floor while the two match.
 */
async function compareActionTables(ardenUrl: string, floorUrl: string): Promise<string> {
  const shape = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const columns = await client.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'actions' ORDER BY column_name`,
      );
      const indexes = await client.query<{ definition: string }>(
        `SELECT regexp_replace(indexdef, ' ON \\S+\\.actions ', ' ON actions ') AS definition
         FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'actions'
         ORDER BY indexname`,
      );
      return {
        columns: columns.rows.map((row) => `${row.column_name} ${row.data_type}`),
        indexes: indexes.rows.map((row) => row.definition),
      };
    } finally {
      await client.end();
    }
  };
  const [arden, floor] = await Promise.all([shape(ardenUrl), shape(floorUrl)]);
  const missing = (a: string[], b: string[]) => a.filter((item) => !b.includes(item));
  const differences = [
    ...missing(arden.columns, floor.columns).map((item) => `column only in Arden's: ${item}`),
    ...missing(floor.columns, arden.columns).map((item) => `column only in the floor's: ${item}`),
    ...missing(arden.indexes, floor.indexes).map((item) => `index only in Arden's: ${item}`),
    ...missing(floor.indexes, arden.indexes).map((item) => `index only in the floor's: ${item}`),
  ];
  return differences.length === 0
    ? `same ${arden.columns.length} columns and ${arden.indexes.length} indexes, checked`
    : `DIFFERS from Arden's: ${differences.join('; ')}`;
}
