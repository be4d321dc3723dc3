import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decodeReceipt,
  type ReceiptPublicKey,
  ReceiptVerificationError,
  verifyReceipt,
} from '@arden/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { Statement, StatementSealer } from '../store/database';
import { startTestServer } from '../test-fixtures/harness';
import { ReceiptKeyError } from './keys';
import { type ReceiptInput, ReceiptService } from './service';

// Every decision is signed, bound to the exact call, and verifiable offline with the published
// keys; on SQLite and PostgreSQL.

const secret = 'receipts-test-secret-0123456789';
let t: AdminTestServer;

async function keys(): Promise<{ keys: ReceiptPublicKey[]; receipts: string }> {
  const response = await t.request('GET', '/.well-known/arden-keys.json', { key: null });
  expect(response.status).toBe(200);
  return response.json as { keys: ReceiptPublicKey[]; receipts: string };
}

async function check(tool: string, kwargsText: string) {
  const response = await t.request('POST', '/policy/check', {
    raw: `{"tool_name": "${tool}", "args": [], "kwargs": ${kwargsText}, "metadata": {"session_id": "s-1"}}`,
  });
  expect(response.status).toBe(200);
  return response.json as { decision: string; action_id: string; receipt?: string };
}

beforeAll(async () => {
  t = await startAdminTestServer({ receipts: { secret } }, { listen: false });
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'payments.refund',
      rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
      default: 'allow',
    },
    { name: 'Never', tool: 'db.drop', action: 'block' },
  ]);
});

afterAll(async () => {
  await t?.close();
});

