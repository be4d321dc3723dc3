import { verifyReceipt } from '@arden/core';
import pg from 'pg';
import { afterEach, describe, expect, test } from 'vitest';
import { uuidv7 } from '../ids';
import { createLogger } from '../logger';
import type { NewAction, Store } from '../store';
import type { RunResult } from '../store/database';
import { action, agent, closeStores, freshStore, onPostgres } from '../test-fixtures/store';
import { receiptInsertStatement } from './repository';
import { checkReceiptInput, type IssuedReceipt, ReceiptService } from './service';

// The receipts of a group commit are written beside their checks' actions: on PostgreSQL as one
// multi-row INSERT of each kind, each receipt the one its check was answered with.

const secret = 'receipts-group-commit-secret-0123';
const originalQuery = pg.Client.prototype.query;

afterEach(async () => {
  pg.Client.prototype.query = originalQuery;
  await closeStores();
});

/** Counts the INSERTs sent to PostgreSQL, by table (nothing on the embedded store). */
function countInserts(): Map<string, number> {
  const inserts = new Map<string, number>();
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '');
    const table = /^\s*INSERT INTO (\w+)/i.exec(text)?.[1];
    if (table) inserts.set(table, (inserts.get(table) ?? 0) + 1);
    return (originalQuery as (...rest: unknown[]) => unknown).apply(this, args);
  } as typeof pg.Client.prototype.query;
  return inserts;
}

/** `count` checks of `agentId`: allowed, blocked and held ones, each with other arguments. */
function checks(agentId: string, count: number): NewAction[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, index) => {
    const decision = (['allow', 'block', 'requires_approval'] as const)[index % 3] ?? 'allow';
    return action(agentId, {
      id: uuidv7(now + index),
      toolName: `tool.${index}`,
      kwargs: { index, text: 'a"b' },
      decision,
      status: decision === 'requires_approval' ? 'pending' : 'completed',
      expiresAt: decision === 'requires_approval' ? now + 60_000 : null,
      onTimeout: decision === 'requires_approval' ? 'deny' : null,
      createdAt: now + index,
    });
  });
}

/** Submits each check as the check route does (its action, then its receipt), all in one turn. */
function submitChecks(
  store: Store,
  receipts: ReceiptService,
  rows: readonly NewAction[],
): Promise<PromiseSettledResult<{ results: RunResult[]; issued: IssuedReceipt }>[]> {
  return Promise.allSettled(
    rows.map(async (row) => {
      const issued = receipts.issue(checkReceiptInput(row));
      if (!issued) throw new Error('receipts are on in this test');
      const results = await store.committer.submitAll([
        store.actions.insertStatement(row),
        issued.statement,
      ]);
      return { results, issued };
    }),
  );
}

/** Every stored receipt of `row` verifies for its call, and is the one its check was given. */
async function expectReceipt(
  store: Store,
  receipts: ReceiptService,
  row: NewAction,
  given: string,
): Promise<void> {
  const stored = await store.receipts.forAction(row.id);
  expect(stored).toHaveLength(1);
  expect(stored[0]).toMatchObject({
    actionId: row.id,
    agentId: row.agentId,
    environment: row.environment,
    decision: row.decision === 'requires_approval' ? 'hold' : row.decision,
    createdAt: row.createdAt,
    receipt: given,
  });
  const claims = await verifyReceipt(
    given,
    { toolName: row.toolName, args: row.args, kwargs: row.kwargs, actionId: row.id },
    receipts.keysDocument(),
  );
  expect(claims.action_id).toBe(row.id);
}

describe('receipts written by the group commit', () => {
  test('a commit of concurrent checks writes each receipt beside its action: on PostgreSQL two INSERTs, not two a check', async () => {
    const store = await freshStore();
    const owner = await agent(store);
    const receipts = await ReceiptService.open(store, secret, createLogger('silent'));
    const rows = checks(owner.id, 30);
    const inserts = countInserts();
    const outcomes = await submitChecks(store, receipts, rows);
    pg.Client.prototype.query = originalQuery;
    if (onPostgres) {
      // One commit of the 30: the actions as one statement, the receipts as another.
      expect(Object.fromEntries(inserts)).toEqual({ actions: 1, receipts: 1 });
    }
    const seqs = new Map(
      (await store.database.all<{ id: string; seq: number }>('SELECT id, seq FROM actions')).map(
        (row) => [row.id, Number(row.seq)],
      ),
    );
    for (const [index, outcome] of outcomes.entries()) {
      const row = rows[index] as NewAction;
      if (outcome.status !== 'fulfilled') throw outcome.reason;
      // Each request's results are its own: its action's seq, then its receipt's INSERT.
      expect(outcome.value.results).toHaveLength(2);
      expect(outcome.value.results[0]).toMatchObject({
        changes: 1,
        lastInsertId: seqs.get(row.id),
      });
      expect(outcome.value.results[1]?.changes).toBe(1);
      await expectReceipt(store, receipts, row, outcome.value.issued.receipt);
    }
    const count = await store.database.get<{ n: unknown }>('SELECT COUNT(*) AS n FROM receipts');
    expect(Number(count?.n)).toBe(30);
  });

  test('a request whose receipt cannot be written fails alone, its action with it; the others commit', async () => {
    const store = await freshStore();
    const owner = await agent(store);
    const receipts = await ReceiptService.open(store, secret, createLogger('silent'));
    const rows = checks(owner.id, 9);
    const unsigned = rows[4] as NewAction;
    const inserts = countInserts();
    const settled = submitChecks(store, receipts, [...rows.slice(0, 4), ...rows.slice(5)]);
    // A receipt INSERT that bypassed the sealer (no signature: NULL where the receipt goes), in
    // the same turn: it is of the receipts' kind, so on PostgreSQL it merges with the signed
    // ones, and the NOT NULL column refuses the whole merged statement.
    const bypass = store.committer.submitAll([
      store.actions.insertStatement(unsigned),
      receiptInsertStatement({
        id: uuidv7(),
        actionId: unsigned.id,
        agentId: unsigned.agentId,
        environment: unsigned.environment,
        decision: 'allow',
        receipt: null,
        createdAt: unsigned.createdAt,
      }),
    ]);
    await expect(bypass).rejects.toThrow();
    const outcomes = await settled;
    pg.Client.prototype.query = originalQuery;
    if (onPostgres) {
      // The merged commit failed at its receipts; then each request alone (the retry path).
      expect(inserts.get('receipts')).toBe(1 + rows.length);
    }
    // Nothing of the failed request is written: no action answered without its receipt.
    expect(await store.actions.get(unsigned.id)).toBeUndefined();
    expect(await store.receipts.forAction(unsigned.id)).toEqual([]);
    const others = [...rows.slice(0, 4), ...rows.slice(5)];
    for (const [index, outcome] of outcomes.entries()) {
      if (outcome.status !== 'fulfilled') throw outcome.reason;
      await expectReceipt(
        store,
        receipts,
        others[index] as NewAction,
        outcome.value.issued.receipt,
      );
    }
    expect(await store.actions.count()).toBe(others.length);
  });
});
