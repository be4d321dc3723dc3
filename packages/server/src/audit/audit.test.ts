import { decodeReceipt } from '@arden/core';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

// The audit chain detects rows changed, deleted or rewritten by hand, on SQLite and
// PostgreSQL, and survives retention.

let t: AdminTestServer;
let now = Date.UTC(2026, 11, 1);

async function check(amount: number, session = 's-1'): Promise<string> {
  const response = await t.request('POST', '/policy/check', {
    raw: `{"tool_name": "payments.refund", "kwargs": {"amount": ${amount}}, "metadata": {"session_id": "${session}"}}`,
  });
  expect(response.status).toBe(200);
  return (response.json as { action_id: string }).action_id;
}

async function verify(checkpoints?: string[]) {
  const response = await t.admin('POST', '/api/v1/audit/verify', {
    body: checkpoints ? { checkpoints } : {},
  });
  expect(response.status).toBe(200);
  return response.json as {
    ok: boolean;
    entries: number;
    checkpoints: number;
    problems: { kind: string; actionId: string | null; position: number | null }[];
  };
}

beforeEach(async () => {
  now = Date.UTC(2026, 11, 1);
  t = await startAdminTestServer(
    {
      clock: () => now,
      receipts: { secret: 'audit-test-secret-0123456789' },
      workers: false,
    },
    { listen: false },
  );
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'payments.refund',
      rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
      default: 'allow',
    },
  ]);
});

afterEach(async () => {
  await t?.close();
});

describe('the audit chain', () => {
  test('an untouched log verifies; checks and decisions are chained in order', async () => {
    await check(1);
    const held = await check(500);
    await t.server.approvals.decide(held, { decision: 'deny', userId: null, notes: 'no' });
    await check(2);
    const report = await verify();
    expect(report).toMatchObject({ ok: true, entries: 4, problems: [] });
    const decisions = (await t.server.store.audit.chain(t.agent.id, 'live', 0, 10)).map((row) => [
      row.chainPosition,
      row.decision,
    ]);
    expect(decisions).toEqual([
      [1, 'allow'],
      [2, 'hold'],
      [3, 'deny'],
      [4, 'allow'],
    ]);
  });

  test('receipts stored in the older single-signature form still chain and verify', async () => {
    await check(1);
    const old = await check(2);
    await check(3);
    // As a server before batched receipts stored it: a compact JWS of the claims.
    const [row] = await t.server.store.receipts.forAction(old);
    expect(row?.receipt.startsWith('r2~')).toBe(true);
    const { claims } = decodeReceipt(row?.receipt as string);
    const single = t.server.receipts.signStatement(claims, 'arden-receipt+jwt') as string;
    await t.server.store.database.run('UPDATE receipts SET receipt = ? WHERE action_id = ?', [
      single,
      old,
    ]);
    expect(await verify()).toMatchObject({ ok: true, entries: 3, problems: [] });
    // Its claims changed under its signature are caught.
    const [header, , signature] = single.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, decision: 'block' })).toString(
      'base64url',
    );
    await t.server.store.database.run('UPDATE receipts SET receipt = ? WHERE action_id = ?', [
      `${header}.${forged}.${signature}`,
      old,
    ]);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems.map((problem) => problem.kind)).toContain('chain_broken');
    expect(report.problems.map((problem) => problem.kind)).toContain('receipt_invalid');
  });

  test("an action's arguments changed by hand in the database are detected", async () => {
    await check(1);
    const target = await check(40);
    await check(3);
    await t.server.audit.seal();
    await t.server.store.database.run('UPDATE actions SET kwargs = ? WHERE id = ?', [
      '{"amount": 4000}',
      target,
    ]);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'action_altered', actionId: target, position: 2 }),
    ]);
  });

  test('a receipt row deleted, or its decision changed, is detected', async () => {
    await check(1);
    const held = await check(500);
    await t.server.approvals.decide(held, { decision: 'deny', userId: null });
    await check(2);
    await t.server.audit.seal();
    expect((await verify()).ok).toBe(true);
    await t.server.store.database.run(
      "UPDATE receipts SET decision = 'approve' WHERE action_id = ? AND decision = 'deny'",
      [held],
    );
    expect((await verify()).problems.map((problem) => problem.kind)).toEqual([
      'receipt_row_altered',
    ]);
    await t.server.store.database.run(
      "DELETE FROM receipts WHERE action_id = ? AND decision = 'approve'",
      [held],
    );
    const kinds = (await verify()).problems.map((problem) => problem.kind);
    expect(kinds).toContain('chain_broken');
  });

  test('a chain rewritten with recomputed hashes is caught by an exported checkpoint', async () => {
    await check(1);
    await check(2);
    await check(3);
    await t.admin('POST', '/api/v1/audit/checkpoints');
    const exported = (
      (await t.admin('GET', '/api/v1/audit/checkpoints', { as: 'viewer' })).json as {
        items: { checkpoint: string; position: number }[];
      }
    ).items.map((item) => item.checkpoint);
    expect(exported.length).toBeGreaterThan(0);
    expect((await verify(exported)).ok).toBe(true);
    // Someone with database access removes the last entry, fixes the head, and deletes the
    // stored checkpoints: the chain alone looks whole again.
    const rows = await t.server.store.audit.chain(t.agent.id, 'live', 0, 10);
    const last = rows.at(-1);
    const previous = rows.at(-2);
    await t.server.store.database.run('DELETE FROM receipts WHERE seq = ?', [last?.seq ?? 0]);
    await t.server.store.database.run('DELETE FROM actions WHERE id = ?', [last?.actionId ?? '']);
    await t.server.store.database.run(
      'UPDATE audit_heads SET position = ?, hash = ? WHERE agent_id = ?',
      [previous?.chainPosition ?? 0, previous?.chainHash ?? '', t.agent.id],
    );
    await t.server.store.database.run('DELETE FROM audit_checkpoints');
    expect((await verify()).ok).toBe(true);
    const report = await verify(exported);
    expect(report.ok).toBe(false);
    expect(report.problems.map((problem) => problem.kind)).toContain('checkpoint_mismatch');
  });

  test('retention deletes old entries from the front and the rest still verifies', async () => {
    await check(1);
    await check(2);
    now += 10 * 86_400_000;
    const recent = await check(3);
    const retention = (await import('../retention/service')).RetentionService;
    const job = new retention(t.server.store, t.server.logger, {
      days: 5,
      clock: () => now,
      beforePurge: (cutoff) => t.server.audit.prune(cutoff),
    });
    const result = await job.runOnce();
    expect(result.receipts).toBe(2);
    expect(result.actions).toBe(2);
    const report = await verify();
    expect(report).toMatchObject({ ok: true, entries: 1 });
    const [head] = await t.server.store.audit.heads();
    expect(head).toMatchObject({ anchorPosition: 2, position: 3 });
    // Changing what is left is still detected.
    await t.server.store.database.run('UPDATE actions SET tool_name = ? WHERE id = ?', [
      'payments.payout',
      recent,
    ]);
    expect((await verify()).problems.map((problem) => problem.kind)).toEqual(['action_altered']);
  });
});
