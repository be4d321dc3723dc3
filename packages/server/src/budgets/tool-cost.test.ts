// A policy's `cost` (issue #17): a money-moving tool call's cost is counted at check time into
// session.cost_usd, agent.cost_usd(window) and the budgets — charged when allowed, reserved while
// held and settled on approval, given back on denial. Real server, both stores.
import type { PolicyDefinition } from '@arden/policy';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

let now = Date.parse('2026-12-06T10:00:00Z');

async function start(policies: PolicyDefinition[]): Promise<AdminTestServer> {
  now = Date.parse('2026-12-06T10:00:00Z');
  const t = await startAdminTestServer({ workers: false, clock: () => now }, { listen: false });
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', policies);
  return t;
}

const refunds = (extra: Partial<PolicyDefinition> = {}): PolicyDefinition => ({
  name: 'Refunds',
  tool: 'stripe.issue_refund',
  cost: 'args.amount',
  default: 'allow',
  ...extra,
});

type Body = Record<string, any>;

async function refund(t: AdminTestServer, amount: unknown, session = 's-1'): Promise<Body> {
  const response = await t.request('POST', '/policy/check', {
    body: {
      tool_name: 'stripe.issue_refund',
      kwargs: { amount },
      metadata: { session_id: session },
    },
  });
  expect(response.status, response.text).toBe(200);
  return response.json as Body;
}

async function budget(t: AdminTestServer, body: Record<string, unknown>) {
  const response = await t.admin('POST', '/api/v1/budgets', {
    body: { agent: t.agent.id, environment: 'live', ...body },
  });
  expect(response.status, response.text).toBe(201);
}

async function counter(t: AdminTestServer, session = 's-1') {
  const [standing] = await t.server.budgets.standings(t.agent.id, 'live', session);
  return { spent: standing?.counter.spentUsdNanos, reserved: standing?.counter.reservedUsdNanos };
}

const usd = (dollars: number) => dollars * 1e9;

