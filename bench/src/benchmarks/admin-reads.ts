// The admin side must never stall the agent path. A server in its own process on a seeded log
// (1 000 000 actions over 120 days by default) answers checks at a steady 100/s; the check
// latency p95 is measured without admin reads, then with heavy dashboard reads running all the
// time (two 90-day action-log windows and two all-time usage reports, each in a loop), in
// alternating rounds of the same run. Goal: p95 with reads ≤ 1.5× without. Also the latency of
// the 90-day window itself (goal ≤ 300 ms). ARDEN_ADMIN_READ_THREADS=0 (passed through to the
// server) shows the old behaviour, admin reads on the check path's connection.
//   node src/run.ts --only admin-reads
//   ARDEN_BENCH_LOG_ROWS=200000 node src/run.ts --only admin-reads
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess } from '../processes.ts';
import { summarize } from '../stats.ts';
import { type Benchmark, type BenchResult, ratio } from '../types.ts';

const day = 86_400_000;

interface Info {
  url: string;
  key: string;
  token: string;
  pid: number;
  end: number;
  agentId: string;
}

function call(
  agent: Agent,
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const outgoing = request(
      new URL(path, url),
      {
        method,
        agent,
        headers: {
          ...headers,
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, ms: performance.now() - started }),
        );
      },
    );
    outgoing.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    outgoing.end(body);
  });
}

/** Checks at `rate`/s (open loop: one every 1000/rate ms, whether or not answers came) for `ms`. */
async function checksAt(info: Info, rate: number, ms: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const interval = 1000 / rate;
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < ms) {
    const body = JSON.stringify({
      tool_name: `crm.tool_${sent % 40}`,
      args: [],
      kwargs: { id: sent },
      metadata: { session_id: `bench-${Math.floor(sent / 20)}` },
    });
    sent++;
    pending.push(
      call(agent, info.url, 'POST', '/policy/check', { 'x-api-key': info.key }, body).then(
        (answer) => {
          if (answer.status === 200) latencies.push(answer.ms);
        },
      ),
    );
    const next = started + sent * interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.all(pending);
  agent.destroy();
  return latencies;
}

