// The MCP conformance suite (`@modelcontextprotocol/conformance`, its server scenarios) against
// the Streamable HTTP gateway (issue #15). Every scenario runs twice against the same fixture
// server (fixture-server.ts, ours, written from what the scenarios check): directly, and through
// Arden — a test-only proxy that adds the agent key (auth-proxy.ts; the suite cannot send one)
// → `/mcp/conformance` of a listening Arden server → the fixture, registered as an HTTP upstream.
// A scenario that passes directly must pass through the gateway, and a tool an Arden policy
// blocks, called on the same path, must be refused without reaching the fixture.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../../admin/test-support';
import { mcpHttpGatewayOf } from '../agent-routes';
import { type AuthProxy, startAuthProxy } from './auth-proxy';
import { blockedTool, type FixtureServer, startFixtureServer } from './fixture-server';

/**
 * Scenarios that fail through the gateway although they pass directly, each for a stated reason
 * (docs/integrations/mcp.md, "Conformance"). Exact: a scenario that starts passing fails this
 * test, so the list and the docs are updated together.
 */
const failingThroughGateway: Record<string, string[]> = {
  // The scenario is for unauthenticated localhost servers: it sends `Host: evil.example.com`
  // and expects a 4xx. The gateway's answer to a request from another site is its 401 (a
  // browser page cannot hold the agent key); behind the proxy, which adds the key, the request
  // is authenticated and answered. Asserted separately below: without the key, 401.
  'dns-rebinding-protection': [
    'localhost-host-rebinding-rejected: Expected HTTP 4xx for invalid Host/Origin headers, got 200',
  ],
};

interface ScenarioResult {
  passed: boolean;
  /** `id: message` of each FAILURE check. */
  failures: string[];
  /** ids of WARNING checks. */
  warnings: string[];
}

const packageJson = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/conformance/package.json',
);
const cli = join(
  dirname(packageJson),
  (createRequire(import.meta.url)(packageJson) as { bin: { conformance: string } }).bin.conformance,
);

/** Runs every server scenario (`--suite all`: active and pending) against `url`. */
async function runSuite(url: string, outputDir: string): Promise<Map<string, ScenarioResult>> {
  // The CLI exits 1 when a scenario fails: the results are read from its checks.json files.
  await promisify(execFile)(
    process.execPath,
    [cli, 'server', '--url', url, '--suite', 'all', '--output-dir', outputDir],
    { timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
  ).catch((error: { code?: unknown; killed?: boolean; stderr?: string }) => {
    if (typeof error.code !== 'number' || error.killed) throw error;
  });
  const results = new Map<string, ScenarioResult>();
  for (const entry of await readdir(outputDir)) {
    const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry)?.[1];
    if (!scenario) continue;
    const checks = JSON.parse(await readFile(join(outputDir, entry, 'checks.json'), 'utf8')) as {
      id: string;
      status: string;
      errorMessage?: string;
    }[];
    const failures = checks
      .filter((check) => check.status === 'FAILURE')
      .map((check) => `${check.id}: ${check.errorMessage ?? ''}`);
    results.set(scenario, {
      passed: failures.length === 0 && checks.length > 0,
      failures,
      warnings: checks.filter((check) => check.status === 'WARNING').map((check) => check.id),
    });
  }
  return results;
}

let fixture: FixtureServer;
let t: AdminTestServer;
let proxy: AuthProxy;
let outputRoot: string;
let direct: Map<string, ScenarioResult>;
let throughGateway: Map<string, ScenarioResult>;
let scenarioCalls: string[];
let gatewayUrl: string;

beforeAll(async () => {
  fixture = await startFixtureServer();
  t = await startAdminTestServer();
  // The agent's default is allow: every scenario tool runs; one fixture tool is blocked.
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'Never delete everything', tool: `mcp.conformance.${blockedTool}`, action: 'block' },
  ]);
  const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
    body: { name: 'conformance', url: fixture.url },
  });
  expect(added.status).toBe(201);
  proxy = await startAuthProxy(t.url, t.liveKey);
  gatewayUrl = `${proxy.origin}/mcp/conformance`;
  outputRoot = await mkdtemp(join(tmpdir(), 'arden-mcp-conformance-'));
  direct = await runSuite(fixture.url, join(outputRoot, 'direct'));
  const callsBefore = fixture.calls.length;
  throughGateway = await runSuite(gatewayUrl, join(outputRoot, 'gateway'));
  scenarioCalls = fixture.calls.slice(callsBefore);
}, 300_000);

