// Two replicas on one PostgreSQL reserving against one budget at the same instant: the budget
// holds exactly (a conditional UPDATE per counter in the reservation's transaction).
import { afterEach, expect, test } from 'vitest';
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
