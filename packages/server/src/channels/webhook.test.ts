import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signWebhookPayload, verifyWebhookSignature } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import { startAdminTestServer } from '../admin/test-support';
import { secretsKey, until } from './test-support';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}, 60_000);

describe('approver webhook channel', { timeout: 120_000 }, () => {
  test('a signed POST per held call (agent default targets), decided through its callback URL once', async () => {
    const received: { headers: Record<string, unknown>; body: string }[] = [];
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks).toString() });
        response.writeHead(received.length === 1 ? 503 : 200, { 'retry-after': '0' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

    const t = await startAdminTestServer({
      channels: { secretsKey, pollIntervalMs: 25, retrySchedule: [10] },
    });
    cleanups.push(() => t.close());
    const created = await t.admin('POST', '/api/v1/channels', {
      body: { name: 'pager', kind: 'webhook', config: { url } },
    });
    expect(created.status).toBe(201);
    const key = created.json.secrets.signing_key as string;
    expect(key).toMatch(/^whsec_/);
    const again = await t.admin('GET', '/api/v1/channels/pager');
    expect(again.text).not.toContain(key);

    const defaults = await t.admin('PUT', `/api/v1/agents/${t.agent.id}/channel-defaults`, {
      body: { notify: ['webhook:pager'] },
    });
    expect(defaults.status).toBe(200);
    const bad = await t.admin('PUT', `/api/v1/agents/${t.agent.id}/channel-defaults`, {
      body: { notify: ['pager'] },
    });
    expect(bad.status).toBe(400);
    await t.server.policies.saveSet(t.agent.id, 'live', [
      { name: 'Deploys', tool: 'deploy', action: 'requires_approval' },
    ]);
    const held = await t.request('POST', '/policy/check', {
      raw: '{"tool_name": "deploy", "kwargs": {"env":"prod","n":12345678901234567890}}',
      headers: { 'content-type': 'application/json' },
    });
    const actionId = held.json.action_id as string;
    // The first answer is a 503: retried, and both attempts are on the action's page.
    await until(() => received.length === 2);
    const [first, second] = received;
    expect(second?.headers['x-arden-event-id']).toBe(first?.headers['x-arden-event-id']);
    const body = second?.body as string;
    expect(
      await verifyWebhookSignature(
        body,
        second?.headers['x-arden-timestamp'] as string,
        second?.headers['x-arden-signature'] as string,
        key,
      ),
    ).toBe(true);
    expect(body).toContain('"context":{"env":"prod","n":12345678901234567890}');
    const payload = JSON.parse(body);
    expect(payload).toMatchObject({
      event_type: 'approval_requested',
      action: { action_id: actionId },
    });
    await until(async () => {
      const page = await t.admin('GET', `/api/v1/actions/${actionId}/channel-messages`);
      return page.json.items[0]?.status === 'delivered';
    });
    const page = await t.admin('GET', `/api/v1/actions/${actionId}/channel-messages`);
    expect(page.json.items[0].attempt_log.map((a: any) => a.status_code)).toEqual([503, 200]);

    const decide = async (decision: unknown, signingKey = key) => {
      const text = JSON.stringify(decision);
      const timestamp = Math.floor(Date.now() / 1000);
      return fetch(payload.decision_url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-arden-timestamp': String(timestamp),
          'x-arden-signature': await signWebhookPayload(text, timestamp, signingKey),
        },
        body: text,
      });
    };
    expect(
      (await decide({ decision: 'approve', approver: 'approver@example.com' }, 'wrong')).status,
    ).toBe(401);
    expect((await decide({ decision: 'approve', approver: 'viewer@example.com' })).status).toBe(
      403,
    );
    const approved = await decide({
      decision: 'approve',
      approver: 'approver@example.com',
      notes: 'paged and fine',
    });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toEqual({ action_id: actionId, status: 'approved' });
    expect((await decide({ decision: 'deny', approver: 'admin@example.com' })).status).toBe(409);
    expect(await t.server.store.actions.get(actionId)).toMatchObject({
      status: 'approved',
      notes: 'paged and fine',
    });

    // Re-sendable from the action's page.
    const resent = await t.admin(
      'POST',
      `/api/v1/channel-messages/${page.json.items[0].id}/resend`,
      {
        as: 'approver',
      },
    );
    expect(resent.status).toBe(200);
  });
});
