import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { testDatabaseUrl } from './test-fixtures/harness';
import { startTestServer, type TestServer, type TestServerOptions } from './testing';

const servers: TestServer[] = [];

// On the postgres project the helper runs on a schema of its own, like the rest of the suite.
async function start(options: TestServerOptions = {}): Promise<TestServer> {
  const databaseUrl = await testDatabaseUrl();
  const server = await startTestServer({
    ...options,
    ...(databaseUrl === undefined ? {} : { config: { databaseUrl } }),
  });
  servers.push(server);
  return server;
}

afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

async function check(t: TestServer, tool: string, sessionId?: string) {
  const response = await fetch(`${t.url}/policy/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': t.key },
    body: JSON.stringify({
      tool_name: tool,
      args: [],
      kwargs: {},
      metadata: sessionId === undefined ? null : { session_id: sessionId },
    }),
  });
  return (await response.json()) as { decision: string; action_id: string; status?: string };
}

describe('startTestServer', () => {
  test('an agent with a key and the policies in the environment asked for', async () => {
    const t = await start({
      environment: 'test',
      policies: [{ name: 'Never drop tables', tool: 'drop_table', action: 'block' }],
    });
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(t.key).toMatch(/^arden_test_/);
    expect(t.environment).toBe('test');
    expect((await check(t, 'drop_table')).decision).toBe('block');
    expect((await check(t, 'search')).decision).toBe('allow');
    const actions = await t.actions();
    expect(actions.map((action) => [action.toolName, action.decision])).toEqual([
      ['drop_table', 'block'],
      ['search', 'allow'],
    ]);
    expect(actions.every((action) => action.agentId === t.agentId)).toBe(true);
  });

  test('nextPending hands out each held call once, oldest first, already held or held later', async () => {
    const t = await start({ defaultAction: 'requires_approval' });
    const first = await check(t, 'refund', 's-1');
    const second = await check(t, 'refund', 's-2');
    expect((await t.nextPending()).id).toBe(first.action_id);
    expect((await t.nextPending({ sessionId: 's-2' })).id).toBe(second.action_id);
    const later = t.nextPending({ toolName: 'pay' });
    const third = await check(t, 'pay', 's-1');
    expect((await later).id).toBe(third.action_id);
    expect((await t.approve(first.action_id, 'fine')).status).toBe('approved');
    expect((await t.deny(second.action_id, 'no')).status).toBe('denied');
    expect((await t.actions({ status: 'pending' })).map((action) => action.id)).toEqual([
      third.action_id,
    ]);
    expect((await t.actions({ sessionId: 's-1' })).map((action) => action.id)).toEqual([
      first.action_id,
      third.action_id,
    ]);
  });

  test('nextPending says so when no call is held in time', async () => {
    const t = await start({ pendingTimeoutMs: 100 });
    await check(t, 'search');
    await expect(t.nextPending()).rejects.toThrow(/No call was held for approval within 100 ms/);
  });

  test('usage oldest first, by session; close() deletes the data directory', async () => {
    const t = await start();
    for (const [model, session] of [
      ['gpt-4o', 's-1'],
      ['gpt-4o-mini', 's-2'],
      ['gpt-4.1', 's-1'],
    ] as const) {
      const response = await fetch(`${t.url}/token-usage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': t.key },
        body: JSON.stringify({
          model,
          prompt_tokens: 10,
          completion_tokens: 5,
          session_id: session,
        }),
      });
      expect(response.status).toBe(200);
    }
    expect((await t.usage()).map((event) => event.model)).toEqual([
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-4.1',
    ]);
    expect((await t.usage({ sessionId: 's-1' })).map((event) => event.model)).toEqual([
      'gpt-4o',
      'gpt-4.1',
    ]);
    servers.pop();
    await t.close();
    expect(existsSync(t.dataDir)).toBe(false);
  });
});
