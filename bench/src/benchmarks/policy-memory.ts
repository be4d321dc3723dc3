import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../load.ts';
import { freshPostgres } from '../postgres.ts';
import { startProcess } from '../processes.ts';
import { summarize } from '../stats.ts';
import { type Benchmark, type Measurement, ratio } from '../types.ts';

type Info = { url: string; key: string; agentId: string; pid: number };

const sessions = 100;

function body(tool: string, index: number): string {
  return JSON.stringify({
    tool_name: tool,
    args: [],
    kwargs: { amount: index % 500, order: `o-${index}` },
    metadata: { session_id: `session-${index % sessions}` },
  });
}

async function startServer(databaseUrl?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'arden-bench-memory-'));
  const server = await startProcess<Info>('arden-memory-server.ts', [
    dataDir,
    String(sessions),
    ...(databaseUrl ? [databaseUrl] : []),
  ]);
  return {
    info: server.info,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Sequential checks, the two tools interleaved (plain, memory, plain, …) so both see the same
 * machine; then closed-loop throughput of each, 64 keep-alive clients, 100 sessions.
 */
async function measure(
  info: Info,
  store: string,
  calls: number,
  durationMs: number,
  log: (message: string) => void,
): Promise<Measurement[]> {
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  const post = (payload: string) =>
    new Promise<void>((resolve, reject) => {
      const outgoing = request(
        new URL('/policy/check', info.url),
        {
          method: 'POST',
          agent: keepAlive,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            'x-api-key': info.key,
          },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () => {
            if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
            else if (!text.includes('"decision":"allow"') && !text.includes('"decision":"block"')) {
              reject(new Error(`unexpected answer ${text.slice(0, 200)}`));
            } else resolve();
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  log(`${store}: sequential checks, interleaved`);
  for (let index = 0; index < 200; index++) {
    await post(body('plain.issue_refund', index));
    await post(body('memory.issue_refund', index));
  }
  const plain: number[] = [];
  const memory: number[] = [];
  for (let index = 0; index < calls; index++) {
    const first = index % 2 === 0;
    for (const [tool, into] of first
      ? ([
          ['plain.issue_refund', plain],
          ['memory.issue_refund', memory],
        ] as const)
      : ([
          ['memory.issue_refund', memory],
          ['plain.issue_refund', plain],
        ] as const)) {
      const started = performance.now();
      await post(body(tool, index));
      into.push(performance.now() - started);
    }
  }
  keepAlive.destroy();
  const plainSummary = summarize(plain);
  const memorySummary = summarize(memory);

  const headers = { 'x-api-key': info.key };
  const load = async (tool: string) => {
    const bodies = Array.from({ length: 200 }, (_, index) => body(tool, index));
    const result = await runLoad({
      url: info.url,
      path: '/policy/check',
      bodies,
      headers,
      connections: 64,
      durationMs,
    });
    if (result.errors > 0) throw new Error(`errors under load: ${JSON.stringify(result.statuses)}`);
    return result.perSecond;
  };
  log(`${store}: throughput, 64 clients`);
  await load('plain.issue_refund');
  // Alternated twice, each figure the better of its two runs, so neither gets the warmer machine.
  const plainRates = [await load('plain.issue_refund')];
  const memoryRates = [await load('memory.issue_refund')];
  memoryRates.push(await load('memory.issue_refund'));
  plainRates.push(await load('plain.issue_refund'));
  const plainRate = Math.max(...plainRates);
  const memoryRate = Math.max(...memoryRates);
  return [
    {
      metric: `check p50 with session.calls + session.cost_usd (${store})`,
      value: memorySummary.p50,
      unit: 'ms',
      baseline: { name: 'same check without them', value: plainSummary.p50 },
      ratio: ratio(memorySummary.p50, plainSummary.p50),
      goal: '≤ 1.1× baseline',
      met: memorySummary.p50 <= 1.1 * plainSummary.p50,
    },
    {
      metric: `check p95 with memory rules (${store})`,
      value: memorySummary.p95,
      unit: 'ms',
      baseline: { name: 'same check without them', value: plainSummary.p95 },
      ratio: ratio(memorySummary.p95, plainSummary.p95),
    },
    {
      metric: `checks per second with memory rules (${store}, 64 clients)`,
      value: memoryRate,
      unit: '/s',
      baseline: { name: 'same check without them', value: plainRate },
      ratio: ratio(memoryRate, plainRate),
      goal: '≥ 0.8× baseline',
      met: memoryRate >= 0.8 * plainRate,
    },
  ];
}

/**
 * Policies with memory (issue #17): a check whose policy reads `session.calls(…)` and
 * `session.cost_usd` against the same check without them, in the same run, on the embedded
 * store and on PostgreSQL: sequential p50 and throughput under 64 concurrent clients.
 */
export const policyMemory: Benchmark = {
  name: 'policy-memory',
  description:
    'A check with session.calls + session.cost_usd rules vs the same without, both stores',
  async run({ smoke, log }) {
    const calls = smoke ? 100 : 2_000;
    const durationMs = smoke ? 500 : 5_000;
    const measurements: Measurement[] = [];
    const sqlite = await startServer();
    try {
      measurements.push(...(await measure(sqlite.info, 'embedded store', calls, durationMs, log)));
    } finally {
      await sqlite.stop();
    }
    const database = await freshPostgres();
    try {
      const postgres = await startServer(database.url);
      try {
        measurements.push(...(await measure(postgres.info, 'PostgreSQL', calls, durationMs, log)));
      } finally {
        await postgres.stop();
      }
    } finally {
      await database.drop();
    }
    return {
      name: 'policy-memory',
      measurements,
      notes: [
        `${calls} sequential checks of each tool, interleaved; throughput runs of ${durationMs / 1000} s, ${sessions} sessions`,
      ],
    };
  },
};
