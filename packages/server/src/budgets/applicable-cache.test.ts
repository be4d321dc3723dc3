// The tool check's budget definitions are cached (issue #12 hardening, the hot path): an agent
// without budgets costs no budget query per check, and a budget created, changed or deleted
// applies to the very next check on the same server (SQLite, and PostgreSQL in the postgres
// project; across two replicas in applicable-cache.postgres.test.ts).
import { afterEach, expect, test, vi } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (servers.length > 0) await servers.pop()?.close();
});

const toolCheck = (t: AdminTestServer, session = 's-1') =>
  t.request('POST', '/policy/check', {
    body: { tool_name: 'search', metadata: { session_id: session } },
  });

// gpt-4o: $2.50 / M input, $10 / M output: 1 000 + 1 000 tokens is $0.0125.
const modelCall = (t: AdminTestServer, session = 's-1') =>
  t.request('POST', '/v1/model-calls/check', {
    body: {
      model: 'gpt-4o',
      estimated_input_tokens: 1000,
      max_output_tokens: 1000,
      session_id: session,
    },
  });

test('an agent without budgets makes no budget query per tool check', async () => {
  const t = await startAdminTestServer({ workers: false }, { listen: false });
  servers.push(t);
  const repository = t.server.budgets.repository;
  const applicable = vi.spyOn(repository, 'applicable');
  const counter = vi.spyOn(repository, 'counter');
  // On PostgreSQL a budget change of another server on the same database (another test file)
  // reaches this one too (NOTIFY) and drops its cache: each such drop may cost one more read.
  const invalidations = vi.spyOn(t.server.budgets, 'invalidate');
  for (let index = 0; index < 20; index++) {
    expect((await toolCheck(t)).json.decision).toBe('allow');
  }
  // The first check reads the (empty) list; the 19 after it read nothing (but after a drop).
  expect(applicable.mock.calls.length).toBeLessThanOrEqual(1 + invalidations.mock.calls.length);
  expect(applicable.mock.calls.length).toBeGreaterThanOrEqual(1);
  expect(counter).not.toHaveBeenCalled();
});

test('a budget created, changed or deleted after checks began applies to the next check', async () => {
  const t = await startAdminTestServer({ workers: false }, { listen: false });
  servers.push(t);
  expect((await toolCheck(t)).json.decision).toBe('allow');
  expect((await toolCheck(t)).json.decision).toBe('allow');
  const created = await t.admin('POST', '/api/v1/budgets', {
    body: { agent: t.agent.id, environment: 'live', scope: 'session', limit_usd: 0.0125 },
  });
  expect(created.status, created.text).toBe(201);
  expect((await modelCall(t)).json.decision).toBe('allow');
  expect((await toolCheck(t)).json).toMatchObject({ decision: 'block', reason: 'budget_exceeded' });
  const id = (created.json as { id: string }).id;
  const changed = await t.admin('PATCH', `/api/v1/budgets/${id}`, { body: { limit_usd: 1 } });
  expect(changed.status, changed.text).toBe(200);
  expect((await toolCheck(t)).json.decision).toBe('allow');
  await t.admin('PATCH', `/api/v1/budgets/${id}`, { body: { limit_usd: 0.0125 } });
  expect((await toolCheck(t)).json.decision).toBe('block');
  const deleted = await t.admin('DELETE', `/api/v1/budgets/${id}`);
  expect(deleted.status, deleted.text).toBeLessThan(300);
  expect((await toolCheck(t)).json.decision).toBe('allow');
});
