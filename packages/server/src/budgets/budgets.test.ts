// Budgets end to end on a real server (SQLite, and PostgreSQL in the postgres project): the
// admin API, POST /v1/model-calls/check reserving before the call, settlement by the usage
// record, expiry, restart, tool calls of a session over budget, and bad input.
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { reservedAmount } from './service';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

let now = Date.parse('2026-12-06T10:00:00Z');
const clock = () => now;

async function start(config: Record<string, unknown> = {}): Promise<AdminTestServer> {
  const t = await startAdminTestServer({ workers: false, clock, ...config }, { listen: false });
  servers.push(t);
  return t;
}

async function budget(t: AdminTestServer, body: Record<string, unknown>) {
  const response = await t.admin('POST', '/api/v1/budgets', {
    body: { agent: t.agent.id, environment: 'live', ...body },
  });
  expect(response.status, response.text).toBe(201);
  return response.json as { id: string };
}

// gpt-4o: $2.50 / M input, $10 / M output: 1 000 + 1 000 tokens is $0.0125.
const call = (session = 's-1', extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o',
  estimated_input_tokens: 1000,
  max_output_tokens: 1000,
  session_id: session,
  ...extra,
});

async function check(t: AdminTestServer, body: unknown) {
  const response = await t.request('POST', '/v1/model-calls/check', { body });
  expect(response.status, response.text).toBe(200);
  return response.json as Record<string, any>;
}

