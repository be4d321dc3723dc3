import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';
import { gatewayLatencies, runGatewayCalls } from '../mcp-gateway-calls.ts';
import { processCpuMs, startArden } from '../processes.ts';
import { type Benchmark, ratio } from '../types.ts';

const require = createRequire(import.meta.url);
const upstream = new URL('../fixtures/echo-mcp-server.ts', import.meta.url).pathname;

/** The resident memory of a process, in MiB (Linux: /proc). */
function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return Math.round((kib / 1024) * 10) / 10;
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
    try {
      let cpuBefore = process.cpuUsage();
      let gatewayCpuBefore = 0;
      let upstreamCpuBefore = 0;
      const run = await runGatewayCalls({
        calls,
        log,
        direct: direct.client,
        gateway: gateway.client,
        apiUrl: url,
        key,
        memoryOf: () => residentMiB(gateway.pid),
        measuring: () => {
          cpuBefore = process.cpuUsage();
          gatewayCpuBefore = processCpuMs(gateway.pid);
          upstreamCpuBefore = processCpuMs(direct.pid);
        },
      });
      const cpu = process.cpuUsage(cpuBefore);
      const gatewayCpu = (processCpuMs(gateway.pid) - gatewayCpuBefore) / calls;
      const upstreamCpu = Math.max(0.001, (processCpuMs(direct.pid) - upstreamCpuBefore) / calls);
      return {
        name: 'mcp-gateway',
        measurements: [
          ...gatewayLatencies('gateway', run),
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
            value: run.afterMiB,
            unit: 'MiB',
            baseline: { name: 'gateway RSS idle', value: run.idleMiB },
            ratio: ratio(run.afterMiB, run.idleMiB),
          },
        ],
        notes: [
          `${calls} sequential calls of each kind, interleaved; benchmark process CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms`,
        ],
      };
    } finally {
      await direct.client.close();
      await gateway.client.close();
      await server.stop();
    }
  },
};
