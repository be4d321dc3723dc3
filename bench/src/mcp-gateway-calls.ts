// What the two MCP gateway benchmarks (mcp-gateway: stdio; mcp-http-gateway: Streamable HTTP)
// share: the same tool call made directly, through the gateway and as one Arden check on its
// own, interleaved over sequential calls, and the measurements against the goal.
import { createArden } from '@arden/core';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { summarize } from './stats.ts';
import { type Measurement, ratio } from './types.ts';

/** What one run of the interleaved calls gives. */
export interface GatewayCalls {
  directP50: number;
  checkP50: number;
  gateway: ReturnType<typeof summarize>;
  /** The resident memory of `memoryOf` after the warm-up (gateway idle) and after the calls. */
  idleMiB: number;
  afterMiB: number;
}

/**
 * `calls` sequential `echo` calls of each kind — `direct`, through `gateway`, and one Arden check
 * of `mcp.bench.echo` with the agent key `key` — interleaved so that the load of the moment falls
 * on all three alike, after a warm-up of 200. `measuring` is called just before the measured
 * calls (to start CPU counters). Throws when the gateway refuses a call.
 */
export async function runGatewayCalls(options: {
  calls: number;
  log: (message: string) => void;
  direct: Client;
  gateway: Client;
  apiUrl: string;
  key: string;
  memoryOf: () => number;
  measuring?: () => void;
}): Promise<GatewayCalls> {
  const { calls, log, direct, gateway } = options;
  const arden = createArden({ apiKey: options.key, apiUrl: options.apiUrl, logLevel: 'error' });
  try {
    const call = (client: Client, index: number) =>
      client.callTool({ name: 'echo', arguments: { text: `call ${index}` } });
    const check = (index: number) =>
      arden.check('mcp.bench.echo', { args: [], kwargs: { text: `call ${index}` } }, {});
    log('warming up');
    for (let index = 0; index < Math.min(200, calls); index++) {
      await call(direct, index);
      await call(gateway, index);
      await check(index);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleMiB = options.memoryOf();
    const throughDirect: number[] = [];
    const throughGateway: number[] = [];
    const checks: number[] = [];
    options.measuring?.();
    for (let index = 0; index < calls; index++) {
      let started = performance.now();
      await call(direct, index);
      throughDirect.push(performance.now() - started);
      started = performance.now();
      const result = await call(gateway, index);
      throughGateway.push(performance.now() - started);
      if (result.isError) throw new Error(`the gateway refused a call: ${JSON.stringify(result)}`);
      started = performance.now();
      await check(index);
      checks.push(performance.now() - started);
    }
    return {
      directP50: summarize(throughDirect).p50,
      checkP50: summarize(checks).p50,
      gateway: summarize(throughGateway),
      idleMiB,
      afterMiB: options.memoryOf(),
    };
  } finally {
    await arden.shutdown();
  }
}

/** The latency measurements of a run: the gateway's p50 against the goal, its p95, the parts. */
export function gatewayLatencies(label: string, run: GatewayCalls): Measurement[] {
  const budget = run.directP50 + run.checkP50;
  const gatewayRatio = ratio(run.gateway.p50, budget);
  const baseline = { name: 'direct p50 + one check p50', value: budget };
  return [
    {
      metric: `tools/call via ${label} p50`,
      value: run.gateway.p50,
      unit: 'ms',
      baseline,
      ratio: gatewayRatio,
      goal: '≤ 1.3×',
      met: gatewayRatio <= 1.3,
    },
    {
      metric: `tools/call via ${label} p95`,
      value: run.gateway.p95,
      unit: 'ms',
      baseline,
      ratio: ratio(run.gateway.p95, budget),
    },
    {
      metric: 'tools/call direct p50',
      value: run.directP50,
      unit: 'ms',
      baseline: { name: `via ${label} p50`, value: run.gateway.p50 },
      ratio: ratio(run.directP50, run.gateway.p50),
    },
    { metric: 'one Arden check p50', value: run.checkP50, unit: 'ms' },
  ];
}
