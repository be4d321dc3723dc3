import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { entryHash, genesisHash } from './chain';

// On PostgreSQL a receipt's seq is taken when its INSERT runs, not when it commits: a receipt
// with a lower seq can become visible after the sealer chained higher ones. The sealer must
// chain it on its next pass (after them), never skip it and never chain anything twice.

let t: AdminTestServer;

async function check(amount: number): Promise<void> {
  const response = await t.request('POST', '/policy/check', {
    raw: `{"tool_name": "payments.refund", "kwargs": {"amount": ${amount}}}`,
  });
  expect(response.status).toBe(200);
}

beforeEach(async () => {
  t = await startAdminTestServer(
    { receipts: { secret: 'audit-test-secret-0123456789' }, workers: false },
    { listen: false },
  );
});

afterEach(async () => {
  await t?.close();
});

describe('the audit sealer on PostgreSQL', () => {
  test('a receipt committed while a seal runs, with a lower seq, is chained next time', async () => {
    await check(1);
    expect(await t.server.audit.seal()).toBe(1);
    const database = t.server.store.database;
    // A transaction that writes a receipt (a copy of the first one's text under another id) and
    // stays open: its seq is taken now, its row is not visible yet.
    let inserted!: () => void;
    const insertedNow = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    let commit!: () => void;
    const held = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const late = database.transaction(async (transaction) => {
      await transaction.run(
        `INSERT INTO receipts (id, action_id, agent_id, environment, decision, receipt, created_at)
         SELECT 'late-receipt', action_id, agent_id, environment, decision, receipt, created_at
         FROM receipts ORDER BY seq LIMIT 1`,
      );
      inserted();
      await held;
    });
    await insertedNow;
    await check(2);
    // The seal meanwhile chains the receipt after it, which it sees.
    expect(await t.server.audit.seal()).toBe(1);
    commit();
    await late;
    expect(await t.server.audit.seal()).toBe(1);
    expect(await t.server.audit.seal()).toBe(0);

    const rows = await database.all<{
      id: string;
      seq: unknown;
      receipt: string;
      chain_position: unknown;
      chain_hash: unknown;
    }>('SELECT id, seq, receipt, chain_position, chain_hash FROM receipts ORDER BY chain_position');
    expect(rows.map((row) => Number(row.chain_position))).toEqual([1, 2, 3]);
    // The late receipt's seq is below the one chained before it.
    const [, second, third] = rows;
    expect(third?.id).toBe('late-receipt');
    expect(Number(third?.seq)).toBeLessThan(Number(second?.seq));
    // Each entry follows from the one before, over its own receipt's text.
    let previous = genesisHash(t.agent.id, 'live');
    for (const row of rows) {
      previous = entryHash(previous, Number(row.chain_position), row.receipt);
      expect(row.chain_hash).toBe(previous);
    }
    const [head] = await t.server.store.audit.heads();
    expect([head?.position, head?.hash]).toEqual([3, previous]);
  });
});
