// Two replicas on one PostgreSQL reserving against one budget at the same instant: the budget
// holds exactly (the counters are locked, in one order, and re-read under the locks).
import { afterEach, expect, test, vi } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

test('concurrent model-call checks on two replicas never jointly exceed a budget', async () => {
  const a = await startAdminTestServer({ workers: false });
  servers.push(a);
  const b = await startAdminTestServer({ workers: false, databaseUrl: a.databaseUrl });
  servers.push(b);
  expect(a.databaseUrl).toMatch(/^postgres/);
  // $0.10 holds exactly 8 calls of $0.0125; two budgets (session and day) are both taken.
  for (const body of [
    { scope: 'session', limit_usd: 0.1 },
    { scope: 'agent_day', limit_usd: 1 },
  ]) {
    const created = await a.admin('POST', '/api/v1/budgets', {
      body: { agent: a.agent.id, environment: 'live', ...body },
    });
    expect(created.status, created.text).toBe(201);
  }
  for (let round = 0; round < 3; round++) {
    const session = `race-${round}`;
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        (index % 2 === 0 ? a : b).request('POST', '/v1/model-calls/check', {
          body: {
            model: 'gpt-4o',
            estimated_input_tokens: 1000,
            max_output_tokens: 1000,
            session_id: session,
          },
        }),
      ),
    );
    const decisions = answers.map((answer) => answer.json.decision);
    expect(decisions.filter((decision) => decision === 'allow')).toHaveLength(8);
    expect(decisions.filter((decision) => decision === 'refuse')).toHaveLength(22);
    const [standing] = await b.server.budgets.standings(a.agent.id, 'live', session);
    expect(standing?.counter.reservedUsdNanos).toBe(100_000_000);
  }
  const day = (await a.server.budgets.standings(a.agent.id, 'live', null))[0];
  expect(day?.counter.reservedUsdNanos).toBe(300_000_000);
});

test('the reservations of one turn: one statement far from the limit, in order near it', async () => {
  const t = await startAdminTestServer({ workers: false });
  servers.push(t);
  // $0.25 holds 20 calls of $0.0125.
  for (const body of [
    { scope: 'session', limit_usd: 0.25 },
    { scope: 'agent_day', limit_usd: 100 },
  ]) {
    const created = await t.admin('POST', '/api/v1/budgets', {
      body: { agent: t.agent.id, environment: 'live', ...body },
    });
    expect(created.status, created.text).toBe(201);
  }
  const check = {
    model: 'gpt-4o',
    estimatedInputTokens: 1000,
    maxOutputTokens: 1000,
    sessionId: 'turns',
  };
  const turn = (count: number) =>
    Promise.all(
      Array.from({ length: count }, () =>
        t.server.budgets.checkModelCall(t.agent.id, 'live', check),
      ),
    );
  expect((await turn(1))[0]?.decision).toBe('allow');
  const database = t.server.store.database;
  const all = vi.spyOn(database, 'all');
  const transaction = vi.spyOn(database, 'transaction');
  // Far from the limit: 12 reservations, one statement, no transaction.
  const far = await turn(12);
  expect(far.map((result) => result.decision)).toEqual(Array(12).fill('allow'));
  expect(all.mock.calls.filter(([sql]) => sql.includes('FOR UPDATE OF c'))).toHaveLength(1);
  expect(transaction).not.toHaveBeenCalled();
  // Each answer shows the counter just after its own reservation.
  expect(
    far.map((result) => (result.decision === 'allow' ? result.standings[0]?.counter : undefined)),
  ).toEqual(
    far.map((_, index) => expect.objectContaining({ reservedUsdNanos: (index + 2) * 12_500_000 })),
  );
  // 13 taken, 7 left: of 10 asked in one turn, the first 7 are reserved, the rest refused.
  const near = await turn(10);
  expect(near.map((result) => result.decision)).toEqual([
    ...Array(7).fill('allow'),
    ...Array(3).fill('refuse'),
  ]);
  expect(transaction).toHaveBeenCalledTimes(1);
  const [session] = await t.server.budgets.standings(t.agent.id, 'live', 'turns');
  expect(session?.counter.reservedUsdNanos).toBe(250_000_000);
  all.mockRestore();
  transaction.mockRestore();
});