afterAll(async () => {
  await mcpHttpGatewayOf(t?.server)?.close();
  await proxy?.close();
  await t?.close();
  await fixture?.close();
  if (outputRoot) await rm(outputRoot, { recursive: true, force: true });
});

function failed(results: Map<string, ScenarioResult>): Record<string, string[]> {
  return Object.fromEntries(
    [...results].filter(([, result]) => !result.passed).map(([name, r]) => [name, r.failures]),
  );
}

describe('@modelcontextprotocol/conformance server scenarios', () => {
  it('all pass directly against the fixture server', () => {
    // 32 server scenarios in 0.1.16; a newer suite may add some (they must pass too).
    expect(direct.size).toBeGreaterThanOrEqual(32);
    expect(failed(direct)).toEqual({});
  });

  it('pass through the proxy and the Arden gateway as they do directly', () => {
    expect([...throughGateway.keys()].sort()).toEqual([...direct.keys()].sort());
    expect(failed(throughGateway)).toEqual(failingThroughGateway);
    // The gateway adds no warning either (SHOULDs: priming events, retry field…).
    for (const [name, result] of throughGateway) {
      const before = direct.get(name)?.warnings ?? [];
      expect({ name, added: result.warnings.filter((id) => !before.includes(id)) }).toEqual({
        name,
        added: [],
      });
    }
  });

  it('went through the gateway: each tool call checked, allowed and logged as mcp.conformance.<tool>', async () => {
    expect(proxy.forwarded()).toBeGreaterThan(throughGateway.size);
    // The scenarios' calls that reached the fixture through the gateway…
    const called = new Set(scenarioCalls);
    expect(called).toContain('test_simple_text');
    expect(called).toContain('test_sampling');
    // …each logged by the gateway's check, allowed, under the MCP name.
    const actions = await t.admin('GET', '/api/v1/actions?tool=mcp.conformance.*&limit=100');
    expect(actions.status).toBe(200);
    const items = (actions.json as { items: { tool_name: string; decision: string }[] }).items;
    const logged = new Set(items.map((item) => item.tool_name));
    for (const tool of called) expect(logged).toContain(`mcp.conformance.${tool}`);
    expect(items.filter((item) => item.decision !== 'allow')).toEqual([]);
  });

  it('refuses a blocked tool on the same path, without calling the fixture', async () => {
    const client = new Client({ name: 'conformance-check', version: '1.0.0' });
    // No header of its own: the proxy adds the key, as for the suite.
    await client.connect(new StreamableHTTPClientTransport(new URL(gatewayUrl)));
    const listed = await client.listTools();
    expect(listed.tools.map((tool) => tool.name)).toContain('test_simple_text');
    expect(listed.tools.map((tool) => tool.name)).not.toContain(blockedTool);
    const callsBefore = fixture.calls.length;
    const refused = await client.callTool({ name: blockedTool, arguments: {} });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain('Never delete everything');
    expect(fixture.calls.slice(callsBefore)).toEqual([]);
    await client.close();

    // Directly, the same tool runs: the refusal was the gateway's.
    const plain = new Client({ name: 'conformance-check', version: '1.0.0' });
    await plain.connect(new StreamableHTTPClientTransport(new URL(fixture.url)));
    const ran = await plain.callTool({ name: blockedTool, arguments: {} });
    expect(ran.isError).toBeFalsy();
    expect(fixture.calls.at(-1)).toBe(blockedTool);
    await plain.close();
  });

  it('answers the DNS-rebinding scenario’s request with 401 when no key is added', async () => {
    const response = await fetch(`${t.url}/mcp/conformance`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        origin: 'http://evil.example.com',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'rebinding', version: '1.0.0' },
        },
      }),
    });
    expect(response.status).toBe(401);
  });
});
