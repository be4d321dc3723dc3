import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { gatewayLatencies, runGatewayCalls } from '../mcp-gateway-calls.ts';
import { startProcess } from '../processes.ts';
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
    try {
      const run = await runGatewayCalls({
        calls,
        log,
        direct,
        gateway,
        apiUrl: url,
        key,
        memoryOf: () => server.rssMiB(),
      });
      return {
        name: 'mcp-http-gateway',
        measurements: [
          ...gatewayLatencies('HTTP gateway', run),
          {
            metric: `Arden server RSS after ${calls} gateway calls`,
            value: run.afterMiB,
            unit: 'MiB',
            baseline: { name: 'Arden server RSS, gateway session idle', value: run.idleMiB },
            ratio: ratio(run.afterMiB, run.idleMiB),
          },
        ],
        notes: [`${calls} sequential calls of each kind, interleaved, one session each`],
      };
    } finally {
      await direct.close();
      await gateway.close();
      await server.stop();
      await upstream.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