describe('receipts', () => {
  test('an allowed call carries a receipt that verifies offline for exactly that call', async () => {
    const kwargs = '{"amount": 40, "order": "o-1"}';
    const answer = await check('payments.refund', kwargs);
    expect(answer.decision).toBe('allow');
    const keySet = await keys();
    expect(keySet.receipts).toBe('enabled');
    const claims = await verifyReceipt(
      answer.receipt as string,
      { toolName: 'payments.refund', kwargsJson: kwargs, actionId: answer.action_id },
      keySet,
      { requireRuns: true },
    );
    expect(claims).toMatchObject({
      decision: 'allow',
      runs: true,
      action_id: answer.action_id,
      agent_id: t.agent.id,
      environment: 'live',
      session_id: 's-1',
      tool: 'payments.refund',
      decided_by: { type: 'policy' },
      policy: { name: 'Refunds', version: 1, rule_index: -1 },
    });
    // The bytes, not the value: the same object written without spaces is another call.
    await expect(
      verifyReceipt(
        answer.receipt as string,
        { toolName: 'payments.refund', kwargsJson: '{"amount":40,"order":"o-1"}' },
        keySet,
      ),
    ).rejects.toMatchObject({ code: 'call_mismatch', field: 'kwargs_sha256' });
    await expect(
      verifyReceipt(
        answer.receipt as string,
        { toolName: 'payments.refund', kwargsJson: '{"amount": 4000, "order": "o-1"}' },
        keySet,
      ),
    ).rejects.toMatchObject({ code: 'call_mismatch' });
    await expect(
      verifyReceipt(answer.receipt as string, { toolName: 'db.drop', kwargsJson: kwargs }, keySet),
    ).rejects.toMatchObject({ code: 'call_mismatch', field: 'tool' });
  });

  test('a tampered receipt is refused', async () => {
    const kwargs = '{"amount": 5}';
    const answer = await check('payments.refund', kwargs);
    const receipt = answer.receipt as string;
    // The batched form: r2~claims~proof~root JWS. Claims changed under the same proof and root.
    const [form, payload, proof, root] = receipt.split('~') as [string, string, string, string];
    expect(form).toBe('r2');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forged = [
      form,
      Buffer.from(JSON.stringify({ ...claims, tool: 'db.drop' })).toString('base64url'),
      proof,
      root,
    ].join('~');
    const keySet = await keys();
    const refusal = await verifyReceipt(forged, undefined, keySet).catch((error) => error);
    expect(ReceiptVerificationError.isInstance(refusal)).toBe(true);
    expect(refusal.code).toBe('bad_signature');
    // The root JWS alone is not a receipt.
    await expect(verifyReceipt(root, undefined, keySet)).rejects.toMatchObject({
      code: 'malformed',
    });
    await expect(verifyReceipt('not.a.receipt', undefined, keySet)).rejects.toMatchObject({
      code: 'malformed',
    });
    await expect(verifyReceipt(receipt, undefined, [])).rejects.toMatchObject({
      code: 'unknown_key',
    });
  });

  test('concurrent checks are signed together; each receipt covers its own call only', async () => {
    const bodies = Array.from(
      { length: 16 },
      (_, index) => `{"amount": ${index}, "order": "c-${index}"}`,
    );
    const answers = await Promise.all(bodies.map((kwargs) => check('payments.refund', kwargs)));
    const keySet = await keys();
    const roots = new Map<string, number>();
    for (const [index, answer] of answers.entries()) {
      const receipt = answer.receipt as string;
      const call = { toolName: 'payments.refund', kwargsJson: bodies[index] as string };
      await verifyReceipt(receipt, { ...call, actionId: answer.action_id }, keySet);
      // The receipt of the next call of the batch is refused for this one.
      const other = answers[(index + 1) % answers.length]?.receipt as string;
      await expect(verifyReceipt(other, call, keySet)).rejects.toMatchObject({
        code: 'call_mismatch',
      });
      const root = receipt.split('~')[3] as string;
      roots.set(root, (roots.get(root) ?? 0) + 1);
    }
    // Signed together: fewer signatures than receipts.
    expect(roots.size).toBeLessThan(answers.length);
    expect(Math.max(...roots.values())).toBeGreaterThan(1);
  });

  test('the commit signs only receipts its receipt service issued', async () => {
    const receipts = t.server.receipts;
    const input = (id: string): ReceiptInput => ({
      action: {
        id,
        agentId: t.agent.id,
        environment: 'live',
        sessionId: null,
        toolName: 'payments.refund',
        reason: 'policy_matched',
        policy: null,
        args: [],
        kwargs: { amount: 5 },
        argsJson: '[]',
        kwargsJson: '{"amount": 5}',
      },
      decision: 'allow',
      runs: true,
      decidedBy: { type: 'policy', id: null },
      decidedAt: Date.now(),
    });
    const issued = receipts.issue(input('01890000-0000-7000-8000-000000000001'));
    if (!issued) throw new Error('receipts are on in this test');
    const sealer = issued.statement.sealer as StatementSealer;
    // A copy of an issued statement, or one another service issued, is not signed.
    expect(() => sealer.seal([{ ...issued.statement }])).toThrow(ReceiptKeyError);
    const other = await ReceiptService.open(t.server.store, secret, t.server.logger);
    const foreign = other.issue(input('01890000-0000-7000-8000-000000000002'));
    expect(foreign?.statement.sealer).not.toBe(sealer);
    expect(() => sealer.seal([foreign?.statement as Statement])).toThrow(ReceiptKeyError);
    expect(() => issued.receipt).toThrow(/before its group commit signed it/);
    // The issued one is: its INSERT now holds the receipt, which names that call.
    const [signed] = sealer.seal([issued.statement]);
    expect(signed?.sealer).toBeUndefined();
    expect(signed?.params).toContain(issued.receipt);
    const [form, claims] = issued.receipt.split('~') as [string, string];
    expect(form).toBe('r2');
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toMatchObject({
      action_id: '01890000-0000-7000-8000-000000000001',
      kwargs_sha256: createHash('sha256').update('{"amount": 5}').digest('hex'),
    });
  });

  test('a blocked call gets a receipt that does not let it run', async () => {
    const answer = await check('db.drop', '{}');
    expect(answer.decision).toBe('block');
    const keySet = await keys();
    await expect(
      verifyReceipt(answer.receipt as string, { toolName: 'db.drop', kwargs: {} }, keySet, {
        requireRuns: true,
      }),
    ).rejects.toMatchObject({ code: 'does_not_run' });
  });

  test('an approval is signed on /status, and its receipt is refused for another call', async () => {
    const kwargs = '{"amount": 500, "order": "o-2"}';
    const held = await check('payments.refund', kwargs);
    expect(held.decision).toBe('requires_approval');
    expect(held.receipt).toBeUndefined();
    const pending = await t.request('GET', `/status/${held.action_id}`);
    // A pending action's status carries its hold receipt, which does not let the call run.
    const holdReceipt = (pending.json as { receipt?: string }).receipt as string;
    expect(decodeReceipt(holdReceipt).claims).toMatchObject({ decision: 'hold', runs: false });
    const approver = await t.server.store.users.getByEmail('approver@example.com');
    await t.server.approvals.decide(held.action_id, {
      decision: 'approve',
      userId: approver?.id ?? null,
    });
    const status = (await t.request('GET', `/status/${held.action_id}`)).json as {
      status: string;
      receipt: string;
    };
    expect(status.status).toBe('approved');
    const keySet = await keys();
    const claims = await verifyReceipt(
      status.receipt,
      { toolName: 'payments.refund', kwargsJson: kwargs, actionId: held.action_id },
      keySet,
      { requireRuns: true },
    );
    expect(claims).toMatchObject({
      decision: 'approve',
      decided_by: { type: 'user', id: approver?.id },
    });
    // The approved action's single run: claimed once; a second claim (a replay) is a 409.
    const pendingRun = await t.request('POST', `/v1/actions/${held.action_id}/run`, { body: {} });
    expect(pendingRun.status).toBe(200);
    const replayed = await t.request('POST', `/v1/actions/${held.action_id}/run`, { body: {} });
    expect(replayed.status).toBe(409);
    expect(JSON.stringify(replayed.json)).toContain('already ran');
    // Replayed for another call (a second refund of the same amount): refused.
    const other = await check('payments.refund', kwargs);
    const notApproved = await t.request('POST', `/v1/actions/${other.action_id}/run`, { body: {} });
    expect(notApproved.status).toBe(409);
    await expect(
      verifyReceipt(
        status.receipt,
        { toolName: 'payments.refund', kwargsJson: kwargs, actionId: other.action_id },
        keySet,
      ),
    ).rejects.toMatchObject({ code: 'call_mismatch', field: 'action_id' });
    // Stored on the action: its check (hold) and its decision.
    const stored = await t.admin('GET', `/api/v1/actions/${held.action_id}/receipts`, {
      as: 'viewer',
    });
    expect(
      (stored.json as { items: { decision: string }[] }).items.map((item) => item.decision),
    ).toEqual(['hold', 'approve']);
  });

  test('an expired approval is signed as expire', async () => {
    const held = await check('payments.refund', '{"amount": 700}');
    await t.server.store.database.run('UPDATE actions SET expires_at = ? WHERE id = ?', [
      Date.now() - 1,
      held.action_id,
    ]);
    const status = (await t.request('GET', `/status/${held.action_id}`)).json as {
      status: string;
      receipt: string;
    };
    expect(status.status).toBe('denied');
    expect(decodeReceipt(status.receipt).claims).toMatchObject({
      decision: 'expire',
      runs: false,
      decided_by: { type: 'timeout', id: null },
    });
  });

  test('keys rotate; old receipts still verify; private keys are encrypted at rest', async () => {
    const before = await check('payments.refund', '{"amount": 1}');
    const rotated = await t.admin('POST', '/api/v1/receipts/keys/rotate');
    expect(rotated.status).toBe(200);
    const newKid = (rotated.json as { kid: string }).kid;
    const after = await check('payments.refund', '{"amount": 2}');
    expect(decodeReceipt(after.receipt as string).header.kid).toBe(newKid);
    const keySet = await keys();
    expect(keySet.keys.length).toBeGreaterThanOrEqual(2);
    expect(keySet.keys[0]?.kid).toBe(newKid);
    expect(keySet.keys.some((key) => key.retired_at)).toBe(true);
    await verifyReceipt(before.receipt as string, undefined, keySet);
    await verifyReceipt(after.receipt as string, undefined, keySet);
    // Viewers cannot rotate.
    expect((await t.admin('POST', '/api/v1/receipts/keys/rotate', { as: 'viewer' })).status).toBe(
      403,
    );
    for (const key of await t.server.store.receipts.keys()) {
      expect(key.privateKey.startsWith('v1.')).toBe(true);
      // No PKCS#8 Ed25519 header (302e020100300506032b6570) in the clear.
      expect(Buffer.from(key.privateKey).toString('hex')).not.toContain('302e0201');
      expect(key.privateKey).not.toContain('MC4CAQAwBQYDK2Vw');
    }
  });
});

