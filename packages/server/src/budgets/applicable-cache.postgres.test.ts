// Two replicas on one PostgreSQL: the tool check's cached budget definitions are dropped on
// every replica when a budget is created on one of them (NOTIFY), long before the 30 s
// re-read that is the safety net for a lost notification.
import { afterEach, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

test('a budget created on one replica is enforced by the checks of the other', async () => {
  const a = await startAdminTestServer({ workers: false });
  servers.push(a);
  const b = await startAdminTestServer({ workers: false, databaseUrl: a.databaseUrl });
  servers.push(b);
  expect(a.databaseUrl).toMatch(/^postgres/);
  const toolCheck = (t: AdminTestServer) =>
    t.request('POST', '/policy/check', {
      body: { tool_name: 'search', metadata: { session_id: 's-1' } },
    });
  // Both replicas have read (and cached) the agent's empty list of budgets.
  expect((await toolCheck(a)).json.decision).toBe('allow');
  expect((await toolCheck(b)).json.decision).toBe('allow');
  const created = await a.admin('POST', '/api/v1/budgets', {
    body: { agent: a.agent.id, environment: 'live', scope: 'session', limit_usd: 0.0125 },
  });
  expect(created.status, created.text).toBe(201);
  const reserved = await a.request('POST', '/v1/model-calls/check', {
    body: {
      model: 'gpt-4o',
      estimated_input_tokens: 1000,
      max_output_tokens: 1000,
      session_id: 's-1',
    },
  });
  expect(reserved.json.decision).toBe('allow');
  // Same replica: at once.
  expect((await toolCheck(a)).json).toMatchObject({ decision: 'block', reason: 'budget_exceeded' });
  // The other replica: as soon as the notification arrives (it travels after the commit), far
  // sooner than the 30 s re-read.
  const deadline = Date.now() + 5_000;
  let decision = (await toolCheck(b)).json.decision;
  while (decision !== 'block' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    decision = (await toolCheck(b)).json.decision;
  }
  expect(decision).toBe('block');
});
