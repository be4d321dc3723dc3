import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { runLoad } from '../load.ts';
import { freshPostgres } from '../postgres.ts';
import { startArden, startBare } from '../processes.ts';
import { type Benchmark, ratio } from '../types.ts';

/** CPU time (user + system) a process has used so far, in ms (Linux; 0 elsewhere). */
function cpuMs(pid: number): number {
  try {
    // Fields 14 and 15 of /proc/PID/stat, in clock ticks (100 a second); the name (field 2) is
    // in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * Policy checks per second with every check durably logged before its answer, 64 concurrent
 * keep-alive clients, against 50 policies with CEL rules. Baseline in the same run: a bare
 * node:http server answering the same JSON. Also reports the server's memory under this load,
 * and the same run on PostgreSQL (every check committed with synchronous_commit on).
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
      await runLoad({
        url: bare.info.url,
        path: '/policy/check',
        bodies,
        connections: 64,
        durationMs: 500,
      });
      bareRate = (
        await runLoad({
          url: bare.info.url,
          path: '/policy/check',
          bodies,
          connections: 64,
          durationMs,
        })
      ).perSecond;
    } finally {
      await bare.stop();
    }
    const arden = await startArden(50);
    let sqlite: { perSecond: number; requests: number };
    let idleRss: number;
    // The server process's CPU per check: where the time goes on each store (on PostgreSQL the
    // database's own processes work besides, on the same cores here).
    let sqliteCpuUs = 0;
    let postgresCpuUs = 0;
    let peakRss: number;
    try {
      idleRss = arden.rssMiB();
      log('Arden, embedded store');
      const headers = { 'x-api-key': arden.info.key };
      await runLoad({
        url: arden.info.url,
        path: '/policy/check',
        bodies,
        headers,
        connections: 64,
        durationMs: 500,
      });
      peakRss = arden.rssMiB();
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, arden.rssMiB());
      }, 200);
      const cpuBefore = cpuMs(arden.info.pid);
      const result = await runLoad({
        url: arden.info.url,
        path: '/policy/check',
        bodies,
        headers,
        connections: 64,
        durationMs,
      });
      clearInterval(sampler);
      sqliteCpuUs = ((cpuMs(arden.info.pid) - cpuBefore) * 1000) / Math.max(1, result.requests);
      if (result.errors > 0)
        throw new Error(`Arden answered errors under load: ${JSON.stringify(result.statuses)}`);
      sqlite = result;
    } finally {
      await arden.stop();
    }
    log('Arden, PostgreSQL');
    const database = await freshPostgres();
    let postgres: { perSecond: number; requests: number };
    try {
      const onPostgres = await startArden(50, database.url);
      try {
        const headers = { 'x-api-key': onPostgres.info.key };
        await runLoad({
          url: onPostgres.info.url,
          path: '/policy/check',
          bodies,
          headers,
          connections: 64,
          durationMs: 500,
        });
        const cpuBefore = cpuMs(onPostgres.info.pid);
        const result = await runLoad({
          url: onPostgres.info.url,
          path: '/policy/check',
          bodies,
          headers,
          connections: 64,
          durationMs,
        });
        postgresCpuUs =
          ((cpuMs(onPostgres.info.pid) - cpuBefore) * 1000) / Math.max(1, result.requests);
        if (result.errors > 0)
          throw new Error(
            `Arden on PostgreSQL answered errors: ${JSON.stringify(result.statuses)}`,
          );
        postgres = result;
      } finally {
        await onPostgres.stop();
      }
    } finally {
      await database.drop();
    }
    return {
      name: 'throughput',
      measurements: [
        {
          metric: 'checks per second (embedded store, durable)',
          value: sqlite.perSecond,
          unit: '/s',
          baseline: { name: 'bare node:http, same JSON', value: bareRate },
          ratio: ratio(sqlite.perSecond, bareRate),
          goal: '≥ 0.5× baseline',
          met: sqlite.perSecond >= 0.5 * bareRate,
        },
        {
          metric: 'checks per second (PostgreSQL, durable)',
          value: postgres.perSecond,
          unit: '/s',
          baseline: { name: 'bare node:http, same JSON', value: bareRate },
          ratio: ratio(postgres.perSecond, bareRate),
          goal: '≥ 0.6× baseline',
          met: postgres.perSecond >= 0.6 * bareRate,
        },
        {
          metric: 'server process CPU per check (PostgreSQL)',
          value: Number(postgresCpuUs.toFixed(1)),
          unit: 'µs',
          baseline: { name: 'same, embedded store', value: Number(sqliteCpuUs.toFixed(1)) },
          ratio: ratio(postgresCpuUs, sqliteCpuUs),
        },
        {
          metric: 'server RSS under load (peak, embedded store)',
          value: peakRss,
          unit: 'MiB',
          baseline: { name: 'same server idle', value: idleRss },
          ratio: ratio(peakRss, idleRss),
        },
      ],
      notes: [
        `${durationMs / 1000} s per run; ${sqlite.requests} checks logged on SQLite, ${postgres.requests} on PostgreSQL`,
        `load average at the end: ${loadavg()
          .map((value) => value.toFixed(1))
          .join(
            ' / ',
          )} (1 / 5 / 15 min) on ${availableParallelism()} cores — a busy machine lowers every figure, the ratios less`,
      ],
    };
  },
};
