// A session's reserved amount as `session.cost_usd` adds it: on the embedded store kept in the
// server's process (reserved-cache.ts), which must equal the query over the reservations after
// every kind of change — reserve, settle by usage, expire, a tool cost charged, approved or given
// back — and after a restart. (On PostgreSQL both sides are the query.)
import { afterEach, describe, expect, test, vi } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { type ReservedSum, SessionReservedSums } from './reserved-cache';
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
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'stripe.issue_refund',
      cost: 'args.amount',
      rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
      default: 'allow',
    },
  ]);
  return t;
}

async function post(t: AdminTestServer, path: string, body: unknown) {
  const response = await t.request('POST', path, { body });
  expect(response.status, response.text).toBe(200);
  return response.json as Record<string, any>;
}

const modelCall = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o',
  estimated_input_tokens: 1000,
  max_output_tokens: 1000,
  session_id: 's-1',
  ...extra,
});

const refund = (amount: number) => ({
  tool_name: 'stripe.issue_refund',
  kwargs: { amount },
  metadata: { session_id: 's-1' },
});

/** The kept amount (read first, so that a change not seen would show) equals the query. */
async function expectKeptEqualsQuery(t: AdminTestServer, agentId: string, expected: number) {
  const filter = {
    agentId,
    environment: 'live' as const,
    sessionId: 's-1',
    withToolCharges: true,
  };
  const kept = await t.server.budgets.reservedAmount(filter);
  const again = await t.server.budgets.reservedAmount(filter);
  const queried = await reservedAmount(t.server.store, filter);
  expect(kept).toEqual(queried);
  expect(again).toEqual(queried);
  expect(queried.usd).toBeCloseTo(expected, 9);
}

describe("a session's reserved amount kept in process", () => {
  test('equals the query after reserve, settle, expire, tool charges, approval, denial and a restart', async () => {
    const first = await startAdminTestServer({ workers: false, clock }, { listen: false });
    await first.server.policies.saveSet(first.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'stripe.issue_refund',
        cost: 'args.amount',
        rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
        default: 'allow',
      },
    ]);
    const t = first;
    const agentId = t.agent.id;
    const budget = await t.admin('POST', '/api/v1/budgets', {
      body: { agent: agentId, environment: 'live', scope: 'session', limit_usd: 1000 },
    });
    expect(budget.status, budget.text).toBe(201);
    await expectKeptEqualsQuery(t, agentId, 0);
    // Reserve: a model call's estimate ($0.0125) is held.
    const settled = await post(t, '/v1/model-calls/check', modelCall());
    await expectKeptEqualsQuery(t, agentId, 0.0125);
    // Settle: the usage record gives it back (its cost is recorded spend, not reserved).
    await post(t, '/token-usage', {
      model: 'gpt-4o',
      prompt_tokens: 500,
      completion_tokens: 100,
      session_id: 's-1',
      reservation_id: settled.reservation_id,
    });
    await expectKeptEqualsQuery(t, agentId, 0);
    // Expire: one never settled is given back by the sweep.
    await post(t, '/v1/model-calls/check', modelCall({ ttl_seconds: 60 }));
    await expectKeptEqualsQuery(t, agentId, 0.0125);
    now += 60_000;
    expect(await t.server.budgets.sweep()).toBe(1);
    await expectKeptEqualsQuery(t, agentId, 0);
    // A tool cost allowed: charged, and counted.
    expect((await post(t, '/policy/check', refund(40))).decision).toBe('allow');
    await expectKeptEqualsQuery(t, agentId, 40);
    // Held for approval: reserved; approved: charged; denied: given back.
    const approved = await post(t, '/policy/check', refund(300));
    const denied = await post(t, '/policy/check', refund(150));
    expect(denied.decision).toBe('requires_approval');
    await expectKeptEqualsQuery(t, agentId, 490);
    await t.server.approvals.decide(approved.action_id, { decision: 'approve', userId: 'u' });
    await t.server.approvals.decide(denied.action_id, { decision: 'deny', userId: 'u' });
    await vi.waitFor(async () =>
      expect((await t.server.budgets.repository.reservation(denied.action_id))?.status).toBe(
        'expired',
      ),
    );
    await expectKeptEqualsQuery(t, agentId, 340);
    // One more held (reserved) model call, then a restart: nothing kept, the query's numbers.
    await post(t, '/v1/model-calls/check', modelCall());
    await expectKeptEqualsQuery(t, agentId, 340.0125);
    const { dataDir, databaseUrl } = first;
    await first.server.close();
    const again = await start({ dataDir, databaseUrl });
    await expectKeptEqualsQuery(again, agentId, 340.0125);
    expect((await post(again, '/policy/check', refund(10))).decision).toBe('allow');
    await expectKeptEqualsQuery(again, agentId, 350.0125);
  });

  test('session.cost_usd sees a reservation made after the kept amount was read', async () => {
    const t = await start();
    await t.server.policies.saveSet(t.agent.id, 'live', [
      {
        name: 'Spend cap',
        tool: 'search',
        rules: [{ if: 'session.cost_usd > 0.01', then: 'block' }],
        default: 'allow',
      },
    ]);
    const search = { tool_name: 'search', metadata: { session_id: 's-1' } };
    expect((await post(t, '/policy/check', search)).decision).toBe('allow');
    expect((await post(t, '/policy/check', search)).decision).toBe('allow');
    // $0.0125 reserved for a model call in flight: over the rule's limit.
    const budget = await t.admin('POST', '/api/v1/budgets', {
      body: { agent: t.agent.id, environment: 'live', scope: 'session', limit_usd: 10 },
    });
    expect(budget.status, budget.text).toBe(201);
    await post(t, '/v1/model-calls/check', modelCall());
    expect((await post(t, '/policy/check', search)).decision).toBe('block');
  });
});

describe('SessionReservedSums', () => {
  const owner = { agentId: 'a', environment: 'live', sessionId: 's' };
  const sum = (usdNanos: number): ReservedSum => ({ usdNanos, tokens: 0 });

  test('a read that overlapped a change is answered but not kept', async () => {
    const sums = new SessionReservedSums();
    let answer!: (value: ReservedSum) => void;
    const reading = sums.get(owner, () => new Promise((resolve) => (answer = resolve)));
    // A change begins and ends while the read's query is out: the read may have missed it.
    sums.changing([owner])();
    answer(sum(1));
    expect(await reading).toEqual(sum(1));
    const read = vi.fn(async () => sum(2));
    expect(await sums.get(owner, read)).toEqual(sum(2));
    expect(await sums.get(owner, read)).toEqual(sum(2));
    expect(read).toHaveBeenCalledTimes(1);
  });

  test('nothing is kept while a change is under way, and its end drops what was kept', async () => {
    const sums = new SessionReservedSums();
    expect(await sums.get(owner, async () => sum(1))).toEqual(sum(1));
    const ended = sums.changing([owner, { ...owner, sessionId: null }]);
    const read = vi.fn(async () => sum(2));
    expect(await sums.get(owner, read)).toEqual(sum(2));
    expect(await sums.get(owner, read)).toEqual(sum(2));
    expect(read).toHaveBeenCalledTimes(2);
    ended();
    ended();
    expect(await sums.get(owner, async () => sum(3))).toEqual(sum(3));
    expect(await sums.get(owner, async () => sum(4))).toEqual(sum(3));
    // Another session's change leaves it alone.
    sums.changing([{ ...owner, sessionId: 'other' }])();
    expect(await sums.get(owner, async () => sum(5))).toEqual(sum(3));
  });
});