describe('webhooks', () => {
  test("a decision's webhook carries its receipt, which verifies for the call it sends", async () => {
    const bodies: string[] = [];
    const hook: Server = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const server = await startTestServer(
      { receipts: { secret }, webhooks: { pollIntervalMs: 20 } },
      { agent: { defaultAction: 'requires_approval' } },
    );
    try {
      await server.server.agents.updateAgent(server.agent.id, {
        webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      });
      const kwargs = '{"amount": 900, "note": "caf\\u00e9"}';
      const held = await server.request('POST', '/policy/check', {
        raw: `{"tool_name": "payments.refund", "kwargs": ${kwargs}}`,
      });
      const actionId = (held.json as { action_id: string }).action_id;
      await server.server.approvals.decide(actionId, { decision: 'approve', userId: null });
      const deadline = Date.now() + 10_000;
      while (bodies.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const delivery = JSON.parse(bodies[0] as string) as { receipt: string };
      // The webhook sends the arguments byte for byte; the receipt binds those bytes.
      expect(bodies[0]).toContain(`"context":${kwargs}`);
      const keySet = (await server.request('GET', '/.well-known/arden-keys.json', { key: null }))
        .json as { keys: ReceiptPublicKey[] };
      const claims = await verifyReceipt(
        delivery.receipt,
        { toolName: 'payments.refund', kwargsJson: kwargs, actionId },
        keySet,
        { requireRuns: true },
      );
      expect(claims.decision).toBe('approve');
    } finally {
      await server.close();
      await new Promise<void>((resolve) => hook.close(() => resolve()));
    }
  });
});

describe('the receipt secret', () => {
  test('a store whose keys were made with another secret refuses to start', async () => {
    const first = await startTestServer(
      { receipts: { secret: 'the-first-secret-0000000' } },
      { keepData: true, listen: false },
    );
    const { dataDir, databaseUrl } = first;
    await first.server.close();
    await expect(
      startTestServer(
        { dataDir, databaseUrl, receipts: { secret: 'another-secret-111111111' } },
        { listen: false },
      ),
    ).rejects.toThrow(/cannot be decrypted with this receipt secret/);
    const again = await startTestServer(
      { dataDir, databaseUrl, receipts: { secret: 'the-first-secret-0000000' } },
      { listen: false },
    );
    expect(again.server.receipts.enabled).toBe(true);
    await again.close();
  });

  test('receipts: off signs nothing and says so on the key set', async () => {
    const off = await startTestServer({ receipts: { mode: 'off' } }, { listen: false });
    try {
      const answer = await off.request('POST', '/policy/check', { body: { tool_name: 'x' } });
      expect((answer.json as { receipt?: string }).receipt).toBeUndefined();
      const keySet = await off.request('GET', '/.well-known/arden-keys.json', { key: null });
      expect(keySet.json).toEqual({ keys: [], receipts: 'disabled' });
    } finally {
      await off.close();
    }
  });
});