describe('budgets', () => {
  test('a model call is reserved until the budget is full, then refused with budget, spent and reserved', async () => {
    const t = await start();
    const created = await budget(t, { scope: 'session', limit_usd: 0.05, name: 'Run cap' });
    const allowed = [];
    for (let index = 0; index < 4; index++) allowed.push(await check(t, call()));
    for (const answer of allowed) {
      expect(answer).toMatchObject({
        decision: 'allow',
        reason: 'reserved',
        estimated_cost_usd: 0.0125,
      });
      expect(answer.reservation_id).toEqual(expect.any(String));
    }
    expect(allowed[3]?.budgets[0]).toMatchObject({
      id: created.id,
      reserved_usd: 0.05,
      spent_usd: 0,
    });
    const refused = await check(t, call());
    expect(refused).toMatchObject({
      decision: 'refuse',
      reason: 'budget_exceeded',
      reservation_id: null,
      budget: {
        id: created.id,
        name: 'Run cap',
        limit_usd: 0.05,
        spent_usd: 0,
        reserved_usd: 0.05,
      },
    });
    expect(refused.message).toContain('Run cap');
    // Another session has a budget of its own.
    expect((await check(t, call('s-2'))).decision).toBe('allow');
    // A call without a session is not counted by session budgets.
    expect(await check(t, call('', {}))).toMatchObject({ decision: 'allow', reason: 'no_budget' });
    expect(
      await reservedAmount(t.server.store, {
        agentId: t.agent.id,
        environment: 'live',
        sessionId: 's-1',
      }),
    ).toEqual({ usd: 0.05, tokens: 8000 });
  });

  test('the usage record settles a reservation with the real cost, once', async () => {
    const t = await start();
    const { id } = await budget(t, { scope: 'agent_day', limit_usd: 0.03 });
    const first = await check(t, call());
    const second = await check(t, call());
    expect((await check(t, call())).decision).toBe('refuse');
    // The first call used 500 + 100 tokens: $0.00225.
    const usage = await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 500,
        completion_tokens: 100,
        session_id: 's-1',
        reservation_id: first.reservation_id,
      },
    });
    expect(usage.status, usage.text).toBe(200);
    // A second record naming the same reservation counts its spend but gives nothing back twice.
    await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 0,
        completion_tokens: 0,
        session_id: 's-1',
        reservation_id: first.reservation_id,
      },
    });
    const overview = await t.admin('GET', `/api/v1/agents/${t.agent.id}/budgets/live`);
    expect(overview.status, overview.text).toBe(200);
    expect(overview.json.budgets[0]).toMatchObject({
      id,
      spent_usd: 0.00225,
      spent_tokens: 600,
      reserved_usd: 0.0125,
      reserved_tokens: 2000,
      over: false,
    });
    const settled = overview.json.reservations.find(
      (r: { id: string }) => r.id === first.reservation_id,
    );
    expect(settled).toMatchObject({ status: 'settled', actual_usd: 0.00225, actual_tokens: 600 });
    expect(overview.json.reserved_usd).toBe(0.0125);
    // Room again: 0.00225 + 0.0125 + 0.0125 ≤ 0.03.
    expect((await check(t, call())).decision).toBe('allow');
    expect(second.decision).toBe('allow');
  });

  test('usage without a reservation counts against the budget too, and a reservation of another key is refused', async () => {
    const t = await start();
    await budget(t, { scope: 'session', limit_tokens: 2500 });
    await t.request('POST', '/token-usage', {
      body: {
        model: 'some-unpriced-model',
        prompt_tokens: 1000,
        completion_tokens: 0,
        session_id: 's-1',
      },
    });
    const refused = await check(t, call());
    expect(refused).toMatchObject({
      decision: 'refuse',
      budget: { spent_tokens: 1000, limit_tokens: 2500 },
    });
    const test = await t.request('POST', '/v1/model-calls/check', { key: t.testKey, body: call() });
    expect(test.json.reason).toBe('no_budget');
    const live = await check(t, call('s-9'));
    const foreign = await t.request('POST', '/token-usage', {
      key: t.testKey,
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1,
        completion_tokens: 1,
        reservation_id: live.reservation_id,
      },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.json).toMatchObject({ field: 'reservation_id' });
  });

  test('a backdated usage record counts in the windows of its reservation, or in the window open now', async () => {
    const t = await start();
    const { id } = await budget(t, { scope: 'agent_day', limit_usd: 0.05 });
    const today = new Date(now).toISOString().slice(0, 10);
    const yesterday = new Date(now - 86_400_000).toISOString();
    const reserved = await check(t, call());
    // $10 of tokens, dated yesterday (a client clock behind, or a forged occurred_at).
    const usage = await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 0,
        completion_tokens: 1_000_000,
        session_id: 's-1',
        reservation_id: reserved.reservation_id,
        occurred_at: yesterday,
      },
    });
    expect(usage.status, usage.text).toBe(200);
    const refused = await check(t, call());
    expect(refused).toMatchObject({
      decision: 'refuse',
      budget: { id, window: `${t.agent.id}/${today}`, spent_usd: 10, reserved_usd: 0 },
    });
    const repository = t.server.budgets.repository;
    expect(await repository.counter(id, `${t.agent.id}/${yesterday.slice(0, 10)}`)).toBeUndefined();

    // Usage without a reservation, dated yesterday, counts in today's window too.
    const other = await budget(t, { scope: 'agent_day', limit_tokens: 1500 });
    await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1000,
        completion_tokens: 0,
        session_id: 's-2',
        occurred_at: yesterday,
      },
    });
    const [standing] = (await t.server.budgets.standings(t.agent.id, 'live', null)).filter(
      (entry) => entry.budget.id === other.id,
    );
    expect(standing).toMatchObject({ windowKey: `${t.agent.id}/${today}` });
    expect(standing?.counter.spentTokens).toBe(1000);
  });

  test('a reservation settled after midnight counts in the day it was reserved', async () => {
    const t = await start();
    const before = now;
    now = Date.parse('2026-12-07T23:59:50Z');
    const { id } = await budget(t, { scope: 'agent_day', limit_usd: 1 });
    const reserved = await check(t, call());
    now = Date.parse('2026-12-08T00:00:10Z');
    const usage = await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1000,
        completion_tokens: 0,
        session_id: 's-1',
        reservation_id: reserved.reservation_id,
      },
    });
    expect(usage.status, usage.text).toBe(200);
    const repository = t.server.budgets.repository;
    expect(await repository.counter(id, `${t.agent.id}/2026-12-07`)).toMatchObject({
      spentUsdNanos: 2_500_000,
      reservedUsdNanos: 0,
    });
    expect(await repository.counter(id, `${t.agent.id}/2026-12-08`)).toBeUndefined();
    now = before;
  });

  test('an unpriced model is refused by a dollar budget (its cost cannot be reserved)', async () => {
    const t = await start();
    await budget(t, { scope: 'session', limit_usd: 10 });
    const refused = await check(t, call('s-1', { model: 'my-private-model' }));
    expect(refused).toMatchObject({ decision: 'refuse', reason: 'unpriced_model' });
    expect(refused.message).toContain('pricing');
  });

  test('a reservation never settled expires and gives its amount back', async () => {
    const t = await start();
    await budget(t, { scope: 'session', limit_usd: 0.02 });
    const held = await check(t, call('s-1', { ttl_seconds: 60 }));
    expect((await check(t, call())).decision).toBe('refuse');
    now += 59_000;
    expect(await t.server.budgets.sweep()).toBe(0);
    now += 1_000;
    expect(await t.server.budgets.sweep()).toBe(1);
    expect((await check(t, call())).decision).toBe('allow');
    const [expired] = await t.server.budgets.repository.reservations({ status: 'expired' });
    expect(expired?.id).toBe(held.reservation_id);
    // Usage arriving after expiry counts its spend and gives nothing back a second time.
    await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1000,
        completion_tokens: 0,
        session_id: 's-1',
        reservation_id: held.reservation_id,
      },
    });
    const [standing] = await t.server.budgets.standings(t.agent.id, 'live', 's-1');
    expect(standing?.counter).toMatchObject({
      reservedUsdNanos: 12_500_000,
      spentUsdNanos: 2_500_000,
    });
  });

  test('a reservation is committed before the answer and survives a restart', async () => {
    const first = await startAdminTestServer({ workers: false, clock }, { listen: false });
    const { id } = await budget(first, { scope: 'session', limit_usd: 0.02 });
    const held = await check(first, call());
    const { dataDir, databaseUrl } = first;
    await first.server.close();
    const again = await start({ dataDir, databaseUrl });
    const [standing] = await again.server.budgets.standings(first.agent.id, 'live', 's-1');
    expect(standing).toMatchObject({ budget: { id }, counter: { reservedUsdNanos: 12_500_000 } });
    expect((await again.server.budgets.repository.reservation(held.reservation_id))?.status).toBe(
      'reserved',
    );
  });

  test('a session over budget has its tool calls blocked or held, as the budget says', async () => {
    const t = await start();
    const { id } = await budget(t, { scope: 'session', limit_usd: 0.0125 });
    const before = await t.request('POST', '/policy/check', {
      body: { tool_name: 'search', metadata: { session_id: 's-1' } },
    });
    expect(before.json.decision).toBe('allow');
    await check(t, call());
    const blocked = await t.request('POST', '/policy/check', {
      body: { tool_name: 'search', metadata: { session_id: 's-1' } },
    });
    expect(blocked.json).toMatchObject({ decision: 'block', reason: 'budget_exceeded' });
    expect(blocked.json.message).toContain('budget');
    // Another session is not over.
    const other = await t.request('POST', '/policy/check', {
      body: { tool_name: 'search', metadata: { session_id: 's-2' } },
    });
    expect(other.json.decision).toBe('allow');
    await t.admin('PATCH', `/api/v1/budgets/${id}`, { body: { on_exceeded: 'requires_approval' } });
    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'search', metadata: { session_id: 's-1' } },
    });
    expect(held.json).toMatchObject({
      decision: 'requires_approval',
      reason: 'budget_exceeded',
      status: 'pending',
    });
  });

  test('budgets through the admin API: list, change, delete, and clear errors', async () => {
    const t = await start();
    const noLimit = await t.admin('POST', '/api/v1/budgets', {
      body: { environment: 'live', scope: 'session' },
    });
    expect(noLimit.status).toBe(400);
    expect(noLimit.json.error).toContain('limit_usd');
    const badScope = await t.admin('POST', '/api/v1/budgets', {
      body: { environment: 'live', scope: 'weekly', limit_usd: 1 },
    });
    expect(badScope.status).toBe(400);
    const huge = await t.admin('POST', '/api/v1/budgets', {
      body: { environment: 'live', scope: 'session', limit_usd: 1e7 },
    });
    expect(huge.status).toBe(400);
    await expect(
      t.server.budgets.create({
        agentId: null,
        environment: 'live',
        scope: 'session',
        limitUsd: 1e8,
      }),
    ).rejects.toThrow(/limit_usd/);
    const envWithAgent = await t.admin('POST', '/api/v1/budgets', {
      body: { agent: t.agent.id, environment: 'live', scope: 'environment_month', limit_usd: 1 },
    });
    expect(envWithAgent.status).toBe(400);
    const env = await t.admin('POST', '/api/v1/budgets', {
      body: { environment: 'live', scope: 'environment_month', limit_usd: 100 },
    });
    expect(env.status).toBe(201);
    const own = await budget(t, { scope: 'agent_day', limit_tokens: 10_000 });
    const viewer = await t.admin('POST', '/api/v1/budgets', {
      as: 'viewer',
      body: { environment: 'live', scope: 'session', limit_usd: 1 },
    });
    expect(viewer.status).toBe(403);
    const list = await t.admin('GET', `/api/v1/budgets?agent=${t.agent.id}`, { as: 'viewer' });
    expect(list.json.items.map((b: { id: string }) => b.id).sort()).toEqual(
      [env.json.id, own.id].sort(),
    );
    const patched = await t.admin('PATCH', `/api/v1/budgets/${own.id}`, {
      body: { limit_usd: 2.5, limit_tokens: null },
    });
    expect(patched.json).toMatchObject({ limit_usd: 2.5, limit_tokens: null });
    expect((await t.admin('DELETE', `/api/v1/budgets/${own.id}`)).status).toBe(200);
    expect((await t.admin('DELETE', `/api/v1/budgets/${own.id}`)).status).toBe(404);
    // An environment budget counts every agent's calls of its month.
    const reserved = await check(t, call());
    expect(reserved.budgets).toEqual([
      expect.objectContaining({
        id: env.json.id,
        scope: 'environment_month',
        window: '2026-12',
        reserved_usd: 0.0125,
      }),
    ]);
  });

  test('a bad model-call check is a clear 400 naming the field', async () => {
    const t = await start();
    for (const [body, field] of [
      [{ estimated_input_tokens: 1, max_output_tokens: 1 }, 'model'],
      [
        { model: 'gpt-4o', estimated_input_tokens: -1, max_output_tokens: 1 },
        'estimated_input_tokens',
      ],
      [{ model: 'gpt-4o', estimated_input_tokens: 1, max_output_tokens: 1.5 }, 'max_output_tokens'],
      [
        { model: 'gpt-4o', estimated_input_tokens: 1, max_output_tokens: 1, session_id: {} },
        'session_id',
      ],
      [
        { model: 'gpt-4o', estimated_input_tokens: 1, max_output_tokens: 1, ttl_seconds: 0 },
        'ttl_seconds',
      ],
    ] as const) {
      const response = await t.request('POST', '/v1/model-calls/check', { body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.json).toMatchObject({ field });
    }
    expect((await t.request('POST', '/v1/model-calls/check', { raw: '[1]' })).status).toBe(400);
    expect(
      (await t.request('POST', '/v1/model-calls/check', { key: null, body: call() })).status,
    ).toBe(401);
  });
});
