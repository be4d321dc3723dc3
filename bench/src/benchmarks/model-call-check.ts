import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../load.ts';
import { startProcess } from '../processes.ts';
import { summarize, timeEach } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * A model-call check (`POST /v1/model-calls/check`, reserving against two budgets in one
 * transaction) against a tool check (`POST /policy/check` on 50 policies) on the same server, in
 * the same run: latency p50 of one client in sequence, and throughput of 16 keep-alive clients.
 * Goal: a model-call check costs no more than a tool check. SQLite; PostgreSQL too when
 * ARDEN_BENCH_POSTGRES_URL is set.
 */
export const modelCallCheck: Benchmark = {
  name: 'model-call-check',
  description: 'A budget reservation (model-call check) against a tool check, same server',
  async run({ smoke, log }) {
    const stores: [string, string | undefined][] = [['sqlite', undefined]];
    if (process.env.ARDEN_BENCH_POSTGRES_URL) {
      stores.push(['postgres', process.env.ARDEN_BENCH_POSTGRES_URL]);
    }
    const measurements = [];
    for (const [store, databaseUrl] of stores) {
      const dataDir = mkdtempSync(join(tmpdir(), 'arden-bench-budgets-'));
      const server = await startProcess<{ url: string; key: string; pid: number }>(
        'arden-budget-server.ts',
        [dataDir, ...(databaseUrl ? [databaseUrl] : [])],
      );
      try {
        const headers = { 'x-api-key': server.info.key, 'content-type': 'application/json' };
        const sessions = Array.from({ length: 20 }, (_, index) => `bench-session-${index}`);
        const toolBodies = sessions.map((session, index) =>
          JSON.stringify({
            tool_name: 'stripe.issue_refund',
            kwargs: { amount: 10 + index, customer: `cus_${index}` },
            metadata: { session_id: session },
          }),
        );
        const modelBodies = sessions.map((session) =>
          JSON.stringify({
            model: 'gpt-4o',
            estimated_input_tokens: 1200,
            max_output_tokens: 800,
            session_id: session,
          }),
        );
        const post = async (path: string, body: string) => {
          const response = await fetch(server.info.url + path, { method: 'POST', headers, body });
          if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
          await response.arrayBuffer();
        };
        const count = smoke ? 48 : 1_000; // four rounds of whole calls
        // Interleaved rounds, so that drift of the machine affects both alike.
        const tool: number[] = [];
        const model: number[] = [];
        for (let round = 0; round < 4; round++) {
          tool.push(
            ...(await timeEach(count / 4, (index) =>
              post('/policy/check', toolBodies[index % 20] as string),
            )),
          );
          model.push(
            ...(await timeEach(count / 4, (index) =>
              post('/v1/model-calls/check', modelBodies[index % 20] as string),
            )),
          );
        }
        const toolP50 = summarize(tool).p50;
        const modelP50 = summarize(model).p50;
        log(`${store}: p50 tool ${toolP50.toFixed(3)} ms, model-call ${modelP50.toFixed(3)} ms`);
        const durationMs = smoke ? 1_000 : 5_000;
        const load = (path: string, bodies: string[]) =>
          runLoad({ url: server.info.url, path, bodies, headers, connections: 16, durationMs });
        const toolLoad = await load('/policy/check', toolBodies);
        const modelLoad = await load('/v1/model-calls/check', modelBodies);
        if (toolLoad.errors + modelLoad.errors > 0) {
          throw new Error(`errors: ${JSON.stringify([toolLoad.statuses, modelLoad.statuses])}`);
        }
        measurements.push(
          {
            metric: `${store}: model-call check p50 (one client)`,
            value: modelP50,
            unit: 'ms',
            baseline: { name: 'tool check p50, same server', value: toolP50 },
            ratio: ratio(modelP50, toolP50),
            goal: '≤ 1.0× tool check',
            met: modelP50 <= toolP50,
          },
          {
            metric: `${store}: model-call checks per second (16 clients)`,
            value: modelLoad.perSecond,
            unit: '/s',
            baseline: { name: 'tool checks per second, same server', value: toolLoad.perSecond },
            ratio: ratio(modelLoad.perSecond, toolLoad.perSecond),
            goal: '≥ 1.0× tool check',
            met: modelLoad.perSecond >= toolLoad.perSecond,
          },
        );
      } finally {
        await server.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    return { name: 'model-call-check', measurements };
  },
};
