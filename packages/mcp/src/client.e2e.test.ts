import { createArden } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { guardMcpClient } from './client';
import { eventually, textOf } from './test-helpers';

// guardMcpClient on the real MCP SDK Client, talking to a real SDK McpServer in memory, checked
// by a real Arden server.
let t: TestServer;
const ran: string[] = [];

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      { name: 'Never delete', tool: 'mcp.repo.delete_file', action: 'block' },
      {
        name: 'Merges need a human',
        tool: 'mcp.repo.merge',
        // Merging into staging is allowed: where an approver edits a held merge to go.
        rules: [{ if: 'args.path == "staging"', then: 'allow' }],
        default: 'requires_approval',
      },
    ],
  });
});

afterAll(async () => {
  await t.close();
});

async function guardedClient(apiUrl = t.url) {
  const server = new McpServer({ name: 'repo', version: '1.0.0' });
  for (const name of ['read_file', 'delete_file', 'merge']) {
    server.registerTool(
      name,
      { inputSchema: { path: z.string() }, annotations: { destructiveHint: name !== 'read_file' } },
      async ({ path }) => {
        ran.push(`${name} ${path}`);
        return { content: [{ type: 'text', text: `${name} done on ${path}` }] };
      },
    );
  }
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(clientTransport);
  const arden = createArden({ apiKey: t.key, apiUrl, logLevel: 'silent', retryAttempts: 0 });
  return {
    client: guardMcpClient(client, { server: 'repo', arden, progressIntervalMs: 1000 }),
    arden,
  };
}