describe('a policy cost counted at check time', () => {
  test('allowed calls are spent: session.cost_usd and agent.cost_usd(window) see them', async () => {
    const t = await start([
      refunds({
        rules: [
          { if: 'session.cost_usd + double(args.amount) > 100.0', then: 'block' },
          { if: 'agent.cost_usd(duration("1h")) + double(args.amount) > 150.0', then: 'block' },
        ],
      }),
    ]);
    expect(await refund(t, 40)).toMatchObject({ decision: 'allow' });
    expect((await refund(t, 50)).explanation).toMatch(/Its cost, \$50, is counted as spent/);
    // 90 spent in the session: 20 more would be 110.
    expect(await refund(t, 20)).toMatchObject({ decision: 'block', reason: 'rule_matched' });
    expect(await refund(t, 10)).toMatchObject({ decision: 'allow' });
    // The blocked call cost nothing: the session is at exactly 100.
    expect(await refund(t, 0.01)).toMatchObject({ decision: 'block' });
    // Another session: its own 0, but the agent's hour has 100.
    expect(await refund(t, 45, 's-2')).toMatchObject({ decision: 'allow' });
    expect(await refund(t, 10, 's-2')).toMatchObject({
      decision: 'block',
      policy: { rule_index: 1 },
    });
    // An hour later the agent's window is empty again; the session's total is not.
    now += 3_600_001;
    expect(await refund(t, 11, 's-2')).toMatchObject({ decision: 'allow' });
  });

  test('a budget refuses a cost that would exceed it, as on_exceeded says', async () => {
    const t = await start([refunds()]);
    await budget(t, { scope: 'session', limit_usd: 100, name: 'Refund cap' });
    expect(await refund(t, 60)).toMatchObject({ decision: 'allow' });
    const over = await refund(t, 50);
    expect(over).toMatchObject({ decision: 'block', reason: 'budget_exceeded' });
    expect(over.explanation).toMatch(
      /\$50, would exceed the session budget "Refund cap" \(\$100\): spent \$60/,
    );
    expect(await refund(t, 40)).toMatchObject({ decision: 'allow' });
    expect(await counter(t)).toEqual({ spent: usd(100), reserved: 0 });
    // Used up: the next call of the session, even one without cost, is blocked by the budget.
    expect(await refund(t, 0)).toMatchObject({ decision: 'block', reason: 'budget_exceeded' });
    expect(await refund(t, 30, 's-2')).toMatchObject({ decision: 'allow' });
  });

  test('a held call reserves its cost; approval spends it, denial gives it back', async () => {
    const t = await start([
      refunds({ rules: [{ if: 'args.amount > 100', then: 'requires_approval' }] }),
    ]);
    await budget(t, { scope: 'session', limit_usd: 500 });
    const approved = await refund(t, 300);
    expect(approved).toMatchObject({ decision: 'requires_approval', status: 'pending' });
    expect(approved.explanation).toMatch(/reserved until the call is decided/);
    const denied = await refund(t, 150);
    expect(await counter(t)).toEqual({ spent: 0, reserved: usd(450) });
    // 450 held: 60 more does not fit.
    expect(await refund(t, 60)).toMatchObject({ decision: 'block', reason: 'budget_exceeded' });
    await t.server.approvals.decide(approved.action_id, { decision: 'approve', userId: 'u' });
    await t.server.approvals.decide(denied.action_id, { decision: 'deny', userId: 'u' });
    // The settlement follows the decision's live event (a loaded machine takes seconds).
    await vi.waitFor(
      async () => expect(await counter(t)).toEqual({ spent: usd(300), reserved: 0 }),
      { timeout: 15_000, interval: 50 },
    );
    const reservations = await t.server.budgets.repository.reservations({ agentId: t.agent.id });
    expect(reservations.find((r) => r.id === approved.action_id)).toMatchObject({
      kind: 'tool',
      subject: 'stripe.issue_refund',
      status: 'settled',
      actualUsdNanos: usd(300),
    });
    expect(reservations.find((r) => r.id === denied.action_id)?.status).toBe('expired');
    expect(await refund(t, 60)).toMatchObject({ decision: 'allow' });
  });

  test('the sweep settles a held cost whose decision it did not hear of, and waits while held', async () => {
    const t = await start([
      refunds({ action: 'requires_approval', default: undefined, timeout: 60 }),
    ]);
    const held = await refund(t, 25);
    const reservation = await t.server.budgets.repository.reservation(held.action_id);
    // Held for 60 s; the reservation waits a minute more for the decision.
    expect(reservation?.expiresAt).toBe(now + 120_000);
    // Past the reservation's expiry while the call is still held (not swept yet): it stays held.
    const later = now + 121_000;
    expect(await t.server.budgets.sweep(later)).toBe(0);
    expect((await t.server.budgets.repository.reservation(held.action_id))?.status).toBe(
      'reserved',
    );
    // Approved behind the budgets' back (no live event): the sweep spends it, not gives it back.
    await t.server.store.actions.decide(
      held.action_id,
      { status: 'approved', decidedBy: 'u', notes: null },
      now,
    );
    await t.server.budgets.sweep(later + 120_000);
    expect(await t.server.budgets.repository.reservation(held.action_id)).toMatchObject({
      status: 'settled',
      actualUsdNanos: usd(25),
    });
  });

  test('a budget that holds calls lets an approver take it past its limit', async () => {
    const t = await start([refunds()]);
    await budget(t, { scope: 'session', limit_usd: 100, on_exceeded: 'requires_approval' });
    expect(await refund(t, 80)).toMatchObject({ decision: 'allow' });
    const held = await refund(t, 50);
    expect(held).toMatchObject({ decision: 'requires_approval', reason: 'budget_exceeded' });
    expect(await counter(t)).toEqual({ spent: usd(80), reserved: usd(50) });
    await t.server.approvals.decide(held.action_id, { decision: 'approve', userId: 'u' });
    await vi.waitFor(async () =>
      expect(await counter(t)).toEqual({ spent: usd(130), reserved: 0 }),
    );
  });

  test('an allowed call whose commit fails is answered with an error and spends nothing', async () => {
    const t = await start([refunds()]);
    await budget(t, { scope: 'session', limit_usd: 100 });
    // The commit that holds the action also spends its cost: make that transaction fail after
    // its statements ran (a constraint, a lost connection: the database refuses the COMMIT).
    const database = t.server.store.database;
    const batch = database.batch.bind(database);
    const spy = vi.spyOn(database, 'batch').mockImplementation(async (statements) => {
      const spends = statements.some((statement) =>
        statement.sql.includes('spent_usd_nanos = spent_usd_nanos +'),
      );
      return batch(
        spends ? [...statements, { sql: 'INSERT INTO no_such_table (x) VALUES (1)' }] : statements,
      );
    });
    const failed = await t.request('POST', '/policy/check', {
      body: {
        tool_name: 'stripe.issue_refund',
        kwargs: { amount: 70 },
        metadata: { session_id: 's-1' },
      },
    });
    spy.mockRestore();
    // Fail closed: no decision, no action id to run the call with.
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(failed.json.error).toMatch(/Internal server error/);
    expect(failed.json.decision).toBeUndefined();
    expect(failed.json.action_id).toBeUndefined();
    // Nothing spent, nothing left held: the call was never answered.
    expect(await counter(t)).toEqual({ spent: 0, reserved: 0 });
    const [reservation] = await t.server.budgets.repository.reservations({ agentId: t.agent.id });
    expect(reservation).toMatchObject({ kind: 'tool', status: 'expired' });
    expect(await t.server.store.actions.get(reservation?.id as string)).toBeUndefined();
    // The whole budget is still there for the retry.
    expect(await refund(t, 100)).toMatchObject({ decision: 'allow' });
    expect(await counter(t)).toEqual({ spent: usd(100), reserved: 0 });
  });

  test('a cost that cannot be evaluated: on_error decides and nothing is counted', async () => {
    const t = await start([refunds({ on_error: 'block' })]);
    await budget(t, { scope: 'session', limit_usd: 100 });
    for (const amount of ['ten', -5, null]) {
      const answer = await refund(t, amount);
      expect(answer).toMatchObject({ decision: 'block', reason: 'condition_error' });
      expect(answer.explanation).toMatch(/its cost could not be evaluated/);
    }
    expect((await counter(t)).spent ?? 0).toBe(0);
  });
});

