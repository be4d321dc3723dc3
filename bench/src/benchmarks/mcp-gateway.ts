import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createArden } from '@arden/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';
import { startArden } from '../processes.ts';
import { summarize } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

const require = createRequire(import.meta.url);
const upstream = new URL('../fixtures/echo-mcp-server.ts', import.meta.url).pathname;

/** The resident memory of a process, in MiB (Linux: /proc). */
function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return Math.round((kib / 1024) * 10) / 10;
}

/** CPU time a process has used so far (user + system), in ms (Linux: /proc, 100 ticks a second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function connectClient(command: string, args: string[], env: Record<string, string>) {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { ...getDefaultEnvironment(), ...env },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  return { client, pid: transport.pid as number };
}

/**
 * `tools/call` through the stdio MCP gateway (`arden-mcp run`) against the same upstream called
 * directly, and one Arden check on its own, interleaved in the same run over sequential calls. The
 * goal: the gateway's p50 at most 1.3 × (direct p50 + check p50). Also the gateway process's
 * resident memory idle and after the calls.
 */
export const mcpGateway: Benchmark = {
  name: 'mcp-gateway',
  description: 'MCP tools/call through the stdio gateway vs the upstream directly (+ one check)',
  async run({ smoke, log }) {
    const calls = smoke ? 100 : 1_000;
    const server = await startArden(50);
    const { url, key } = server.info;
    const gatewayBin = require
      .resolve('@arden/mcp/package.json')
      .replace(/package\.json$/, 'dist/bin.js');
    const direct = await connectClient(process.execPath, [upstream], {});
    const gateway = await connectClient(
      process.execPath,
      [gatewayBin, 'run', '--name', 'bench', '--', process.execPath, upstream],
      { ARDEN_API_URL: url, ARDEN_API_KEY: key },
    );
    const arden = createArden({ apiKey: key, apiUrl: url, logLevel: 'error' });
    try {
      const call = (client: Client, index: number) =>
        client.callTool({ name: 'echo', arguments: { text: `call ${index}` } });
      const check = (index: number) =>
        arden.check('mcp.bench.echo', { args: [], kwargs: { text: `call ${index}` } }, {});
      log('warming up');
      for (let index = 0; index < Math.min(200, calls); index++) {
        await call(direct.client, index);
        await call(gateway.client, index);
        await check(index);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      const idleMiB = residentMiB(gateway.pid);
      const throughDirect: number[] = [];
      const throughGateway: number[] = [];
      const checks: number[] = [];
      const cpuBefore = process.cpuUsage();
      const gatewayCpuBefore = cpuMs(gateway.pid);
      const upstreamCpuBefore = cpuMs(direct.pid);
      for (let index = 0; index < calls; index++) {
        let started = performance.now();
        await call(direct.client, index);
        throughDirect.push(performance.now() - started);
        started = performance.now();
        const result = await call(gateway.client, index);
        throughGateway.push(performance.now() - started);
        if (result.isError)
          throw new Error(`the gateway refused a call: ${JSON.stringify(result)}`);
        started = performance.now();
        await check(index);
        checks.push(performance.now() - started);
      }
      const afterMiB = residentMiB(gateway.pid);
      const cpu = process.cpuUsage(cpuBefore);
      const gatewayCpu = (cpuMs(gateway.pid) - gatewayCpuBefore) / calls;
      const upstreamCpu = Math.max(0.001, (cpuMs(direct.pid) - upstreamCpuBefore) / calls);
      const directP50 = summarize(throughDirect).p50;
      const checkP50 = summarize(checks).p50;
      const gatewayStats = summarize(throughGateway);
      const budget = directP50 + checkP50;
      const gatewayRatio = ratio(gatewayStats.p50, budget);
      return {
        name: 'mcp-gateway',
        measurements: [
          {
            metric: 'tools/call via gateway p50',
            value: gatewayStats.p50,
            unit: 'ms',
            baseline: { name: 'direct p50 + one check p50', value: budget },
            ratio: gatewayRatio,
            goal: '≤ 1.3×',
            met: gatewayRatio <= 1.3,
          },
          {
            metric: 'tools/call via gateway p95',
            value: gatewayStats.p95,
            unit: 'ms',
            baseline: { name: 'direct p50 + one check p50', value: budget },
            ratio: ratio(gatewayStats.p95, budget),
          },
          {
            metric: 'tools/call direct p50',
            value: directP50,
            unit: 'ms',
            baseline: { name: 'via gateway p50', value: gatewayStats.p50 },
            ratio: ratio(directP50, gatewayStats.p50),
          },
          { metric: 'one Arden check p50', value: checkP50, unit: 'ms' },
          {
            // Load-independent: the gateway process's own CPU per relayed and checked call,
            // against what the upstream SDK server spends answering a call.
            metric: 'gateway CPU per call',
            value: gatewayCpu,
            unit: 'ms',
            baseline: { name: 'upstream server CPU per call (direct)', value: upstreamCpu },
            ratio: ratio(gatewayCpu, upstreamCpu),
          },
          {
            metric: `gateway RSS after ${calls} calls`,
            value: afterMiB,
            unit: 'MiB',
            baseline: { name: 'gateway RSS idle', value: idleMiB },
            ratio: ratio(afterMiB, idleMiB),
          },
        ],
        notes: [
          `${calls} sequential calls of each kind, interleaved; benchmark process CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms`,
        ],
      };
    } finally {
      await direct.client.close();
      await gateway.client.close();
      await arden.shutdown();
      await server.stop();
    }
  },
};
