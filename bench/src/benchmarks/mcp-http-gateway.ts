import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArden } from '@arden/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startProcess } from '../processes.ts';
import { summarize } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

async function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
  );
  return client;
}

/**
 * `tools/call` through the Arden server's Streamable HTTP gateway (`/mcp/<name>`) against the
 * same upstream (an MCP SDK server on Streamable HTTP) called directly, and one Arden check on
 * its own, interleaved in the same run. The goal: the gateway's p50 at most 1.3 × (direct p50 +
 * check p50). Also the Arden server's resident memory with a gateway session idle and after the
 * calls.
 */
export const mcpHttpGateway: Benchmark = {
  name: 'mcp-http-gateway',
  description:
    'MCP tools/call through the HTTP gateway (/mcp/<name>) vs the upstream directly (+ one check)',
  async run({ smoke, log }) {
    const calls = smoke ? 100 : 1_000;
    const upstream = await startProcess<{ url: string; pid: number }>('echo-mcp-http-server.ts');
    const dataDir = mkdtempSync(join(tmpdir(), 'arden-bench-'));
    const server = await startProcess<{ url: string; key: string; pid: number }>(
      'arden-mcp-http-server.ts',
      [dataDir, upstream.info.url],
    );
    const { url, key } = server.info;
    const direct = await connect(upstream.info.url);
    const gateway = await connect(`${url}/mcp/bench`, { authorization: `Bearer ${key}` });
    const arden = createArden({ apiKey: key, apiUrl: url, logLevel: 'error' });
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
      const idleMiB = server.rssMiB();
      const throughDirect: number[] = [];
      const throughGateway: number[] = [];
      const checks: number[] = [];
      for (let index = 0; index < calls; index++) {
        let started = performance.now();
        await call(direct, index);
        throughDirect.push(performance.now() - started);
        started = performance.now();
        const result = await call(gateway, index);
        throughGateway.push(performance.now() - started);
        if (result.isError)
          throw new Error(`the gateway refused a call: ${JSON.stringify(result)}`);
        started = performance.now();
        await check(index);
        checks.push(performance.now() - started);
      }
      const afterMiB = server.rssMiB();
      const directP50 = summarize(throughDirect).p50;
      const checkP50 = summarize(checks).p50;
      const gatewayStats = summarize(throughGateway);
      const budget = directP50 + checkP50;
      const gatewayRatio = ratio(gatewayStats.p50, budget);
      return {
        name: 'mcp-http-gateway',
        measurements: [
          {
            metric: 'tools/call via HTTP gateway p50',
            value: gatewayStats.p50,
            unit: 'ms',
            baseline: { name: 'direct p50 + one check p50', value: budget },
            ratio: gatewayRatio,
            goal: '≤ 1.3×',
            met: gatewayRatio <= 1.3,
          },
          {
            metric: 'tools/call via HTTP gateway p95',
            value: gatewayStats.p95,
            unit: 'ms',
            baseline: { name: 'direct p50 + one check p50', value: budget },
            ratio: ratio(gatewayStats.p95, budget),
          },
          {
            metric: 'tools/call direct p50',
            value: directP50,
            unit: 'ms',
            baseline: { name: 'via HTTP gateway p50', value: gatewayStats.p50 },
            ratio: ratio(directP50, gatewayStats.p50),
          },
          { metric: 'one Arden check p50', value: checkP50, unit: 'ms' },
          {
            metric: `Arden server RSS after ${calls} gateway calls`,
            value: afterMiB,
            unit: 'MiB',
            baseline: { name: 'Arden server RSS, gateway session idle', value: idleMiB },
            ratio: ratio(afterMiB, idleMiB),
          },
        ],
        notes: [`${calls} sequential calls of each kind, interleaved, one session each`],
      };
    } finally {
      await direct.close();
      await gateway.close();
      await arden.shutdown();
      await server.stop();
      await upstream.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
