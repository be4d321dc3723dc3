import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type Connected, connect, eventually, faultServer, textOf } from './test-helpers';

// An upstream that crashes, hangs, writes garbage and answers too much: the client gets a clear
// error each time, and the gateway stays up and keeps serving.
let t: TestServer;
let connected: Connected | undefined;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.close();
});

afterEach(async () => {
  await connected?.close();
  connected = undefined;
});

async function gateway(): Promise<Connected> {
  connected = await connect([process.execPath, faultServer], {
    gateway: ['--name', 'faulty', '--upstream-timeout', '3', '--max-message-bytes', '1000000'],
    arden: { url: t.url, key: t.key },
  });
  return connected;
}

function pidOf(text: string): string | undefined {
  return /pid (\d+)/.exec(text)?.[1];
}

describe('stdio gateway faults', () => {
  test('an upstream that crashes mid-call: a clear error, then a fresh upstream for the next call', async () => {
    const { client, stderr } = await gateway();
    const before = pidOf(
      textOf(await client.callTool({ name: 'ok', arguments: { value: 'one' } })),
    );
    await expect(client.callTool({ name: 'crash', arguments: {} })).rejects.toThrow(
      /MCP server "faulty" exited with code 3 before answering tools\/call/,
    );
    const after = textOf(await client.callTool({ name: 'ok', arguments: { value: 'two' } }));
    expect(after).toContain('ok two');
    expect(pidOf(after)).not.toBe(before);
    expect(stderr()).toContain('exited with code 3');
    const crashed = await eventually(
      () => t.actions(),
      (list) =>
        list.some(
          (action) => action.toolName === 'mcp.faulty.crash' && action.resultStatus === 'failed',
        ),
    );
    expect(crashed.find((action) => action.toolName === 'mcp.faulty.crash')?.resultError).toContain(
      'exited',
    );
  });

  test('an upstream that hangs: the request times out with a clear error and the gateway answers on', async () => {
    const { client } = await gateway();
    await expect(client.callTool({ name: 'hang', arguments: {} })).rejects.toThrow(
      /did not answer tools\/call within 3 s/,
    );
    expect(textOf(await client.callTool({ name: 'ok', arguments: { value: 'still' } }))).toContain(
      'ok still',
    );
    // Nothing half-recorded: the allowed call that never answered has a failed outcome.
    const actions = await eventually(
      () => t.actions(),
      (list) => list.some((a) => a.toolName === 'mcp.faulty.hang' && a.resultStatus !== null),
    );
    const hung = actions.find((a) => a.toolName === 'mcp.faulty.hang');
    expect(hung?.resultStatus).toBe('failed');
    expect(hung?.resultError).toContain('did not answer tools/call within 3 s');
  });

  test('a call the client cancels after it was forwarded: recorded as failed, the cancellation passed on, a late answer dropped', async () => {
    // No --upstream-timeout: only the client's own timeout ends the calls.
    connected = await connect([process.execPath, faultServer], {
      gateway: ['--name', 'faulty'],
      arden: { url: t.url, key: t.key },
    });
    const { client, stderr } = connected;
    const earlier = new Set((await t.actions()).map((action) => action.id));
    const errors: Error[] = [];
    client.onerror = (error) => errors.push(error);
    await expect(
      client.callTool({ name: 'hang', arguments: {} }, undefined, { timeout: 1_500 }),
    ).rejects.toThrow(/timed out/i);
    // The upstream received the client's notifications/cancelled.
    await eventually(stderr, (text) => /fault-server: request \S+ cancelled/.test(text));
    expect(stderr()).toMatch(/fault-server: request \S+ cancelled/);
    // An upstream that answers anyway, after the cancellation: the client never sees it.
    await expect(
      client.callTool({ name: 'late', arguments: {} }, undefined, { timeout: 300 }),
    ).rejects.toThrow(/timed out/i);
    await eventually(stderr, (text) => text.includes("dropped the MCP server's late answer"));
    expect(stderr()).toContain("dropped the MCP server's late answer");
    expect(errors.map((error) => error.message)).toEqual([]);
    expect(textOf(await client.callTool({ name: 'ok', arguments: { value: 'on' } }))).toContain(
      'ok on',
    );
    // Nothing half-recorded: both calls have a failed outcome that says they were cancelled.
    const actions = await eventually(
      async () => (await t.actions()).filter((action) => !earlier.has(action.id)),
      (list) =>
        ['mcp.faulty.hang', 'mcp.faulty.late'].every((tool) =>
          list.some((a) => a.toolName === tool && a.resultStatus !== null),
        ),
    );
    for (const tool of ['mcp.faulty.hang', 'mcp.faulty.late']) {
      const action = actions.find((a) => a.toolName === tool);
      expect(action?.resultStatus).toBe('failed');
      expect(action?.resultError).toContain('The MCP client cancelled tools/call');
    }
  });

  test('an upstream that writes lines that are not JSON-RPC: they are dropped and logged', async () => {
    const { client, stderr } = await gateway();
    expect(textOf(await client.callTool({ name: 'garbage', arguments: {} }))).toBe('after garbage');
    expect(stderr()).toContain('not a JSON-RPC message');
    expect(textOf(await client.callTool({ name: 'ok', arguments: {} }))).toContain('ok');
  });

  test('an answer over the size limit: a clear error for that request, the next one works', async () => {
    const { client } = await gateway();
    await expect(
      client.callTool({ name: 'huge', arguments: { bytes: 3_000_000 } }),
    ).rejects.toThrow(/over the Arden gateway's limit of 1000000/);
    const small = await client.callTool({ name: 'huge', arguments: { bytes: 10 } });
    expect(textOf(small)).toBe('x'.repeat(10));
    // Each call has its own outcome: the oversized answer failed, the small one succeeded.
    const actions = await eventually(
      () => t.actions(),
      (list) =>
        list.filter((a) => a.toolName === 'mcp.faulty.huge' && a.resultStatus !== null).length >= 2,
    );
    const huge = actions.filter((a) => a.toolName === 'mcp.faulty.huge');
    expect(huge.map((a) => a.resultStatus).sort()).toEqual(['failed', 'succeeded']);
    expect(huge.find((a) => a.resultStatus === 'failed')?.resultError).toContain(
      "over the Arden gateway's limit",
    );
  });

  test('a client message over the size limit is refused, not forwarded', async () => {
    const { client } = await gateway();
    await expect(
      client.callTool({ name: 'ok', arguments: { value: 'y'.repeat(2_000_000) } }),
    ).rejects.toThrow(/over the Arden gateway's limit/);
    expect(textOf(await client.callTool({ name: 'ok', arguments: { value: 'after' } }))).toContain(
      'ok after',
    );
  });

  test('a call of more JSON values than the server checks (ARDEN_CHECK_VALUE_LIMIT) does not run', async () => {
    const { client } = await gateway();
    // The server's default ARDEN_CHECK_VALUE_LIMIT (`defaultCheckValueLimit`): read here as a
    // number, since on Node 20 the test server runs in a child process.
    const limit = 8_192;
    const refused = await client.callTool({
      name: 'ok',
      arguments: { value: 'many', items: Array(limit).fill(0) },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).not.toContain('ok many');
    expect(textOf(refused)).toContain('did not run');
    expect(textOf(refused)).toContain('ARDEN_CHECK_VALUE_LIMIT');
    expect(textOf(await client.callTool({ name: 'ok', arguments: { value: 'few' } }))).toContain(
      'ok few',
    );
  });
});
