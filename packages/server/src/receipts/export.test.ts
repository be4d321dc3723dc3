import { type ReceiptPublicKey, verifyReceipt } from '@arden/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

// The receipt export (GET /api/v1/receipts): filters by agent, environment and time, pages with
// a cursor in the order receipts were written; on SQLite and PostgreSQL.

let t: AdminTestServer;
let otherKey: string;
let otherId: string;
const start = Date.UTC(2026, 10, 2, 9);
let now = start;
const hour = 3_600_000;

interface Item {
  id: string;
  action_id: string;
  agent_id: string;
  environment: string;
  decision: string;
  receipt: string;
  created_at: string;
  chain_position: number | null;
}

async function check(key: string, amount: number): Promise<string> {
  const response = await t.request('POST', '/policy/check', {
    key,
    raw: `{"tool_name": "payments.refund", "kwargs": {"amount": ${amount}}}`,
  });
  expect(response.status).toBe(200);
  return (response.json as { action_id: string }).action_id;
}

async function list(
  query = '',
  as: 'viewer' | 'admin' | null = 'viewer',
): Promise<{ status: number; text: string; json: { items: Item[]; next_cursor: string | null } }> {
  const response = await t.admin('GET', `/api/v1/receipts${query}`, { as });
  return {
    status: response.status,
    text: response.text,
    json: response.json as { items: Item[]; next_cursor: string | null },
  };
}

beforeAll(async () => {
  t = await startAdminTestServer(
    { clock: () => now, receipts: { secret: 'export-test-secret-0123456789' }, workers: false },
    { listen: false },
  );
  const other = await t.server.agents.createAgent({ name: 'other-agent', defaultAction: 'allow' });
  otherId = other.id;
  otherKey = (await t.server.agents.createKey(other.id, 'live')).key;
  // 09:00 two live checks of test-agent, one test check; 10:00 one of other-agent; 11:00 one more.
  await check(t.liveKey, 1);
  await check(t.liveKey, 2);
  await check(t.testKey, 3);
  now = start + hour;
  await check(otherKey, 4);
  now = start + 2 * hour;
  await check(t.liveKey, 5);
  await t.server.audit.seal();
});

afterAll(async () => {
  await t?.close();
});

describe('GET /api/v1/receipts', () => {
  test('lists every receipt in the order written; each verifies with the published keys', async () => {
    const response = await list();
    expect(response.status).toBe(200);
    const { items, next_cursor } = response.json;
    expect(next_cursor).toBeNull();
    expect(
      items.map((item) => [item.agent_id === otherId ? 'other' : 'test', item.environment]),
    ).toEqual([
      ['test', 'live'],
      ['test', 'live'],
      ['test', 'test'],
      ['other', 'live'],
      ['test', 'live'],
    ]);
    expect(items.map((item) => item.created_at)).toEqual([
      new Date(start).toISOString(),
      new Date(start).toISOString(),
      new Date(start).toISOString(),
      new Date(start + hour).toISOString(),
      new Date(start + 2 * hour).toISOString(),
    ]);
    // Sealed: each chain numbered from 1.
    expect(items.map((item) => item.chain_position)).toEqual([1, 2, 1, 1, 3]);
    const keys = (await t.request('GET', '/.well-known/arden-keys.json', { key: null })).json as {
      keys: ReceiptPublicKey[];
    };
    for (const item of items) {
      const claims = await verifyReceipt(item.receipt, undefined, keys.keys);
      expect(claims).toMatchObject({
        jti: item.id,
        action_id: item.action_id,
        agent_id: item.agent_id,
        decision: item.decision,
      });
    }
  });

  test('filters by agent (id or name), environment and time', async () => {
    const byName = (await list('?agent=test-agent')).json.items;
    expect(byName).toHaveLength(4);
    expect(byName.every((item) => item.agent_id === t.agent.id)).toBe(true);
    const byId = (await list(`?agent=${otherId}`)).json.items;
    expect(byId.map((item) => item.agent_id)).toEqual([otherId]);
    const testEnvironment = (await list('?environment=test')).json.items;
    expect(testEnvironment.map((item) => [item.agent_id, item.environment])).toEqual([
      [t.agent.id, 'test'],
    ]);
    const live = (await list('?agent=test-agent&environment=live')).json.items;
    expect(live).toHaveLength(3);
    // from is inclusive, to exclusive; ISO 8601 or milliseconds.
    const from = (await list(`?from=${new Date(start + hour).toISOString()}`)).json.items;
    expect(from.map((item) => item.created_at)).toEqual([
      new Date(start + hour).toISOString(),
      new Date(start + 2 * hour).toISOString(),
    ]);
    const to = (await list(`?to=${start + hour}`)).json.items;
    expect(to).toHaveLength(3);
    const window = (await list(`?from=${start + 1}&to=${start + 2 * hour}`)).json.items;
    expect(window.map((item) => item.agent_id)).toEqual([otherId]);
    expect((await list(`?agent=other-agent&to=${start}`)).json.items).toEqual([]);
  });

  test('pages with a cursor: every receipt once, in order, with the filters kept', async () => {
    const all = (await list()).json.items.map((item) => item.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.status).toBe(200);
      expect(response.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...response.json.items.map((item) => item.id));
      cursor = response.json.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
    // A cursor with a filter: the rest of that filter only.
    const first = await list('?agent=test-agent&limit=1');
    expect(first.json.items).toHaveLength(1);
    const rest = await list(`?agent=test-agent&cursor=${first.json.next_cursor}`);
    expect(rest.json.next_cursor).toBeNull();
    expect([...first.json.items, ...rest.json.items].map((item) => item.id)).toEqual(
      (await list('?agent=test-agent')).json.items.map((item) => item.id),
    );
    // The last page exactly full still says there is no more.
    const exact = await list('?agent=test-agent&limit=4');
    expect(exact.json.items).toHaveLength(4);
    expect(exact.json.next_cursor).toBeNull();
  });

  test('refuses a bad time, an unknown agent and a caller without a token', async () => {
    const badTime = await list('?from=yesterday');
    expect(badTime.status).toBe(400);
    expect(badTime.text).toContain('from must be an ISO 8601 time');
    expect((await list('?agent=nobody')).status).toBe(404);
    expect((await list('?limit=0')).status).toBe(400);
    expect((await list('', null)).status).toBe(401);
  });
});
