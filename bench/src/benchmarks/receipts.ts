import { Agent, request } from 'node:http';
import { createArden } from '@arden/core';
import { runLoad } from '../load.ts';
import { startArden, startBare } from '../processes.ts';
import { summarize } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * What signed receipts and the audit chain cost on the embedded store: every check signs an
 * Ed25519 receipt and writes it in the same group commit, and the sealer chains receipts in the
 * background. Sequential guarded calls against a bare keep-alive round trip to the same server
 * (the check-overhead goal, ≤ 1.3×), and throughput with 64 clients against a bare node:http
 * server (≥ 0.5×); each also beside the same server with receipts off, measured in this run.
 */
export const receipts: Benchmark = {
  name: 'receipts',
  description: 'Cost of signed receipts and the audit chain (embedded store)',
  async run({ smoke, log }) {
    const calls = smoke ? 300 : 3_000;
    const durationMs = smoke ? 1_000 : 8_000;
    const bodies = Array.from({ length: 100 }, (_, index) =>
      JSON.stringify({
        tool_name: 'crm3.lookup',
        args: [],
        kwargs: { id: index, amount: index % 120 },
        metadata: { session_id: `session-${index % 10}` },
      }),
    );

    const measure = async (mode: 'on' | 'off') => {
      const previous = process.env.ARDEN_RECEIPTS;
      process.env.ARDEN_RECEIPTS = mode;
      const server = await startArden(50);
      if (previous === undefined) delete process.env.ARDEN_RECEIPTS;
      else process.env.ARDEN_RECEIPTS = previous;
      try {
        const { url, key } = server.info;
        const keys = (await (await fetch(`${url}/.well-known/arden-keys.json`)).json()) as {
          receipts: string;
        };
        if (keys.receipts !== (mode === 'on' ? 'enabled' : 'disabled')) {
          throw new Error(`receipts should be ${mode}, the server says ${keys.receipts}`);
        }
        const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
        const roundTrip = () =>
          new Promise<void>((resolve, reject) => {
            const outgoing = request(new URL('/healthz', url), { agent: keepAlive }, (response) => {
              response.resume();
              response.on('end', () => resolve());
            });
            outgoing.on('error', reject);
            outgoing.end();
          });
        const arden = createArden({ apiKey: key, apiUrl: url, logLevel: 'error' });
        const lookup = arden.guardTool('crm3.lookup', async (_input: { id: number }) => undefined);
        for (let index = 0; index < Math.min(300, calls); index++) {
          await lookup({ id: index });
          await roundTrip();
        }
        const guarded: number[] = [];
        const bare: number[] = [];
        for (let index = 0; index < calls; index++) {
          let started = performance.now();
          await lookup({ id: index });
          guarded.push(performance.now() - started);
          started = performance.now();
          await roundTrip();
          bare.push(performance.now() - started);
        }
        await arden.shutdown();
        keepAlive.destroy();
        const headers = { 'x-api-key': key };
        const load = { url, path: '/policy/check', bodies, headers, connections: 64 };
        await runLoad({ ...load, durationMs: 500 });
        const result = await runLoad({ ...load, durationMs });
        if (result.errors > 0) {
          throw new Error(`Arden answered errors under load: ${JSON.stringify(result.statuses)}`);
        }
        return { guarded: summarize(guarded), bare: summarize(bare), perSecond: result.perSecond };
      } finally {
        await server.stop();
      }
    };

    log('bare node:http baseline');
    const bareServer = await startBare();
    let bareRate: number;
    try {
      const load = { url: bareServer.info.url, path: '/policy/check', bodies, connections: 64 };
      await runLoad({ ...load, durationMs: 500 });
      bareRate = (await runLoad({ ...load, durationMs })).perSecond;
    } finally {
      await bareServer.stop();
    }
    log('Arden, receipts off');
    const off = await measure('off');
    log('Arden, receipts on');
    const on = await measure('on');
    const round = (value: number) => Math.round(value * 1000) / 1000;
    return {
      name: 'receipts',
      measurements: [
        {
          metric: 'guardTool allowed call with a receipt, p50',
          value: round(on.guarded.p50),
          unit: 'ms',
          baseline: { name: 'bare keep-alive http.request', value: round(on.bare.p50) },
          ratio: ratio(on.guarded.p50, on.bare.p50),
          goal: '≤ 1.3× baseline',
          met: on.guarded.p50 <= 1.3 * on.bare.p50,
        },
        {
          metric: 'guardTool allowed call with a receipt, p50, against receipts off',
          value: round(on.guarded.p50),
          unit: 'ms',
          baseline: { name: 'receipts off', value: round(off.guarded.p50) },
          ratio: ratio(on.guarded.p50, off.guarded.p50),
        },
        {
          metric: 'checks per second with receipts (embedded store, durable)',
          value: on.perSecond,
          unit: '/s',
          baseline: { name: 'bare node:http, same JSON', value: bareRate },
          ratio: ratio(on.perSecond, bareRate),
          goal: '≥ 0.5× baseline',
          met: on.perSecond >= 0.5 * bareRate,
        },
        {
          metric: 'checks per second with receipts, against receipts off',
          value: on.perSecond,
          unit: '/s',
          baseline: { name: 'receipts off', value: off.perSecond },
          ratio: ratio(on.perSecond, off.perSecond),
        },
      ],
      notes: [`${calls} sequential calls and ${durationMs / 1000} s of load per server`],
    };
  },
};
