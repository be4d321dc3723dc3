import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeReceipt, type ReceiptPublicKey, sha256Hex, verifyReceipt } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { verifyAudit } from '../audit/verify';
import type { CliIo } from '../cli/io';
import { run } from '../cli/main';
import { UserAdministration } from '../users/service';
import { publicJwk } from './keys';

// The receipt of an approval says how it was given: the edited call it binds (and the original's
// hashes), every approver of a multi-person approval, and whether it was given in the app. On
// SQLite and PostgreSQL.

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

type Started = AdminTestServer & { approvers: Record<string, string> };

async function start(): Promise<Started> {
  const t = await startAdminTestServer(
    { workers: false, receipts: { secret: 'decision-claims-secret-0123456789' } } as never,
    { listen: false },
  );
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'refund',
      rules: [
        { if: 'args.amount > 100', then: 'requires_approval', approvals: 2 },
        { if: 'args.amount > 10', then: 'requires_approval' },
      ],
      default: 'allow',
    },
    {
      name: 'Email',
      tool: 'send_email',
      action: 'requires_approval',
      approve_in: ['dashboard', 'app'],
    },
  ]);
  const users = new UserAdministration(t.server.store, Date.now, {
    insecureTestPasswordHashing: true,
  });
  const approvers: Record<string, string> = {};
  for (const name of ['ann', 'bob']) {
    const { user } = await users.createUser({
      email: `${name}@example.com`,
      role: 'approver',
      password: 'correct horse battery staple',
    });
    approvers[name] = (await users.createToken(user.id, 'test')).token;
  }
  return Object.assign(t, { approvers });
}

async function check(t: Started, tool: string, kwargsText: string): Promise<string> {
  const response = await t.request('POST', '/policy/check', {
    raw: `{"tool_name": "${tool}", "args": [], "kwargs": ${kwargsText}}`,
  });
  expect(response.json.decision).toBe('requires_approval');
  return response.json.action_id as string;
}

async function cli(argv: string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    cwd,
  };
  return { code: await run(argv, io), stdout, stderr };
}

function approve(t: Started, who: string, actionId: string, body: unknown = {}) {
  return t.admin('POST', `/api/v1/approvals/${actionId}/approve`, {
    as: null,
    body,
    headers: { authorization: `Bearer ${t.approvers[who]}` },
  });
}

async function keys(t: Started): Promise<ReceiptPublicKey[]> {
  return (await t.request('GET', '/.well-known/arden-keys.json', { key: null })).json.keys;
}

async function statusReceipt(t: Started, actionId: string): Promise<string> {
  const status = await t.request('GET', `/status/${actionId}`, {
    headers: { 'x-arden-capabilities': 'edits' },
  });
  expect(typeof status.json.receipt).toBe('string');
  return status.json.receipt as string;
}

