import { decodeReceipt } from '@arden/core';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { Queryable } from '../store/database';
import { entryHash, genesisHash } from './chain';

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

  test('a seal of many receipts gives each its place, as one at a time would', async () => {
    // 75 receipts: chained by UPDATEs of 64, 8 and 1 rows on the embedded store.
    for (let index = 0; index < 75; index += 15) {
      await Promise.all(Array.from({ length: 15 }, (_, offset) => check(index + offset)));
    }
    expect(await t.server.audit.seal()).toBe(75);
    const chain = await t.server.store.audit.chain(t.agent.id, 'live', 0, 100);
    expect(chain.map((row) => row.chainPosition)).toEqual(
      Array.from({ length: 75 }, (_, index) => index + 1),
    );
    expect(new Set(chain.map((row) => row.chainHash)).size).toBe(75);
    expect(await verify()).toMatchObject({ ok: true, entries: 75, problems: [] });
  });

  test('a seal is one UPDATE on PostgreSQL (64, 8 and 1 rows on the embedded store), and chains as one at a time would', async () => {
    for (let index = 0; index < 75; index += 15) {
      await Promise.all(Array.from({ length: 15 }, (_, offset) => check(index + offset)));
    }
    const database = t.server.store.database;
    const transaction = database.transaction.bind(database);
    const updates: string[] = [];
    vi.spyOn(database, 'transaction').mockImplementation((fn) =>
      transaction((tx) =>
        fn({
          ...tx,
          run: (sql, params) => {
            if (/^\s*UPDATE receipts/.test(sql)) updates.push(sql);
            return tx.run(sql, params);
          },
        } satisfies Queryable),
      ),
    );
    expect(await t.server.audit.seal()).toBe(75);
    // One round trip for the whole seal on PostgreSQL (it was one a receipt); 64 + 8 + 3 × 1.
    expect(updates).toHaveLength(database.dialect === 'postgres' ? 1 : 5);
    // The chain, recomputed one receipt at a time in the order of their seq, from the receipts'
    // text: the same positions and hashes (PostgreSQL's sha256 of the text is Node's).
    const rows = await database.all<{
      receipt: string;
      chain_position: unknown;
      chain_hash: unknown;
    }>('SELECT receipt, chain_position, chain_hash FROM receipts ORDER BY seq');
    let previous = genesisHash(t.agent.id, 'live');
    rows.forEach((row, index) => {
      previous = entryHash(previous, index + 1, row.receipt);
      expect([Number(row.chain_position), row.chain_hash]).toEqual([index + 1, previous]);
    });
    expect(rows).toHaveLength(75);
    expect(await verify()).toMatchObject({ ok: true, entries: 75, problems: [] });
  });

  test('a seal that finds a receipt gone is rolled back whole, and the next seal chains the rest', async () => {
    await check(1);
    await check(2);
    const [first] = await t.server.store.audit.unsealed(10);
    const seq = first?.seq as number;
    await expect(
      t.server.store.transaction((repositories) =>
        repositories.audit.sealMany([
          { seq, position: 1, hash: 'a'.repeat(64) },
          { seq: seq + 1_000_000, position: 2, hash: 'b'.repeat(64) },
        ]),
      ),
    ).rejects.toThrow('could chain 1 of 2 receipts');
    expect(await t.server.store.audit.unsealed(10)).toHaveLength(2);
    expect(await t.server.audit.seal()).toBe(2);
    expect(await verify()).toMatchObject({ ok: true, entries: 2, problems: [] });
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

  test('the sealer chains on its timer and signs a checkpoint per chain once per checkpointIntervalMs', async () => {
    const { AuditService } = await import('./service');
    // Its own sealer (the test server runs none): every 10 ms, checkpoints a minute apart by the
    // injected clock.
    const sealer = new AuditService(t.server.store, t.server.receipts, t.server.logger, {
      clock: () => now,
      sealIntervalMs: 10,
      checkpointIntervalMs: 60_000,
    });
    const sealedUpTo = (position: number) =>
      vi.waitFor(
        async () => {
          const [head] = await t.server.store.audit.heads();
          expect(head?.position).toBe(position);
        },
        { timeout: 10_000, interval: 20 },
      );
    const checkpoints = async () =>
      (await t.server.store.audit.checkpoints()).map((checkpoint) => ({
        position: checkpoint.position,
        createdAt: checkpoint.createdAt,
        claims: JSON.parse(
          Buffer.from(checkpoint.checkpoint.split('.')[1] ?? '', 'base64url').toString('utf8'),
        ),
      }));
    const start = now;
    sealer.start();
    try {
      await check(1);
      await sealedUpTo(1);
      // A chain's first entry gets its checkpoint at once.
      expect(await checkpoints()).toEqual([
        expect.objectContaining({ position: 1, createdAt: start }),
      ]);
      now += 30_000;
      await check(2);
      await sealedUpTo(2);
      // Half a minute later: chained, but no checkpoint yet.
      expect((await checkpoints()).map((checkpoint) => checkpoint.position)).toEqual([1]);
      now += 30_000;
      await check(3);
      await sealedUpTo(3);
      await vi.waitFor(async () => expect(await checkpoints()).toHaveLength(2), {
        timeout: 10_000,
        interval: 20,
      });
      const second = (await checkpoints())[1];
      expect(second).toMatchObject({
        position: 3,
        createdAt: start + 60_000,
        claims: { type: 'arden-audit-checkpoint', position: 3, at: start + 60_000, entry_at: now },
      });
      // A minute on with nothing new: an untouched chain gets no checkpoint.
      now += 120_000;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await checkpoints()).toHaveLength(2);
    } finally {
      await sealer.stop();
    }
    expect((await verify()).ok).toBe(true);
  });

  describe('the retention anchor', () => {
    async function retain(days: number) {
      const { RetentionService } = await import('../retention/service');
      const job = new RetentionService(t.server.store, t.server.logger, {
        days,
        clock: () => now,
        beforePurge: (cutoff) => t.server.audit.prune(cutoff),
      });
      return job.runOnce();
    }

    async function exportStatements() {
      const items = (
        (await t.admin('GET', '/api/v1/audit/checkpoints', { as: 'viewer' })).json as {
          items: { checkpoint: string; kind: string; position: number }[];
        }
      ).items;
      return items;
    }

    // Entries 1-2 are 10 days old, 3-5 recent; a checkpoint after each group.
    async function history() {
      await check(1);
      await check(2);
      await t.server.audit.seal({ checkpoint: true });
      now += 10 * 86_400_000;
      for (const amount of [3, 4, 5]) {
        await check(amount);
        now += 1_000;
        await t.server.audit.seal({ checkpoint: true });
      }
    }

    // Someone with write access deletes the front of the chain through `through` (recent
    // entries included), moves the anchor there and says retention did it.
    async function deleteFront(through: number, anchoredAt: number) {
      const rows = await t.server.store.audit.chain(t.agent.id, 'live', 0, 100);
      const last = rows.find((row) => row.chainPosition === through);
      await t.server.store.database.run(
        'DELETE FROM receipts WHERE agent_id = ? AND chain_position <= ?',
        [t.agent.id, through],
      );
      await t.server.store.database.run(
        'UPDATE audit_heads SET anchor_position = ?, anchor_hash = ?, anchored_at = ? WHERE agent_id = ?',
        [through, last?.chainHash ?? '', anchoredAt, t.agent.id],
      );
    }

    test('legitimate retention signs an anchor, exported with the checkpoints, and verifies', async () => {
      await history();
      const before = await exportStatements();
      const result = await retain(5);
      expect(result.receipts).toBe(2);
      const statements = await exportStatements();
      const anchors = statements.filter((item) => item.kind === 'anchor');
      expect(anchors).toHaveLength(1);
      expect(anchors[0]?.position).toBe(2);
      const { claims } = jwsClaims(anchors[0]?.checkpoint as string);
      expect(claims).toMatchObject({
        type: 'arden-audit-anchor',
        position: 2,
        previous: { position: 0 },
        removed: 2,
        intact: true,
        cutoff: now - 5 * 86_400_000,
      });
      // Checkpoints exported before retention (below the anchor) and after both still verify.
      expect(await verify(before.map((item) => item.checkpoint))).toMatchObject({
        ok: true,
        entries: 3,
        problems: [],
      });
      expect((await verify(statements.map((item) => item.checkpoint))).problems).toEqual([]);
      // Retention again, later, removes the rest: the next anchor names this one as its previous.
      now += 6 * 86_400_000;
      expect((await retain(5)).receipts).toBe(3);
      const latest = (await exportStatements()).filter((item) => item.kind === 'anchor').at(-1);
      expect(jwsClaims(latest?.checkpoint as string).claims).toMatchObject({
        position: 5,
        previous: { position: 2 },
        removed: 3,
        intact: true,
      });
      expect(await verify(before.map((item) => item.checkpoint))).toMatchObject({
        ok: true,
        entries: 0,
      });
    });

    test('front rows deleted and the anchor moved by hand are detected, without exported checkpoints', async () => {
      await history();
      await deleteFront(3, now);
      // The attacker also removes the stored checkpoints that named the deleted entries.
      await t.server.store.database.run('DELETE FROM audit_checkpoints WHERE position <= 3');
      const report = await verify();
      expect(report.ok).toBe(false);
      const kinds = report.problems.map((problem) => problem.kind);
      expect(kinds).toContain('anchor_unsigned');
      expect(kinds).toContain('chain_broken');
      expect(report.problems.find((problem) => problem.kind === 'anchor_unsigned')).toMatchObject({
        position: 3,
      });
    });

    test('front rows deleted after a legitimate retention, the anchor moved and exported checkpoints: entries not yet due are reported', async () => {
      await history();
      await retain(5);
      const exported = (await exportStatements()).map((item) => item.checkpoint);
      expect((await verify(exported)).ok).toBe(true);
      // Deletes entries 3 and 4 (written after the retention cutoff), claims a cutoff before
      // them, and removes every stored statement.
      const cutoff = now - 5 * 86_400_000;
      await deleteFront(4, cutoff);
      await t.server.store.database.run('DELETE FROM audit_checkpoints');
      const alone = await verify();
      expect(alone.ok).toBe(false);
      expect(alone.problems.map((problem) => problem.kind)).toContain('anchor_unsigned');
      const report = await verify(exported);
      expect(report.ok).toBe(false);
      const kinds = report.problems.map((problem) => problem.kind);
      expect(kinds).toContain('anchor_unsigned');
      expect(kinds).toContain('checkpoint_mismatch');
      expect(
        report.problems
          .filter((problem) => problem.kind === 'removed_not_due')
          .map((problem) => problem.position),
      ).toEqual([3, 4]);
      // Putting the anchor back where the signed one is leaves the deleted rows as a gap.
      const rows = await t.server.store.audit.chain(t.agent.id, 'live', 0, 10);
      expect(rows.map((row) => row.chainPosition)).toEqual([5]);
    });

    test('an anchor the server signed over a segment already broken by hand keeps being reported', async () => {
      await history();
      // Entry 1 (old) is deleted by hand, before retention runs.
      await t.server.store.database.run(
        'DELETE FROM receipts WHERE agent_id = ? AND chain_position = 1',
        [t.agent.id],
      );
      await retain(5);
      const report = await verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([
        expect.objectContaining({ kind: 'retention_gap', position: 2 }),
      ]);
      // The same anchor, stored and exported, is reported once.
      const exported = (await exportStatements()).map((item) => item.checkpoint);
      expect((await verify(exported)).problems.map((problem) => problem.kind)).toEqual([
        'retention_gap',
      ]);
    });

    test('a chain deleted entirely, head included, is caught by an exported checkpoint', async () => {
      await history();
      const exported = (await exportStatements()).map((item) => item.checkpoint);
      await t.server.store.database.run('DELETE FROM receipts');
      await t.server.store.database.run('DELETE FROM audit_heads');
      await t.server.store.database.run('DELETE FROM audit_checkpoints');
      expect((await verify()).ok).toBe(true);
      const report = await verify(exported);
      expect(report.ok).toBe(false);
      expect(report.problems.map((problem) => problem.kind)).toContain('chain_missing');
    });
  });
});

/** The claims of a compact JWS, unverified. */
function jwsClaims(jws: string): { claims: Record<string, unknown> } {
  return { claims: JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) };
}
