import { Agent, request } from 'node:http';
import { createArden } from '@arden/core';
import { startArden } from '../processes.ts';
import { summarize, timeEach } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * The time `guardTool` adds to an allowed call, against a local server on the embedded store
 * (in its own process), over sequential calls. Baselines from the same run: one bare keep-alive
 * `http.request` round trip to a no-op endpoint of the same server (the fastest Node client),
 * and the ardenpy way — a fresh HTTP client, so a new connection, for every check (here `fetch`
 * with `connection: close`, as ardenpy opens and closes an httpx client per check).
 */
export const checkOverhead: Benchmark = {
  name: 'check-overhead',
  description: 'Time guardTool adds to an allowed call (sequential, embedded store)',
  async run({ smoke, log }) {
    const calls = smoke ? 300 : 5_000;
    const server = await startArden(50);
    try {
      const { url, key } = server.info;
      const body = JSON.stringify({
        tool_name: 'crm3.lookup',
        args: [],
        kwargs: { id: 1 },
        metadata: {},
      });
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
      const roundTrip = (path: string, agent: Agent | false, payload?: string) =>
        new Promise<void>((resolve, reject) => {
          const outgoing = request(
            new URL(path, url),
            {
              method: payload ? 'POST' : 'GET',
              agent,
              headers: payload
                ? {
                    'content-type': 'application/json',
                    'content-length': Buffer.byteLength(payload),
                    'x-api-key': key,
                  }
                : {},
            },
            (response) => {
              response.resume();
              response.on('end', () =>
                response.statusCode === 200
                  ? resolve()
                  : reject(new Error(`status ${response.statusCode}`)),
              );
            },
          );
          outgoing.on('error', reject);
          outgoing.end(payload);
        });

      const arden = createArden({ apiKey: key, apiUrl: url, logLevel: 'error' });
      const lookup = arden.guardTool('crm3.lookup', async (_input: { id: number }) => undefined);
      log('warming up');
      await timeEach(Math.min(500, calls), () => lookup({ id: 1 }));
      await timeEach(Math.min(500, calls), () => roundTrip('/healthz', keepAlive));

      // Interleave the three so that drift in machine load affects each alike.
      const guarded: number[] = [];
      const bare: number[] = [];
      const fresh: number[] = [];
      for (let index = 0; index < calls; index++) {
        let started = performance.now();
        await lookup({ id: index });
        guarded.push(performance.now() - started);
        started = performance.now();
        await roundTrip('/healthz', keepAlive);
        bare.push(performance.now() - started);
        if (index % 5 === 0) {
          started = performance.now();
          const response = await fetch(`${url}/policy/check`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': key, connection: 'close' },
            body,
          });
          if (response.status !== 200) throw new Error(`check answered ${response.status}`);
          await response.json();
          fresh.push(performance.now() - started);
        }
      }
      await arden.shutdown();
      keepAlive.destroy();
      const g = summarize(guarded);
      const b = summarize(bare);
      const f = summarize(fresh);
      return {
        name: 'check-overhead',
        measurements: [
          {
            metric: 'guardTool allowed call, p50',
            value: round(g.p50),
            unit: 'ms',
            baseline: { name: 'bare keep-alive http.request', value: round(b.p50) },
            ratio: ratio(g.p50, b.p50),
            goal: '≤ 1.3× baseline',
            met: g.p50 <= 1.3 * b.p50,
          },
          {
            metric: 'guardTool allowed call, p99',
            value: round(g.p99),
            unit: 'ms',
            baseline: { name: 'bare keep-alive http.request', value: round(b.p99) },
            ratio: ratio(g.p99, b.p99),
          },
          {
            metric: 'ardenpy way (new connection per check), p50',
            value: round(f.p50),
            unit: 'ms',
            baseline: { name: 'guardTool p50', value: round(g.p50) },
            ratio: ratio(f.p50, g.p50),
            goal: 'Arden ≥ 3× faster',
            met: f.p50 >= 3 * g.p50,
          },
        ],
        notes: [`${calls} sequential calls, 50 policies, server in its own process`],
      };
    } finally {
      await server.stop();
    }
  },
};

const round = (value: number) => Math.round(value * 1000) / 1000;
