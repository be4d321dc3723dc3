import { type ReceiptPublicKey, verifyReceipt } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { maskJsonText } from '../approvals/exact-edit';
import { verifyAudit } from '../audit/verify';
import { publicJwk } from '../receipts/keys';
import { webhookBody } from '../webhooks/service';
import { maskArguments } from './service';

// Sensitive arguments (a policy's `redact`): stored encrypted, shown masked to viewers and in
// webhooks, read in full only by an admin who asks (and that read is logged); receipts bind the
// verbatim call. On SQLite and PostgreSQL.

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

const cardNumber = '4242424242424242';
const password = 'hunter2-correct-horse';
const verbatim = `{"amount": 40, "card": {"number": "${cardNumber}", "cvc": "123"}, "password": "${password}"}`;

async function start(): Promise<AdminTestServer> {
  const t = await startAdminTestServer(
    {
      workers: false,
      receipts: { secret: 'sensitive-test-secret-0123456789' },
      channels: { secretsKey: 'sensitive-test-secrets-key-0123456789abcdef' },
    } as never,
    { listen: false },
  );
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Payments',
      tool: 'pay',
      action: 'requires_approval',
      redact: ['card.number', 'password', 'not.present'],
    },
    { name: 'Lookup', tool: 'lookup', action: 'allow' },
  ]);
  return t;
}

async function check(t: AdminTestServer, tool: string, kwargs: string) {
  const response = await t.request('POST', '/policy/check', {
    raw: `{"tool_name": "${tool}", "args": [], "kwargs": ${kwargs}}`,
  });
  expect(response.status, response.text).toBe(200);
  return response.json as { action_id: string; decision: string };
}