describe('a policy budget over its tools’ costs', () => {
  test('per session: counts only the policy’s tools, exactly, and on_exceed decides', async () => {
    const t = await start([
      refunds({ tool: 'stripe.*', budget: { per: 'session', usd: 100 } }),
      { name: 'Other payments', tool: 'paypal.pay', cost: 'args.amount', default: 'allow' },
    ]);
    const pay = async (amount: number) =>
      (
        await t.request('POST', '/policy/check', {
          body: { tool_name: 'paypal.pay', kwargs: { amount }, metadata: { session_id: 's-1' } },
        })
      ).json as Body;
    expect(await refund(t, 70)).toMatchObject({ decision: 'allow' });
    // Another policy's tool costs money too, but not against this policy's budget.
    expect(await pay(500)).toMatchObject({ decision: 'allow' });
    const over = await refund(t, 31);
    expect(over).toMatchObject({ decision: 'block', reason: 'budget_exceeded' });
    expect(over.explanation).toMatch(/its budget \(\$100 per session\) is exceeded: \$70 counted/);
    expect(await refund(t, 30)).toMatchObject({ decision: 'allow' });
    expect(await refund(t, 0.5)).toMatchObject({ decision: 'block', reason: 'budget_exceeded' });
    expect(await refund(t, 5, 's-2')).toMatchObject({ decision: 'allow' });
    // Concurrent checks of one session never jointly exceed it.
    const answers = await Promise.all(Array.from({ length: 12 }, () => refund(t, 10, 's-3')));
    expect(answers.filter((answer) => answer.decision === 'allow')).toHaveLength(10);
  });

  test('per agent in a window, held past the limit: the approver decides, the cost is held', async () => {
    const t = await start([
      refunds({
        timeout: 60,
        budget: { per: 'agent', window: 3600, usd: 50, on_exceed: 'requires_approval' },
      }),
    ]);
    expect(await refund(t, 30, 'a')).toMatchObject({ decision: 'allow' });
    const held = await refund(t, 30, 'b');
    expect(held).toMatchObject({ decision: 'requires_approval', reason: 'budget_exceeded' });
    // Held costs count: 60 now.
    expect((await refund(t, 1, 'c')).decision).toBe('requires_approval');
    now += 3_600_001;
    // The hour is over, but the held calls' costs (made at that instant) left the window too.
    expect(await refund(t, 45, 'd')).toMatchObject({ decision: 'allow' });
  });
});