/** The dashboard's heavy reads, each in its own loop, until `stop()`. */
function heavyReads(info: Info) {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const headers = { authorization: `Bearer ${info.token}` };
  const from = new Date(info.end - 90 * day).toISOString();
  const to = new Date(info.end).toISOString();
  const paths = [
    `/api/v1/actions?from=${from}&to=${to}&decision=block&limit=100`,
    `/api/v1/sessions?from=${from}&to=${to}&limit=100`,
    '/api/v1/usage?group_by=model',
    '/api/v1/usage?group_by=session&limit=100',
  ];
  let running = true;
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  const loops = paths.map(async (path) => {
    while (running) {
      const answer = await call(agent, info.url, 'GET', path, headers);
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      if (answer.status === 200) latencies.push(answer.ms);
    }
  });
  return {
    latencies,
    statuses,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

/** Times one admin GET `count` times in a row. */
async function timeRead(info: Info, path: string, count: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  for (let index = 0; index < count; index++) {
    const answer = await call(agent, info.url, 'GET', path, {
      authorization: `Bearer ${info.token}`,
    });
    if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}`);
    latencies.push(answer.ms);
  }
  agent.destroy();
  return latencies;
}

export const adminReads: Benchmark = {
  name: 'admin-reads',
  description:
    'Check latency p95 at 100 checks/s with heavy dashboard reads running vs without (same run), and the 90-day window on a 1M-row log',
  async run({ smoke, log }): Promise<BenchResult> {
    const rows = smoke ? 5_000 : Number(process.env.ARDEN_BENCH_LOG_ROWS ?? 1_000_000);
    const roundMs = smoke ? 1_000 : 8_000;
    const rounds = smoke ? 1 : 3;
    const dataDir = mkdtempSync(join(tmpdir(), 'arden-bench-admin-'));
    log(`seeding ${rows.toLocaleString('en-US')} actions…`);
    const server = await startProcess<Info>('admin-reads-server.ts', [dataDir, String(rows)]);
    try {
      const info = server.info;
      // Warm up both paths.
      await checksAt(info, 100, smoke ? 300 : 2_000);
      const from = new Date(info.end - 90 * day).toISOString();
      const to = new Date(info.end).toISOString();
      const windows = {
        'actions, 90 days, decision=block': `/api/v1/actions?from=${from}&to=${to}&decision=block&limit=100`,
        'actions, 90 days, one tool': `/api/v1/actions?from=${from}&to=${to}&tool=db.drop_table&limit=100`,
        'sessions, 90 days': `/api/v1/sessions?from=${from}&to=${to}&limit=100`,
        'usage by model, 90 days': `/api/v1/usage?group_by=model&from=${from}&to=${to}`,
        'usage by model, all time': '/api/v1/usage?group_by=model',
      };
      const windowTimes: Record<string, ReturnType<typeof summarize>> = {};
      for (const [name, path] of Object.entries(windows)) {
        windowTimes[name] = summarize(await timeRead(info, path, smoke ? 2 : 10));
      }
      const quiet: number[] = [];
      const busy: number[] = [];
      const readStats: { latencies: number[]; statuses: Record<number, number> } = {
        latencies: [],
        statuses: {},
      };
      for (let round = 0; round < rounds; round++) {
        quiet.push(...(await checksAt(info, 100, roundMs)));
        const reads = heavyReads(info);
        busy.push(...(await checksAt(info, 100, roundMs)));
        await reads.stop();
        readStats.latencies.push(...reads.latencies);
        for (const [status, count] of Object.entries(reads.statuses)) {
          readStats.statuses[Number(status)] = (readStats.statuses[Number(status)] ?? 0) + count;
        }
        log(`round ${round + 1}/${rounds}: ${quiet.length} quiet and ${busy.length} busy checks`);
      }
      const without = summarize(quiet);
      const withReads = summarize(busy);
      const reads = summarize(readStats.latencies);
      const worstWindow = Math.max(...Object.values(windowTimes).map((summary) => summary.p95));
      const goal95 = withReads.p95 <= 1.5 * without.p95;
      return {
        name: 'admin-reads',
        measurements: [
          {
            metric: 'check p95 with heavy admin reads running',
            value: withReads.p95,
            unit: 'ms',
            baseline: { name: 'check p95 without admin reads (same run)', value: without.p95 },
            ratio: ratio(withReads.p95, without.p95),
            goal: '≤ 1.5× baseline',
            met: smoke ? undefined : goal95,
          },
          {
            metric: 'check p50 with heavy admin reads running',
            value: withReads.p50,
            unit: 'ms',
            baseline: { name: 'check p50 without admin reads (same run)', value: without.p50 },
            ratio: ratio(withReads.p50, without.p50),
          },
          {
            metric: 'slowest 90-day admin read, p95',
            value: worstWindow,
            unit: 'ms',
            goal: '≤ 300 ms',
            met: smoke ? undefined : worstWindow <= 300,
          },
        ],
        notes: [
          `${rows.toLocaleString('en-US')} actions; admin reads on ${process.env.ARDEN_ADMIN_READ_THREADS === '0' ? 'the main connection (ARDEN_ADMIN_READ_THREADS=0)' : 'worker threads'}`,
          ...Object.entries(windowTimes).map(
            ([name, summary]) =>
              `${name}: p50 ${summary.p50.toFixed(1)} ms, p95 ${summary.p95.toFixed(1)} ms`,
          ),
          `heavy reads during the busy rounds: ${readStats.latencies.length} answered, p50 ${reads.p50.toFixed(0)} ms, p95 ${reads.p95.toFixed(0)} ms, statuses ${JSON.stringify(readStats.statuses)}`,
          `checks without reads: p50 ${without.p50.toFixed(1)} / p95 ${without.p95.toFixed(1)} / max ${without.max.toFixed(1)} ms (${quiet.length}); with: p50 ${withReads.p50.toFixed(1)} / p95 ${withReads.p95.toFixed(1)} / max ${withReads.max.toFixed(1)} ms (${busy.length})`,
        ],
      };
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
