// The admin side of a webhook endpoint that stopped working: the agent's JSON says it is
// disabled and why, redelivery is refused until it is enabled, and enabling it works.
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from './test-support';

let t: AdminTestServer;
let answer = 410;
const received: string[] = [];
const receiver = createHttpServer((request, response) => {
  request.resume();
  request.on('end', () => {
    received.push(String(request.headers['x-arden-event-id']));
    response.writeHead(answer).end();
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t = await startAdminTestServer(
    { webhooks: { pollIntervalMs: 20, allowPrivate: true } },
    { listen: false },
  );
});

afterAll(async () => {
  await t.close();
  await new Promise((resolve) => receiver.close(resolve));
});

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a disabled webhook endpoint', () => {
  test('410 Gone: shown disabled with the reason; redelivery refused until enabled', async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const saved = await t.admin('PATCH', `/api/v1/agents/${t.agent.id}`, {
      body: { webhook_url: url, default_action: 'requires_approval' },
    });
    expect(saved.json).toMatchObject({ webhook_status: 'active', webhook_disabled_at: null });
    const held = await t.request('POST', '/policy/check', { body: { tool_name: 'x.y' } });
    await t.admin('POST', `/api/v1/approvals/${held.json.action_id}/approve`, { body: {} });
    const agent = await until(
      async () => (await t.admin('GET', `/api/v1/agents/${t.agent.id}`, { as: 'viewer' })).json,
      (json) => json.webhook_status === 'disabled',
    );
    expect(agent.webhook_disabled_reason).toMatch(/410 Gone/);
    expect(Date.parse(agent.webhook_disabled_at)).toBeGreaterThan(0);

    const [delivery] = (
      await t.admin('GET', `/api/v1/agents/${t.agent.id}/deliveries`, { as: 'viewer' })
    ).json.items;
    expect(delivery).toMatchObject({ status: 'failed', last_status: 410 });
    const refused = await t.admin('POST', `/api/v1/deliveries/${delivery.id}/redeliver`);
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatch(/disabled.*webhook\/enable/);

    expect(
      (await t.admin('POST', `/api/v1/agents/${t.agent.id}/webhook/enable`, { as: 'approver' }))
        .status,
    ).toBe(403);
    answer = 200;
    const enabled = await t.admin('POST', `/api/v1/agents/${t.agent.id}/webhook/enable`);
    expect(enabled.status).toBe(200);
    expect(enabled.json).toMatchObject({ webhook_status: 'active', webhook_disabled_reason: null });
    expect((await t.admin('POST', `/api/v1/deliveries/${delivery.id}/redeliver`)).status).toBe(200);
    await until(
      async () => (await t.admin('GET', `/api/v1/deliveries/${delivery.id}`)).json.status,
      (status) => status === 'delivered',
    );
    expect(received).toEqual([delivery.event_id, delivery.event_id]);
  });

  test('a private webhook URL is refused when saved, naming the setting that allows it', async () => {
    const strict = await startAdminTestServer(
      { webhooks: { allowPrivate: false } },
      { listen: false },
    );
    try {
      const refused = await strict.admin('PATCH', `/api/v1/agents/${strict.agent.id}`, {
        body: { webhook_url: 'http://169.254.169.254/latest/meta-data/' },
      });
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatch(/link-local.*ARDEN_WEBHOOK_ALLOW_PRIVATE/);
    } finally {
      await strict.close();
    }
  });
});