describe('the claims of an approval', () => {
  test('an edit judged by another rule: the receipt names the rule that re-evaluated the edited call', async () => {
    const t = await start();
    const actionId = await check(t, 'refund', '{"amount": 50}');
    // 50 is held by rule 1 (amount > 10); 500 by rule 0 (amount > 100, two approvers).
    const first = await approve(t, 'ann', actionId, {
      patch: [{ op: 'replace', path: '/amount', value: 500 }],
    });
    expect(first.json.status).toBe('pending');
    expect((await approve(t, 'bob', actionId)).json.status).toBe('approved');
    const claims = await verifyReceipt(
      await statusReceipt(t, actionId),
      { toolName: 'refund', kwargsJson: '{"amount":500}', actionId },
      await keys(t),
    );
    expect(claims).toMatchObject({
      decision: 'approve',
      policy: { name: 'Refunds', rule_index: 0 },
      reason: 'rule_matched',
      approvers: ['ann@example.com', 'bob@example.com'],
    });
    const [held] = await t.server.store.receipts.forAction(actionId);
    expect(decodeReceipt(held?.receipt as string).claims.policy).toMatchObject({ rule_index: 1 });
    await t.server.audit.seal();
    expect(
      await verifyAudit(t.server.store, { keys: t.server.receipts.keysDocument().keys }),
    ).toMatchObject({ ok: true });
  });

  test('an approval with edit binds the edited call and names the original one', async () => {
    const t = await start();
    const original = '{"amount": 50, "order": "o-1"}';
    const actionId = await check(t, 'refund', original);
    const approved = await approve(t, 'ann', actionId, {
      patch: [{ op: 'replace', path: '/amount', value: 5 }],
    });
    expect(approved.json.status).toBe('approved');
    const edited = approved.json.approval.edits[0].after_json as string;
    const receipt = await statusReceipt(t, actionId);
    const claims = await verifyReceipt(
      receipt,
      { toolName: 'refund', kwargsJson: edited, actionId },
      await keys(t),
      { requireRuns: true },
    );
    expect(claims).toMatchObject({
      decision: 'approve',
      approved_in: 'dashboard',
      decided_by: { type: 'user' },
      edited: {
        original_args_sha256: await sha256Hex('[]'),
        original_kwargs_sha256: await sha256Hex(original),
        by: 'ann@example.com',
      },
    });
    expect(claims.approvers).toBeUndefined();
    // The edited call (5) matches no rule of its policy (its default, rule -1): the receipt says
    // so, not the original check's rule (amount > 10).
    expect(claims.policy).toMatchObject({ name: 'Refunds', rule_index: -1 });
    expect(
      decodeReceipt((await t.server.store.receipts.forAction(actionId))[0]?.receipt as string)
        .claims.policy,
    ).toMatchObject({ name: 'Refunds', rule_index: 1 });
    // The call as the agent made it is not what was approved.
    await expect(
      verifyReceipt(receipt, { toolName: 'refund', kwargsJson: original }, await keys(t)),
    ).rejects.toMatchObject({ code: 'call_mismatch', field: 'kwargs_sha256' });
    // The audit chain holds: the action keeps the original call, the edit the approved one.
    await t.server.audit.seal();
    const audit = async () =>
      verifyAudit(t.server.store, {
        keys: (await t.server.store.receipts.keys()).map(publicJwk),
      });
    expect((await audit()).problems).toEqual([]);
    // An edit rewritten by hand afterwards is detected.
    const row = await t.server.store.actions.get(actionId);
    const state = structuredClone(row?.approval);
    if (!state?.edits[0]) throw new Error('no edit stored');
    state.edits[0].after = '{"amount":5000,"order":"o-1"}';
    await t.server.store.database.run('UPDATE actions SET approval = ? WHERE id = ?', [
      JSON.stringify(state),
      actionId,
    ]);
    const report = await audit();
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'action_altered', actionId }),
    ]);
    expect(report.problems[0]?.message).toContain('edited arguments');
  });

  test('a two-person approval names both approvers; minApprovers demands them', async () => {
    const t = await start();
    const kwargs = '{"amount": 500}';
    const actionId = await check(t, 'refund', kwargs);
    expect((await approve(t, 'ann', actionId)).json.status).toBe('pending');
    expect((await approve(t, 'bob', actionId)).json.status).toBe('approved');
    const receipt = await statusReceipt(t, actionId);
    const call = { toolName: 'refund', kwargsJson: kwargs };
    const claims = await verifyReceipt(receipt, call, await keys(t), { minApprovers: 2 });
    expect(claims).toMatchObject({
      approvers: ['ann@example.com', 'bob@example.com'],
      approved_in: 'dashboard',
    });
    expect(claims.edited).toBeUndefined();
    await expect(
      verifyReceipt(receipt, call, await keys(t), { minApprovers: 3 }),
    ).rejects.toMatchObject({ code: 'too_few_approvers' });

    // On the command line too.
    const dir = mkdtempSync(join(tmpdir(), 'arden-claims-'));
    try {
      writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys: await keys(t) }));
      const two = await cli(
        ['receipts', 'verify', receipt, '--keys', 'keys.json', '--min-approvers', '2'],
        dir,
      );
      expect(two.code).toBe(0);
      expect(two.stdout).toContain('approvers: ann@example.com, bob@example.com');
      const three = await cli(
        ['receipts', 'verify', receipt, '--keys', 'keys.json', '--min-approvers', '3'],
        dir,
      );
      expect(three.code).toBe(1);
      expect(three.stderr).toMatch(/^invalid \(too_few_approvers\)/);
      const bad = await cli(
        ['receipts', 'verify', receipt, '--keys', 'keys.json', '--min-approvers', 'two'],
        dir,
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--min-approvers must be a whole number');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // One approver is one, however the receipt is read.
    const single = await check(t, 'refund', '{"amount": 50}');
    await approve(t, 'ann', single);
    const one = await statusReceipt(t, single);
    expect(decodeReceipt(one).claims.approvers).toBeUndefined();
    await expect(
      verifyReceipt(one, undefined, await keys(t), { minApprovers: 2 }),
    ).rejects.toMatchObject({ code: 'too_few_approvers' });
  });

  test('an in-app decision is signed as the app user’s, approved in the app', async () => {
    const t = await start();
    const kwargs = '{"to": "x@example.com"}';
    const actionId = await check(t, 'send_email', kwargs);
    const decided = await t.request('POST', `/v1/actions/${actionId}/decision`, {
      body: { decision: 'approve', user: 'enduser@customer.example' },
    });
    expect(decided.status).toBe(200);
    const claims = await verifyReceipt(
      await statusReceipt(t, actionId),
      { toolName: 'send_email', kwargsJson: kwargs },
      await keys(t),
      { requireRuns: true },
    );
    expect(claims).toMatchObject({
      decision: 'approve',
      approved_in: 'app',
      decided_by: { type: 'app', id: 'enduser@customer.example' },
    });
  });

  test('a denial carries none of the approval claims', async () => {
    const t = await start();
    const actionId = await check(t, 'refund', '{"amount": 50}');
    await t.admin('POST', `/api/v1/approvals/${actionId}/deny`, {
      as: null,
      body: { kwargs: { amount: 5 } },
      headers: { authorization: `Bearer ${t.approvers.ann}` },
    });
    const { claims } = decodeReceipt(await statusReceipt(t, actionId));
    expect(claims.decision).toBe('deny');
    expect(claims.edited).toBeUndefined();
    expect(claims.approved_in).toBeUndefined();
  });
});
