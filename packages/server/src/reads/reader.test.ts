import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { AdminReader, ReadTimeoutError } from './reader';

// The admin reader on SQLite (worker threads, read-only connections) and PostgreSQL (a pool of
// its own): queries leave the event loop free, and a query past its budget is stopped.

// Slow on both dialects: counts to 200 million in a recursive CTE.
const slowSql =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000000) SELECT count(*) AS n FROM c';

let t: AdminTestServer;

beforeAll(async () => {
  t = await startAdminTestServer();
});

afterAll(async () => {
  await t.close();
});

describe('admin reader', () => {
  it('reads what the agent path committed, off the event loop', async () => {
    const response = await t.request('POST', '/policy/check', {
      key: t.testKey,
      body: { tool_name: 'crm.lookup', args: [], kwargs: { id: 1 }, metadata: {} },
    });
    expect(response.status).toBe(200);
    const reader = new AdminReader(t.server);
    try {
      const reads = await reader.begin();
      const page = await reads.actions.list({ agentId: t.agent.id }, { limit: 10 });
      expect(page.items.map((action) => action.id)).toContain(response.json.action_id);
      await expect(reads.db.run('DELETE FROM actions')).rejects.toThrow(/read-only/);
    } finally {
      await reader.close();
    }
  });

  it('stops a query past its budget with a ReadTimeoutError, the loop free meanwhile, and reads again after', async () => {
    const reader = new AdminReader(t.server, { budgetMs: 300 });
    try {
      const reads = await reader.begin();
      let ticks = 0;
      let running = true;
      const spin = async () => {
        while (running) {
          ticks++;
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      const spinning = spin();
      const error = await reads.db.all(slowSql).catch((caught: unknown) => caught);
      running = false;
      await spinning;
      expect(error).toBeInstanceOf(ReadTimeoutError);
      expect((error as ReadTimeoutError).status).toBe(503);
      expect((error as Error).message).toMatch(/narrow/i);
      // The event loop kept turning while the query ran elsewhere.
      expect(ticks).toBeGreaterThan(10);
      const again = await reader.begin(30_000);
      expect(await again.db.get<{ one: number }>('SELECT 1 AS one')).toMatchObject({ one: 1 });
    } finally {
      await reader.close();
    }
  });

  it('answers an admin request past its budget with a JSON 503 saying to narrow it', async () => {
    const strict = await startAdminTestServer({ admin: { readBudgetMs: 0 } });
    try {
      const response = await strict.admin('GET', '/api/v1/actions?from=2020-01-01T00:00:00Z');
      expect(response.status).toBe(503);
      expect(response.json).toMatchObject({ code: 'read_timeout' });
      expect(response.json.error).toMatch(/shorter time window/);
      // The agent path is not affected by the admin budget.
      const check = await strict.request('POST', '/policy/check', {
        key: strict.testKey,
        body: { tool_name: 'crm.lookup', args: [], kwargs: {}, metadata: {} },
      });
      expect(check.status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});
