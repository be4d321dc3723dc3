import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import { createLogger } from '../logger';
import { startTestServer, type TestServer } from '../test-fixtures/harness';
import { LiveEvents } from './events';
import { WebhookService } from './webhooks';

interface Receiver {
  url: string;
  requests: { headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function receiver(answer: (index: number) => number | 'hang'): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server: Server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const index = requests.length;
      requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString() });
      const status = answer(index);
      if (status === 'hang') return;
      response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const result = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  cleanups.push(result.close);
  return result;
}

async function serverWith(
  webhookUrl: string,
  webhooks: Record<string, number>,
): Promise<TestServer> {
  const t = await startTestServer(
    { webhooks: { pollIntervalMs: 20, ...webhooks } },
    { agent: { webhookUrl, defaultAction: 'requires_approval' } },
  );
  cleanups.push(() => t.close());
  return t;
}

async function approveOne(t: TestServer): Promise<string> {
  const held = await t.request('POST', '/policy/check', {
    body: {
      tool_name: 'payments.pay',
      args: ['positional'],
      kwargs: { amount: 5 },
      metadata: null,
    },
  });
  await t.server.approvals.decide(held.json.action_id, {
    decision: 'approve',
    userId: 'alice',
    notes: 'ok',
  });
  const [delivery] = (await t.server.store.webhooks.list({ actionId: held.json.action_id })).items;
  return delivery?.id as string;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('webhook outbox', () => {
  test('signed per SPEC §3, verifiable with @arden/core', async () => {
    const hook = await receiver(() => 200);
    const t = await serverWith(hook.url, {});
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'delivered');
    const [request] = hook.requests;
    expect(request?.headers['content-type']).toBe('application/json');
    const timestamp = request?.headers['x-arden-timestamp'] as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(5);
    expect(
      await verifyWebhookSignature(
        request?.body as string,
        timestamp,
        request?.headers['x-arden-signature'] as string,
        t.agent.signingKey,
      ),
    ).toBe(true);
    expect(
      await verifyWebhookSignature(
        request?.body as string,
        timestamp,
        request?.headers['x-arden-signature'] as string,
        'wrong',
      ),
    ).toBe(false);
    const body = JSON.parse(request?.body as string);
    expect(body).toMatchObject({
      event_type: 'action_approved',
      action: {
        tool_name: 'payments.pay',
        agent_id: t.agent.id,
        context: { amount: 5 },
        args: ['positional'],
        environment: 'live',
        status: 'approved',
      },
      approval: { admin_user_id: 'alice', notes: 'ok' },
    });
    expect(body.action.created_at).toMatch(/Z$/);
  });

  test('failures are retried with backoff; every attempt is recorded', async () => {
    const hook = await receiver((index) => (index < 2 ? 500 : 200));
    const t = await serverWith(hook.url, { baseDelayMs: 20, maxDelayMs: 50 });
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'delivered');
    const attempts = await t.server.store.webhooks.attempts(id);
    expect(attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500, 200]);
    expect(attempts[0]?.error).toMatch(/HTTP 500/);
    const eventIds = new Set(hook.requests.map((request) => request.headers['x-arden-event-id']));
    expect(eventIds.size).toBe(1);
  });

  test('a receiver that does not answer times out; after maxAge the delivery is failed', async () => {
    const hook = await receiver(() => 'hang');
    const t = await serverWith(hook.url, {
      timeoutMs: 150,
      baseDelayMs: 10,
      maxDelayMs: 20,
      maxAgeMs: 300,
    });
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'failed');
    const attempts = await t.server.store.webhooks.attempts(id);
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts[0]?.error).toMatch(/no answer within 150 ms/);
  });

  test('redeliver sends the same event again', async () => {
    const hook = await receiver(() => 200);
    const t = await serverWith(hook.url, {});
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'delivered');
    await t.server.webhooks.redeliver(id);
    await until(async () => hook.requests.length === 2);
    await until(async () => (await t.server.store.webhooks.attempts(id)).length === 2);
    expect(hook.requests[0]?.headers['x-arden-event-id']).toBe(
      hook.requests[1]?.headers['x-arden-event-id'],
    );
    await expect(t.server.webhooks.redeliver('nope')).rejects.toMatchObject({ status: 404 });
  });

  test('two workers never send one delivery twice (leases)', async () => {
    const hook = await receiver(() => 200);
    const t = await serverWith(hook.url, { pollIntervalMs: 60_000 });
    await t.server.webhooks.stop();
    for (let index = 0; index < 20; index++) await approveOne(t);
    const logger = createLogger('silent');
    const workers = [0, 1, 2].map(
      () => new WebhookService(t.server.store, new LiveEvents(logger), logger, { batchSize: 5 }),
    );
    for (let round = 0; round < 6; round++)
      await Promise.all(workers.map((worker) => worker.runOnce()));
    const byEvent = new Map<string, number>();
    for (const request of hook.requests) {
      const event = request.headers['x-arden-event-id'] as string;
      byEvent.set(event, (byEvent.get(event) ?? 0) + 1);
    }
    expect(byEvent.size).toBe(20);
    expect([...byEvent.values()].every((count) => count === 1)).toBe(true);
  });
});
