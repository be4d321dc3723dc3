import { afterEach, describe, expect, test } from 'vitest';
import { ConflictError } from '../errors';
import { startTestServer, type TestServer, temporaryDirectory } from '../test-fixtures/harness';

const servers: TestServer[] = [];

// No port: these tests call the request handler in process (the network is not the point).
async function start(...parameters: Parameters<typeof startTestServer>): Promise<TestServer> {
  const [config, options] = parameters;
  const server = await startTestServer(config, { listen: false, ...options });
  servers.push(server);
  return server;
}

afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

const webhookUrl = 'http://127.0.0.1:9/never-reached';

async function hold(t: TestServer, tool = 'payments.pay'): Promise<string> {
  const response = await t.request('POST', '/policy/check', {
    body: { tool_name: tool, args: [], kwargs: { amount: 1 }, metadata: null },
  });
  expect(response.json.status).toBe('pending');
  return response.json.action_id;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('long-poll', () => {
  test('every waiter on one action wakes at once when it is approved', async () => {
    const t = await start({ workers: false }, { agent: { defaultAction: 'requires_approval' } });
    const id = await hold(t);
    const waiters = Array.from({ length: 50 }, () =>
      t.request('GET', `/status/${id}?wait=20`).then((response) => ({ response, at: Date.now() })),
    );
    await waitFor(async () => t.server.hub.waiting === 50, 20_000);
    const decidedAt = Date.now();
    await t.server.approvals.decide(id, { decision: 'approve', userId: 'alice', notes: 'go' });
    const answers = await Promise.all(waiters);
    for (const { response, at } of answers) {
      expect(response.status).toBe(200);
      expect(response.json).toMatchObject({ action_id: id, status: 'approved', message: 'go' });
      expect(at - decidedAt).toBeLessThan(3_000);
    }
    // Woken together, not one poll interval after another.
    const times = answers.map((answer) => answer.at);
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(1_500);
    expect(t.server.hub.waiting).toBe(0);
  });

  test('a wait that runs out answers pending; an already decided action answers at once', async () => {
    const t = await start({ workers: false }, { agent: { defaultAction: 'requires_approval' } });
    const id = await hold(t);
    const started = Date.now();
    const response = await t.request('GET', `/status/${id}?wait=1`);
    expect(response.json.status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    await t.server.approvals.decide(id, { decision: 'deny', userId: 'bob' });
    const quick = Date.now();
    expect((await t.request('GET', `/status/${id}?wait=30`)).json.status).toBe('denied');
    expect(Date.now() - quick).toBeLessThan(500);
  });

  test('closing the server answers waiting long-polls instead of holding them', async () => {
    const t = await start({ workers: false }, { agent: { defaultAction: 'requires_approval' } });
    const id = await hold(t);
    const waiting = t.request('GET', `/status/${id}?wait=30`);
    await waitFor(async () => t.server.hub.waiting === 1);
    const started = Date.now();
    await t.server.close();
    expect((await waiting).json.status).toBe('pending');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('decisions', () => {
  test('100 concurrent decisions: exactly one wins, one outbox row', async () => {
    const t = await start(
      { workers: false },
      { agent: { defaultAction: 'requires_approval', webhookUrl } },
    );
    const id = await hold(t);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 100 }, (_, index) =>
        t.server.approvals.decide(id, {
          decision: index % 2 === 0 ? 'approve' : 'deny',
          userId: `user-${index}`,
        }),
      ),
    );
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(99);
    for (const outcome of lost) {
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      expect((outcome as PromiseRejectedResult).reason.status).toBe(409);
    }
    const deliveries = await t.server.store.webhooks.list({ actionId: id });
    expect(deliveries.items).toHaveLength(1);
    const action = await t.server.store.actions.get(id);
    expect(action?.decidedBy).toBe(
      (won[0] as PromiseFulfilledResult<{ decidedBy: string }>).value.decidedBy,
    );
  });

  test('deciding an action that never needed approval, or an unknown one, fails clearly', async () => {
    const t = await start({ workers: false });
    const allowed = await t.request('POST', '/policy/check', { body: { tool_name: 'x' } });
    await expect(
      t.server.approvals.decide(allowed.json.action_id, { decision: 'approve', userId: 'a' }),
    ).rejects.toThrow(/did not need approval/);
    await expect(
      t.server.approvals.decide('nope', { decision: 'approve', userId: 'a' }),
    ).rejects.toMatchObject({
      status: 404,
    });
  });
});

describe('expiry', () => {
  test('on_timeout deny: expired reads as denied, the outbox gets action_denied, waiters wake', async () => {
    const t = await start(
      { sweepIntervalMs: 50, webhooks: { pollIntervalMs: 60_000 } },
      { agent: { webhookUrl } },
    );
    await t.server.policies.saveSet(t.agent.id, 'live', [
      { name: 'Quick', tool: 'payments.*', action: 'requires_approval', timeout: 1 },
    ]);
    const id = await hold(t);
    const waiting = t.request('GET', `/status/${id}?wait=10`);
    const response = await waiting;
    expect(response.json.status).toBe('denied');
    expect(response.json.message).toMatch(/expired/);
    const action = await t.server.store.actions.get(id);
    expect(action).toMatchObject({ status: 'expired', onTimeout: 'deny', decidedBy: null });
    const [delivery] = (await t.server.store.webhooks.list({ actionId: id })).items;
    expect(JSON.parse(delivery?.payload ?? '{}')).toMatchObject({
      event_type: 'action_denied',
      approval: { admin_user_id: null, expired: true },
    });
    await expect(
      t.server.approvals.decide(id, { decision: 'approve', userId: 'late' }),
    ).rejects.toThrow(/already expired/);
  });

  test('on_timeout allow: expired reads as approved', async () => {
    const t = await start({ sweepIntervalMs: 50 });
    await t.server.policies.saveSet(t.agent.id, 'live', [
      {
        name: 'Lenient',
        tool: 'payments.*',
        action: 'requires_approval',
        timeout: 1,
        on_timeout: 'allow',
      },
    ]);
    const id = await hold(t);
    const response = await t.request('GET', `/status/${id}?wait=10`);
    expect(response.json.status).toBe('approved');
    expect(response.json.message).toMatch(/on_timeout is allow/);
  });

  test('expiry survives a restart: the sweeper reads expires_at from the store', async () => {
    const dataDir = temporaryDirectory();
    const first = await startTestServer(
      { dataDir, workers: false },
      { agent: { webhookUrl }, keepData: true, listen: false },
    );
    await first.server.policies.saveSet(first.agent.id, 'live', [
      { name: 'Quick', tool: 'payments.*', action: 'requires_approval', timeout: 1 },
    ]);
    const id = await hold(first);
    await first.close();
    // The second server starts "1.1 s later", by its clock: past the 1 s window, without waiting.
    const second = await start({
      clock: () => Date.now() + 1_100,
      dataDir,
      databaseUrl: first.databaseUrl,
      sweepIntervalMs: 50,
      webhooks: { pollIntervalMs: 60_000 },
    });
    await waitFor(async () => (await second.server.store.actions.get(id))?.status === 'expired');
    expect((await second.request('GET', `/status/${id}`)).json.status).toBe('denied');
    expect((await second.server.store.webhooks.list({ actionId: id })).items).toHaveLength(1);
  });
});

describe.skipIf(!process.env.ARDEN_TEST_DATABASE_URL)('replicas on PostgreSQL', () => {
  test('a decision on one replica wakes the agent long-polling on another', async () => {
    const first = await start(
      { workers: false },
      { agent: { defaultAction: 'requires_approval' } },
    );
    const second = await start({ databaseUrl: first.databaseUrl, workers: false });
    const id = await hold(first);
    // The agent waits on the second replica (same key: the agent row is shared).
    const waiting = second.request('GET', `/status/${id}?wait=20`, { key: first.liveKey });
    await waitFor(async () => second.server.hub.waiting === 1, 20_000);
    const decidedAt = Date.now();
    await first.server.approvals.decide(id, {
      decision: 'approve',
      userId: 'alice',
      notes: 'from A',
    });
    const response = await waiting;
    expect(response.json).toMatchObject({ status: 'approved', message: 'from A' });
    expect(Date.now() - decidedAt).toBeLessThan(3_000);
  });

  test('keys revoked and policies saved on one replica apply on another at once', async () => {
    const first = await start({ workers: false });
    const second = await start({ databaseUrl: first.databaseUrl, workers: false });
    const created = await first.server.agents.createKey(first.agent.id, 'live');
    const check = (tool: string) =>
      second.request('POST', '/policy/check', { key: created.key, body: { tool_name: tool } });
    expect((await check('shell.run')).json.decision).toBe('allow');
    await first.server.policies.saveSet(first.agent.id, 'live', [
      { name: 'Shell', tool: 'shell.run', action: 'block' },
    ]);
    await waitFor(async () => (await check('shell.run')).json.decision === 'block', 3_000);
    await first.server.agents.revokeKey(created.record.id);
    await waitFor(async () => (await check('shell.run')).status === 401, 3_000);
  });
});