describe('guardMcpClient', () => {
  test('allowed calls run, blocked ones return isError and never reach the server', async () => {
    const { client, arden } = await guardedClient();
    await client.listTools();
    expect(textOf(await client.callTool({ name: 'read_file', arguments: { path: 'a.txt' } }))).toBe(
      'read_file done on a.txt',
    );
    const blocked = await client.callTool({ name: 'delete_file', arguments: { path: 'a.txt' } });
    expect(blocked.isError).toBe(true);
    expect(textOf(blocked)).toContain('Never delete');
    expect(ran).not.toContain('delete_file a.txt');
    await arden.flush();
    const actions = await eventually(
      () => t.actions(),
      (list) => list.some((a) => a.resultStatus === 'succeeded'),
    );
    const read = actions.find((action) => action.toolName === 'mcp.repo.read_file');
    expect(read?.resultStatus).toBe('succeeded');
    expect(JSON.parse(read?.metadataJson ?? '{}').mcp).toEqual({
      server: 'repo',
      tool: 'read_file',
      annotations: { destructiveHint: false },
    });
  });

  test('held calls wait with progress and run once approved; an aborted one rejects and never runs', async () => {
    const { client } = await guardedClient();
    const progress: unknown[] = [];
    const call = client.callTool({ name: 'merge', arguments: { path: 'main' } }, undefined, {
      onprogress: (event: unknown) => progress.push(event),
    });
    const held = await t.nextPending({ toolName: 'mcp.repo.merge' });
    await eventually(
      () => progress.length,
      (count) => count > 0,
    );
    await t.approve(held.id);
    expect(textOf(await call)).toBe('merge done on main');

    const controller = new AbortController();
    const cancelled = client.callTool({ name: 'merge', arguments: { path: 'other' } }, undefined, {
      signal: controller.signal,
    });
    const second = await t.nextPending({ toolName: 'mcp.repo.merge' });
    controller.abort(new Error('stopped'));
    await expect(cancelled).rejects.toThrow('stopped');
    // Recorded cancelled before callTool rejects: approving it later is a 409.
    expect((await t.actions({ status: 'cancelled' })).map((action) => action.id)).toEqual([
      second.id,
    ]);
    await expect(t.approve(second.id)).rejects.toMatchObject({ status: 409 });
    expect(ran).not.toContain('merge other');
  });

  test('a call approved with an edit runs with the edited arguments, never the original', async () => {
    const { client } = await guardedClient();
    const call = client.callTool({ name: 'merge', arguments: { path: 'release' } });
    const held = await t.nextPending({ toolName: 'mcp.repo.merge' });
    await t.approve(held.id, 'not release', { kwargs: { path: 'staging' } });
    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(ran).toContain('merge staging');
    expect(ran).not.toContain('merge release');
    // The model is told first what the approver changed, then gets the result.
    const content = result.content as Array<{ type: string; text: string }>;
    expect(content[0]?.text).toMatch(/^\[Arden\] .*changed arguments.*\{"path":"staging"\}/s);
    expect(content[1]?.text).toBe('merge done on staging');
  });

  test('a bad server name or a second guard is refused at once', async () => {
    const { client } = await guardedClient();
    expect(() =>
      guardMcpClient(new Client({ name: 'x', version: '1' }), { server: 'has.dot' }),
    ).toThrow(/not usable in Arden tool names/);
    expect(() => guardMcpClient(client, { server: 'repo' })).toThrow(/already guarded/);
  });

  test('client.request({ method: "tools/call" }) is checked like callTool: refused calls never reach the server', async () => {
    const { client } = await guardedClient();
    const blocked = await client.request(
      { method: 'tools/call', params: { name: 'delete_file', arguments: { path: 'via-request' } } },
      CallToolResultSchema,
    );
    expect(blocked.isError).toBe(true);
    expect(textOf(blocked)).toContain('Never delete');
    expect(ran).not.toContain('delete_file via-request');
    const allowed = await client.request(
      { method: 'tools/call', params: { name: 'read_file', arguments: { path: 'via-request' } } },
      CallToolResultSchema,
    );
    expect(textOf(allowed)).toBe('read_file done on via-request');
    // Checked (recorded in Arden) once, not merely passed through; and callTool, which sends
    // through request, is checked once too, not again there.
    await client.callTool({ name: 'read_file', arguments: { path: 'via-callTool' } });
    const actions = await t.actions();
    const of = (path: string) =>
      actions.filter((a) => a.toolName === 'mcp.repo.read_file' && a.kwargsJson.includes(path));
    expect(of('via-request')).toHaveLength(1);
    expect(of('via-callTool')).toHaveLength(1);
    expect(
      actions.filter(
        (a) => a.toolName === 'mcp.repo.delete_file' && a.kwargsJson.includes('via-request'),
      ),
    ).toHaveLength(1);
    // A request object whose method answers differently on a second read is read once: what
    // is checked (here nothing: a ping) is what is sent.
    let reads = 0;
    const shifty = {
      get method() {
        reads += 1;
        return reads === 1 ? 'ping' : 'tools/call';
      },
      params: { name: 'delete_file', arguments: { path: 'shifty' } },
    };
    await client.request(shifty as never, CallToolResultSchema).catch(() => undefined);
    expect(ran).not.toContain('delete_file shifty');
    // Other methods pass through untouched.
    await expect(client.ping()).resolves.toEqual({});
  });

  test('a request with keys that differ only in case is refused before it is sent (a server reading keys case-insensitively could run another method or tool)', async () => {
    const { client } = await guardedClient();
    const disguised = {
      method: 'ping',
      Method: 'tools/call',
      Params: { name: 'delete_file', arguments: { path: 'disguised' } },
    };
    await expect(client.request(disguised as never, CallToolResultSchema)).rejects.toThrow(
      /differs only in case/,
    );
    const clashing = {
      method: 'tools/call',
      params: { name: 'read_file', arguments: { path: 'a', Path: 'b' } },
    };
    await expect(client.request(clashing as never, CallToolResultSchema)).rejects.toThrow(
      /differs only in case/,
    );
    expect(ran.filter((entry) => entry.includes('disguised') || entry.endsWith(' a'))).toEqual([]);
    await expect(client.ping()).resolves.toEqual({});
  });

  test('experimental.tasks.callToolStream and requestStream are checked too', async () => {
    const { client } = await guardedClient();
    const messages = async (stream: AsyncIterable<any>) => {
      const seen: any[] = [];
      for await (const message of stream) seen.push(message);
      return seen;
    };
    const streamed = await messages(
      client.experimental.tasks.callToolStream({
        name: 'delete_file',
        arguments: { path: 'via-stream' },
      }),
    );
    expect(streamed.map((message) => message.type)).toEqual(['result']);
    expect(streamed[0].result.isError).toBe(true);
    expect(textOf(streamed[0].result)).toContain('Never delete');
    // Task-augmented: the refusal is an error message (no task is created).
    const asTask = await messages(
      client.experimental.tasks.callToolStream(
        { name: 'delete_file', arguments: { path: 'via-task' } },
        undefined,
        { task: {} },
      ),
    );
    expect(asTask.map((message) => message.type)).toEqual(['error']);
    expect(String(asTask[0].error.message)).toContain('Never delete');
    const raw = await messages(
      client.experimental.tasks.requestStream(
        {
          method: 'tools/call',
          params: { name: 'delete_file', arguments: { path: 'via-request-stream' } },
        },
        CallToolResultSchema,
      ),
    );
    expect(raw[0].result.isError).toBe(true);
    for (const path of ['via-stream', 'via-task', 'via-request-stream'])
      expect(ran).not.toContain(`delete_file ${path}`);
    const allowed = await messages(
      client.experimental.tasks.callToolStream({ name: 'read_file', arguments: { path: 'ok' } }),
    );
    expect(textOf(allowed[0].result)).toBe('read_file done on ok');
  });

  test('Arden unreachable: the call fails closed (isError) and never reaches the server', async () => {
    // A port nothing listens on.
    const { client } = await guardedClient('http://127.0.0.1:9');
    const refused = await client.callTool({
      name: 'read_file',
      arguments: { path: 'unreachable' },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/Arden/);
    const viaRequest = await client.request(
      { method: 'tools/call', params: { name: 'read_file', arguments: { path: 'unreachable' } } },
      CallToolResultSchema,
    );
    expect(viaRequest.isError).toBe(true);
    expect(ran).not.toContain('read_file unreachable');
  });
});