describe('sensitive arguments', () => {
  test('masks the paths, nested and in lists, and says which were present', () => {
    const { masked, found } = maskArguments(
      { card: { number: '1', cvc: '2' }, items: [{ password: 'a' }, { other: 1 }], password: 'p' },
      ['card.number', 'password', 'items.password', 'absent.path'],
    );
    expect(masked).toEqual({
      card: { number: '[redacted]', cvc: '2' },
      items: [{ password: '[redacted]' }, { other: 1 }],
      password: '[redacted]',
    });
    expect(found).toEqual(['card.number', 'password', 'items.password']);
  });

  test('masks the values in the text; everything else keeps its bytes', () => {
    const text =
      '{"card": "4242424242424242", "order_id": 12345678901234567891, "amount": 1.0, "huge": 1e400, "items": [{"password": "a", "n": -0}, {"other": 1.50}], "k": "\\u00e9"}';
    const { text: masked, found } = maskJsonText(
      text,
      ['card', 'items.password', 'absent'],
      '"[redacted]"',
    );
    expect(found).toEqual(['card', 'items.password']);
    expect(masked).toBe(
      '{"card":"[redacted]","order_id":12345678901234567891,"amount":1.0,"huge":1e400,"items":[{"password":"[redacted]","n":-0},{"other": 1.50}],"k":"\\u00e9"}',
    );
    // Nothing to mask: the text as it is.
    expect(maskJsonText(text, ['absent'], '"[redacted]"')).toEqual({ text, found: [] });
  });

  test('a redacted call is stored and shown with its other arguments exact', async () => {
    const t = await start();
    const kwargs =
      '{"card": {"number": "4242424242424242", "cvc": "123"}, "order_id": 12345678901234567891, "amount": 1.0, "huge": 1e400, "delta": -0}';
    const held = await check(t, 'pay', kwargs);
    const stored = await t.server.store.actions.get(held.action_id);
    const masked =
      '{"card":{"number":"[redacted]","cvc":"123"},"order_id":12345678901234567891,"amount":1.0,"huge":1e400,"delta":-0}';
    expect(stored?.kwargsJson).toBe(masked);
    const shown = await t.admin('GET', `/api/v1/actions/${held.action_id}`, { as: 'viewer' });
    expect(shown.status, shown.text).toBe(200);
    expect(shown.text).toContain(`"kwargs_json":${JSON.stringify(masked)}`);
    expect(shown.text).toContain(`"kwargs":${masked}`);
  });

  test('stored encrypted, masked to viewers and webhooks; admins read them in full, logged; receipts bind the verbatim call', async () => {
    const t = await start();
    const held = await check(t, 'pay', verbatim);
    expect(held.decision).toBe('requires_approval');

    // Nowhere in the database in clear.
    const rows = [
      ...(await t.server.store.database.all('SELECT * FROM actions WHERE id = ?', [
        held.action_id,
      ])),
      ...(await t.server.store.database.all('SELECT * FROM sensitive_arguments')),
    ];
    expect(rows).toHaveLength(2);
    for (const secret of [cardNumber, password]) {
      expect(JSON.stringify(rows)).not.toContain(secret);
    }

    // Viewers (the admin API, hence the dashboard) see the call masked.
    const viewed = await t.admin('GET', `/api/v1/actions/${held.action_id}`, { as: 'viewer' });
    expect(viewed.status).toBe(200);
    expect(viewed.text).not.toContain(cardNumber);
    expect(viewed.text).not.toContain(password);
    expect(JSON.parse(viewed.json.kwargs_json)).toEqual({
      amount: 40,
      card: { number: '[redacted]', cvc: '123' },
      password: '[redacted]',
    });

    // A viewer may not read them in full; an admin may, and the read is logged.
    const path = `/api/v1/actions/${held.action_id}/sensitive/reveal`;
    expect((await t.admin('POST', path, { as: 'viewer', body: {} })).status).toBe(403);
    expect(
      (await t.admin('GET', `/api/v1/actions/${held.action_id}/sensitive/reads`)).json.items,
    ).toEqual([]);
    const revealed = await t.admin('POST', path, { body: { reason: 'chargeback 123' } });
    expect(revealed.status).toBe(200);
    expect(revealed.json).toMatchObject({
      action_id: held.action_id,
      kwargs_json: verbatim,
      args_json: '[]',
      paths: ['card.number', 'password'],
    });
    const reads = await t.admin('GET', `/api/v1/actions/${held.action_id}/sensitive/reads`, {
      as: 'viewer',
    });
    expect(reads.json.items).toEqual([
      expect.objectContaining({ reason: 'chargeback 123', user_email: expect.any(String) }),
    ]);

    // An edit would run the masked values: refused. Approving as it is works.
    const editing = await t.admin('POST', `/api/v1/approvals/${held.action_id}/approve`, {
      body: { patch: [{ op: 'replace', path: '/amount', value: 4 }] },
    });
    expect(editing.status).toBe(409);
    expect(editing.json.error).toContain('sensitive arguments');
    const approved = await t.admin('POST', `/api/v1/approvals/${held.action_id}/approve`, {
      body: {},
    });
    expect(approved.json.status).toBe('approved');

    // Webhooks carry the masked call.
    const action = await t.server.store.actions.get(held.action_id);
    const body = webhookBody(action!, { adminUserId: 'x', notes: null }, Date.now());
    expect(body).not.toContain(cardNumber);
    expect(body).not.toContain(password);
    expect(JSON.parse(body).action.context.password).toBe('[redacted]');

    // The receipt binds the verbatim bytes the agent sent (and runs with), and names the paths.
    const status = await t.request('GET', `/status/${held.action_id}`);
    expect(status.text).not.toContain(cardNumber);
    const keys = (await t.request('GET', '/.well-known/arden-keys.json', { key: null })).json
      .keys as ReceiptPublicKey[];
    const claims = await verifyReceipt(
      status.json.receipt,
      { toolName: 'pay', kwargsJson: verbatim, actionId: held.action_id },
      keys,
      { requireRuns: true },
    );
    expect(claims.redacted).toEqual(['card.number', 'password']);
    await expect(
      verifyReceipt(status.json.receipt, { toolName: 'pay', kwargsJson: action!.kwargsJson }, keys),
    ).rejects.toMatchObject({ code: 'call_mismatch' });

    // The audit chain checks the stored (masked) call against the receipts.
    await t.server.audit.seal();
    const audit = async () =>
      verifyAudit(t.server.store, { keys: (await t.server.store.receipts.keys()).map(publicJwk) });
    expect((await audit()).problems).toEqual([]);
    await t.server.store.database.run('UPDATE actions SET kwargs = ? WHERE id = ?', [
      '{"amount":4000}',
      held.action_id,
    ]);
    expect((await audit()).problems.map((problem) => problem.kind)).toContain('action_altered');
  });

  test('the action names its sensitive paths; the read log lists each reveal, oldest first, per action', async () => {
    const t = await start();
    const held = await check(t, 'pay', verbatim);
    const other = await check(t, 'pay', verbatim);
    const plain = await check(t, 'pay', '{"amount": 1}');

    // The detail says which paths are masked (the dashboard offers Reveal for those only).
    const detail = await t.admin('GET', `/api/v1/actions/${held.action_id}`, { as: 'viewer' });
    expect(detail.json.sensitive_paths).toEqual(['card.number', 'password']);
    const plainDetail = await t.admin('GET', `/api/v1/actions/${plain.action_id}`);
    expect(plainDetail.json.sensitive_paths).toEqual([]);

    const reads = (id: string, as: 'admin' | 'approver' | 'viewer' | null = 'viewer') =>
      t.admin('GET', `/api/v1/actions/${id}/sensitive/reads`, { as });
    const reveal = (id: string, as: 'admin' | 'approver' | 'viewer', body: unknown = {}) =>
      t.admin('POST', `/api/v1/actions/${id}/sensitive/reveal`, { as, body });

    // Refused reveals are not reads: nothing is logged.
    expect((await reveal(held.action_id, 'approver')).status).toBe(403);
    expect((await reveal(held.action_id, 'viewer')).status).toBe(403);
    expect((await reads(held.action_id)).json).toEqual({ items: [] });

    const first = await reveal(held.action_id, 'admin', { reason: 'chargeback 123' });
    expect(first.status, first.text).toBe(200);
    const second = await reveal(held.action_id, 'admin');
    expect(second.status, second.text).toBe(200);
    const adminUser = await t.server.store.users.getByEmail(t.emails.admin);

    for (const role of ['viewer', 'approver', 'admin'] as const) {
      const listed = await reads(held.action_id, role);
      expect(listed.status, listed.text).toBe(200);
      expect(listed.json.items).toEqual([
        {
          id: expect.any(String),
          user_id: adminUser!.id,
          user_email: t.emails.admin,
          reason: 'chargeback 123',
          read_at: first.json.read_at,
        },
        {
          id: expect.any(String),
          user_id: adminUser!.id,
          user_email: t.emails.admin,
          reason: null,
          read_at: second.json.read_at,
        },
      ]);
      // Neither the log nor its answer holds the values.
      expect(listed.text).not.toContain(cardNumber);
      expect(listed.text).not.toContain(password);
    }
    // Per action: another action's log is its own.
    expect((await reads(other.action_id)).json.items).toEqual([]);
    expect((await reads(plain.action_id)).json.items).toEqual([]);

    // No such action: 404, not an empty log; no token: 401.
    const missing = await reads('no-such-action');
    expect(missing.status).toBe(404);
    expect(missing.json.error).toContain('No action no-such-action');
    expect((await reads('x'.repeat(300))).status).toBe(404);
    expect((await reads(held.action_id, null)).status).toBe(401);
  });

  test('calls without the paths, and other tools, are stored as sent; reveal says so', async () => {
    const t = await start();
    const plain = await check(t, 'pay', '{"amount": 1}');
    const other = await check(t, 'lookup', '{"password": "x"}');
    for (const id of [plain.action_id, other.action_id]) {
      const revealed = await t.admin('POST', `/api/v1/actions/${id}/sensitive/reveal`, {
        body: {},
      });
      expect(revealed.status).toBe(409);
    }
    const stored = await t.server.store.actions.get(other.action_id);
    expect(stored?.kwargsJson).toBe('{"password": "x"}');
    expect(
      (await t.admin('POST', '/api/v1/actions/nope/sensitive/reveal', { body: {} })).status,
    ).toBe(404);
  });
});
