import { verifyWebhookSignature } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { WebhookRequest } from '../webhooks/sender';

// Sensitive argument values (a policy's `redact`) in webhooks: masked unless the agent's
// settings say so (`webhook_sensitive_in_full`); then the body carries the exact bytes the agent
// sent, and each such delivery is logged like an admin's reveal. The setting is read when a
// delivery is sent, so turning it off masks retries too. On SQLite and PostgreSQL.

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

const cardNumber = '4242424242424242';
// Spaces, key order and an integer past 2^53: the bytes as sent, not a re-serialisation.
const verbatim = `{"amount": 40, "card": {"number": "${cardNumber}", "cvc": "123"}, "ref": 12345678901234567890}`;

async function start() {
  const sent: WebhookRequest[] = [];
  const t = await startAdminTestServer(
    {
      workers: false,
      receipts: { secret: 'sensitive-webhook-test-secret-0123456789' },
      channels: { secretsKey: 'sensitive-webhook-test-secrets-key-0123456789abcdef' },
      webhooks: {
        allowPrivate: true,
        send: async (request: WebhookRequest) => {
          sent.push(request);
          return { status: sent.length === 3 ? 500 : 200, headers: {}, body: '' };
        },
        retrySchedule: [0],
        jitter: 0,
      },
    } as never,
    { listen: false },
  );
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'Payments', tool: 'pay', action: 'requires_approval', redact: ['card.number'] },
  ]);
  const patched = await t.admin('PATCH', `/api/v1/agents/${t.agent.id}`, {
    body: { webhook_url: 'http://127.0.0.1:9/hook' },
  });
  expect(patched.status, patched.text).toBe(200);
  expect(patched.json.webhook_sensitive_in_full).toBe(false);
  return { t, sent };
}

/** Holds a call with a sensitive value, approves it, sends its webhook; the body sent. */
async function approveAndSend(t: AdminTestServer, sent: WebhookRequest[]): Promise<string> {
  const held = await t.request('POST', '/policy/check', {
    raw: `{"tool_name": "pay", "args": [], "kwargs": ${verbatim}}`,
  });
  expect(held.json.decision).toBe('requires_approval');
  const approved = await t.admin('POST', `/api/v1/approvals/${held.json.action_id}/approve`, {
    body: {},
  });
  expect(approved.json.status).toBe('approved');
  const before = sent.length;
  await t.server.webhooks.runOnce();
  expect(sent).toHaveLength(before + 1);
  return sent.at(-1)?.body as string;
}

function contextText(body: string): string {
  const start = body.indexOf('"context":') + '"context":'.length;
  return body.slice(start, body.indexOf(',"args":', start));
}

describe('sensitive values in webhooks, by agent setting', () => {
  test('masked by default; in full, exact bytes and logged, when the agent says so; masked again when it no longer does', async () => {
    const { t, sent } = await start();

    // Default: masked.
    const masked = await approveAndSend(t, sent);
    expect(masked).not.toContain(cardNumber);
    expect(JSON.parse(masked).action.context.card.number).toBe('[redacted]');
    const firstAction = JSON.parse(masked).action.action_id as string;
    expect(
      (await t.admin('GET', `/api/v1/actions/${firstAction}/sensitive/reads`)).json.items,
    ).toEqual([]);

    // Only admins may change the setting.
    const path = `/api/v1/agents/${t.agent.id}`;
    const body = { webhook_sensitive_in_full: true };
    expect((await t.admin('PATCH', path, { as: 'approver', body })).status).toBe(403);
    const on = await t.admin('PATCH', path, { body });
    expect(on.status, on.text).toBe(200);
    expect(on.json.webhook_sensitive_in_full).toBe(true);
    expect((await t.admin('GET', path, { as: 'viewer' })).json.webhook_sensitive_in_full).toBe(
      true,
    );

    // On: the exact bytes the agent sent, signed as sent, and the access is logged.
    const full = await approveAndSend(t, sent);
    expect(contextText(full)).toBe(verbatim);
    const request = sent.at(-1) as WebhookRequest;
    expect(
      await verifyWebhookSignature(
        request.body,
        request.headers['x-arden-timestamp'] as string,
        request.headers['x-arden-signature'] as string,
        t.agent.signingKey,
      ),
    ).toBe(true);
    const fullAction = JSON.parse(full).action.action_id as string;
    const reads = await t.admin('GET', `/api/v1/actions/${fullAction}/sensitive/reads`, {
      as: 'viewer',
    });
    expect(reads.json.items).toEqual([
      expect.objectContaining({
        user_id: null,
        reason: expect.stringContaining('webhook_sensitive_in_full'),
      }),
    ]);
    // The outbox (readable by viewers through the deliveries API) keeps the masked body.
    const stored = await t.server.store.database.all(
      'SELECT payload FROM webhook_outbox WHERE action_id = ?',
      [fullAction],
    );
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(cardNumber);

    // The third send fails (500) and is retried: the setting as it is at the retry decides.
    const third = await approveAndSend(t, sent);
    expect(contextText(third)).toBe(verbatim);
    const off = await t.admin('PATCH', path, { body: { webhook_sensitive_in_full: false } });
    expect(off.json.webhook_sensitive_in_full).toBe(false);
    await t.server.webhooks.runOnce();
    const retried = sent.at(-1)?.body as string;
    expect(JSON.parse(retried).action.action_id).toBe(JSON.parse(third).action.action_id);
    expect(retried).not.toContain(cardNumber);

    // Off again: masked, and nothing more is logged.
    const again = await approveAndSend(t, sent);
    expect(again).not.toContain(cardNumber);
    expect(JSON.parse(again).action.context.card.number).toBe('[redacted]');
    const againAction = JSON.parse(again).action.action_id as string;
    expect(
      (await t.admin('GET', `/api/v1/actions/${againAction}/sensitive/reads`)).json.items,
    ).toEqual([]);
  });
});
