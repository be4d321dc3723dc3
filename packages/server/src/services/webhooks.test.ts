import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import type { ServerConfig } from '../config';
import { createLogger } from '../logger';
import { startTestServer, type TestServer } from '../test-fixtures/harness';
import { LiveEvents } from './events';
import { defaultRetrySchedule, type WebhookOptions, WebhookService } from './webhooks';

interface Receiver {
  url: string;
  requests: { headers: IncomingMessage['headers']; body: string; at: number }[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

type Answer =
  | number
  | 'hang'
  | { status: number; headers: Record<string, string>; delayMs?: number };

async function receiver(answer: (index: number) => Answer): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server: Server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const index = requests.length;
      requests.push({
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
        at: Date.now(),
      });
      const reply = answer(index);
      if (reply === 'hang') return;
      const { status, headers, delayMs } =
        typeof reply === 'number' ? { status: reply, headers: {}, delayMs: 0 } : reply;
      setTimeout(
        () =>
          response.writeHead(status, { 'content-type': 'application/json', ...headers }).end('{}'),
        delayMs ?? 0,
      );
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
  webhooks: WebhookOptions,
  config: ServerConfig = {},
): Promise<TestServer> {
  const t = await startTestServer(
    { ...config, webhooks: { pollIntervalMs: 20, ...webhooks } },
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
    const t = await serverWith(hook.url, { retrySchedule: [20, 40, 40] });
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'delivered');
    const attempts = await t.server.store.webhooks.attempts(id);
    expect(attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500, 200]);
    expect(attempts[0]?.error).toMatch(/HTTP 500/);
    const eventIds = new Set(hook.requests.map((request) => request.headers['x-arden-event-id']));
    expect(eventIds.size).toBe(1);
  });

  test('a receiver that does not answer times out; after the last scheduled retry the delivery is failed', async () => {
    const hook = await receiver(() => 'hang');
    const t = await serverWith(hook.url, { timeoutMs: 150, retrySchedule: [10, 20] });
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'failed');
    const attempts = await t.server.store.webhooks.attempts(id);
    expect(attempts).toHaveLength(3);
    for (const attempt of attempts) {
      expect(attempt.error).toMatch(/no answer within 150 ms/);
      expect(attempt.durationMs).toBeGreaterThanOrEqual(140);
      expect(attempt.durationMs).toBeLessThan(2_000);
    }
    expect(hook.requests).toHaveLength(3);
  });

  test('the default time limit is 15 s, the lease outlives it, and the schedule reaches 3 days', () => {
    const logger = createLogger('silent');
    const store = {} as never;
    const worker = new WebhookService(store, new LiveEvents(logger), logger, { random: () => 0 });
    expect((worker as unknown as { options: { timeoutMs: number } }).options.timeoutMs).toBe(
      15_000,
    );
    expect(defaultRetrySchedule.reduce((sum, delay) => sum + delay, 0)).toBeGreaterThanOrEqual(
      3 * 24 * 3_600_000,
    );
    expect(
      () =>
        new WebhookService(store, new LiveEvents(logger), logger, {
          timeoutMs: 15_000,
          leaseMs: 10_000,
        }),
    ).toThrow(/leaseMs .* must be longer than webhooks.timeoutMs/);
  });

  test('a redirect is a failure and is not followed', async () => {
    const target = await receiver(() => 200);
    const hook = await receiver(() => ({ status: 302, headers: { location: target.url } }));
    const t = await serverWith(hook.url, { retrySchedule: [] });
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'failed');
    const [attempt] = await t.server.store.webhooks.attempts(id);
    expect(attempt?.statusCode).toBe(302);
    expect(attempt?.error).toMatch(/redirect.*not followed/);
    expect(target.requests).toHaveLength(0);
  });

  test('429 and 503 are not retried before their Retry-After', async () => {
    const hook = await receiver((index) =>
      index === 0
        ? { status: 503, headers: { 'retry-after': '1' } }
        : index === 1
          ? { status: 429, headers: { 'retry-after': '1' } }
          : 200,
    );
    const t = await serverWith(hook.url, { retrySchedule: [10, 10, 10] });
    const id = await approveOne(t);
    await until(
      async () => (await t.server.store.webhooks.get(id))?.status === 'delivered',
      10_000,
    );
    expect(hook.requests).toHaveLength(3);
    const [first, second, third] = hook.requests.map((request) => request.at) as number[];
    expect((second as number) - (first as number)).toBeGreaterThanOrEqual(950);
    expect((third as number) - (second as number)).toBeGreaterThanOrEqual(950);
  });

  test('410 Gone disables the endpoint: nothing more is sent until an admin enables it', async () => {
    const hook = await receiver((index) => (index === 0 ? 410 : 200));
    const t = await serverWith(hook.url, { retrySchedule: [10, 10] });
    const first = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(first))?.status === 'failed');
    const agent = await t.server.store.agents.get(t.agent.id);
    expect(agent?.webhookDisabledAt).toEqual(expect.any(Number));
    expect(agent?.webhookDisabledReason).toMatch(/410 Gone/);
    expect((await t.server.store.webhooks.attempts(first)).map((a) => a.statusCode)).toEqual([410]);

    // A later decision is recorded, failed without being sent.
    const second = await approveOne(t);
    const skipped = await t.server.store.webhooks.get(second);
    expect(skipped).toMatchObject({ status: 'failed', attempts: 0 });
    expect(skipped?.lastError).toMatch(/endpoint is disabled.*enable it, then redeliver/);
    await expect(t.server.webhooks.redeliver(second)).rejects.toMatchObject({ status: 409 });
    expect(hook.requests).toHaveLength(1);

    await t.server.webhooks.enableEndpoint(t.agent.id);
    expect((await t.server.store.agents.get(t.agent.id))?.webhookDisabledAt).toBeNull();
    await t.server.webhooks.redeliver(second);
    await until(async () => (await t.server.store.webhooks.get(second))?.status === 'delivered');
    expect(hook.requests.map((request) => request.headers['x-arden-event-id'])).toEqual([
      (await t.server.store.webhooks.get(first))?.eventId,
      skipped?.eventId,
    ]);
  });

  test('a retry goes to the URL the agent has when it is sent, and is signed with its current key', async () => {
    const old = await receiver(() => 500);
    const fixed = await receiver(() => 200);
    const t = await serverWith(old.url, { retrySchedule: [300] });
    const id = await approveOne(t);
    await until(async () => old.requests.length === 1);
    await t.server.agents.updateAgent(t.agent.id, { webhookUrl: fixed.url });
    const rotated = await t.server.agents.rotateSigningKey(t.agent.id);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'delivered');
    expect(old.requests).toHaveLength(1);
    expect(fixed.requests).toHaveLength(1);
    expect((await t.server.store.webhooks.get(id))?.url).toBe(fixed.url);
    const request = fixed.requests[0];
    expect(
      await verifyWebhookSignature(
        request?.body as string,
        request?.headers['x-arden-timestamp'] as string,
        request?.headers['x-arden-signature'] as string,
        rotated.signingKey,
      ),
    ).toBe(true);
    expect(request?.headers['x-arden-event-id']).toBe(old.requests[0]?.headers['x-arden-event-id']);
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

  test('three workers never send one delivery twice (leases)', async () => {
    const hook = await receiver(() => ({ status: 200, headers: {}, delayMs: 30 }));
    const t = await serverWith(hook.url, { pollIntervalMs: 60_000 });
    await t.server.webhooks.stop();
    for (let index = 0; index < 20; index++) await approveOne(t);
    const logger = createLogger('silent');
    const workers = [0, 1, 2].map(
      () =>
        new WebhookService(t.server.store, new LiveEvents(logger), logger, {
          batchSize: 5,
          allowPrivate: true,
        }),
    );
    // Each worker claims and sends in a loop, all at once, until nothing is left.
    await Promise.all(
      workers.map(async (worker) => {
        for (let idle = 0; idle < 3; ) {
          if ((await worker.runOnce()) === 0) idle++;
        }
      }),
    );
    const byEvent = new Map<string, number>();
    for (const request of hook.requests) {
      const event = request.headers['x-arden-event-id'] as string;
      byEvent.set(event, (byEvent.get(event) ?? 0) + 1);
    }
    expect(byEvent.size).toBe(20);
    expect([...byEvent.values()].every((count) => count === 1)).toBe(true);
  });
});

// The schedule over days, under a fake clock: the worker is driven by hand, its clock jumps to
// each delivery's next attempt, and its sender records when it was called.
describe('webhook schedule (fake clock)', () => {
  interface Harness {
    t: TestServer;
    worker: WebhookService;
    sent: { at: number; eventId: string; url: string }[];
    now: { value: number };
  }

  async function fakeClock(
    answer: (index: number) => { status: number; headers?: Record<string, string> },
    options: WebhookOptions = {},
  ): Promise<Harness> {
    const t = await startTestServer(
      { workers: false },
      {
        agent: {
          webhookUrl: 'https://hooks.example.com/arden',
          defaultAction: 'requires_approval',
        },
      },
    );
    cleanups.push(() => t.close());
    const logger = createLogger('silent');
    const now = { value: Date.now() };
    const sent: Harness['sent'] = [];
    const worker = new WebhookService(t.server.store, new LiveEvents(logger), logger, {
      clock: () => now.value,
      send: async (request) => {
        const reply = answer(sent.length);
        sent.push({
          at: now.value,
          eventId: request.headers['x-arden-event-id'] as string,
          url: request.url,
        });
        return { status: reply.status, headers: reply.headers ?? {}, body: '' };
      },
      ...options,
    });
    return { t, worker, sent, now };
  }

  // Runs the worker at each due time until the delivery is settled for good.
  async function driveToEnd(harness: Harness, id: string): Promise<void> {
    for (let round = 0; round < 100; round++) {
      await harness.worker.runOnce();
      const delivery = await harness.t.server.store.webhooks.get(id);
      if (delivery?.status !== 'pending') return;
      harness.now.value = Math.max(harness.now.value, delivery.nextAttemptAt);
    }
    throw new Error('the delivery never settled');
  }

  test('immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h with 0–20 % jitter: over 3 days, one event id', async () => {
    for (const random of [() => 0, () => 0.999_999]) {
      const harness = await fakeClock(() => ({ status: 500 }), { random });
      const id = await approveOne(harness.t);
      const created = (await harness.t.server.store.webhooks.get(id))?.createdAt as number;
      harness.now.value = created;
      await driveToEnd(harness, id);
      const gaps = harness.sent
        .slice(1)
        .map((send, index) => send.at - (harness.sent[index]?.at as number));
      expect(harness.sent).toHaveLength(defaultRetrySchedule.length + 1);
      expect(harness.sent[0]?.at).toBe(created);
      for (const [index, gap] of gaps.entries()) {
        const planned = defaultRetrySchedule[index] as number;
        expect(gap).toBeGreaterThanOrEqual(planned);
        expect(gap).toBeLessThanOrEqual(Math.round(planned * 1.2));
      }
      const span = (harness.sent.at(-1)?.at as number) - created;
      expect(span).toBeGreaterThanOrEqual(3 * 24 * 3_600_000);
      expect(new Set(harness.sent.map((send) => send.eventId)).size).toBe(1);
      const delivery = await harness.t.server.store.webhooks.get(id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 11 - 1 });
      expect(await harness.t.server.store.webhooks.attempts(id)).toHaveLength(10);
    }
  });

  test('Retry-After of a 429/503 postpones the next attempt (up to 24 h); a shorter one does not hasten it', async () => {
    const harness = await fakeClock(
      (index) =>
        index === 0
          ? { status: 503, headers: { 'retry-after': '3600' } }
          : index === 1
            ? { status: 429, headers: { 'retry-after': '1' } }
            : index === 2
              ? { status: 429, headers: { 'retry-after': String(3 * 24 * 3600) } }
              : { status: 200 },
      { random: () => 0 },
    );
    const id = await approveOne(harness.t);
    harness.now.value = (await harness.t.server.store.webhooks.get(id))?.createdAt as number;
    await driveToEnd(harness, id);
    const [a, b, c, d] = harness.sent.map((send) => send.at) as number[];
    expect((b as number) - (a as number)).toBe(3_600_000); // Retry-After over the 5 s step
    expect((c as number) - (b as number)).toBe(5 * 60_000); // the 5 min step, not 1 s
    expect((d as number) - (c as number)).toBe(24 * 3_600_000); // capped at 24 h
    expect((await harness.t.server.store.webhooks.get(id))?.status).toBe('delivered');
  });

  test('an endpoint whose deliveries all fail for 5 days is disabled, and the admin view says so', async () => {
    const harness = await fakeClock(() => ({ status: 500 }), { random: () => 0 });
    const start = Date.now();
    const ids: string[] = [];
    // A decision every 12 hours, each delivery failing.
    for (let day = 0; day < 6 * 2; day++) {
      harness.now.value = start + day * 12 * 3_600_000;
      ids.push(await approveOne(harness.t));
      // Run everything due by now (the new delivery, and retries of older ones).
      for (let round = 0; round < 20; round++) {
        if ((await harness.worker.runOnce()) === 0) break;
      }
      const due = (
        await harness.t.server.store.webhooks.list({
          agentId: harness.t.agent.id,
          status: 'pending',
        })
      ).items;
      for (const delivery of due) {
        if (delivery.nextAttemptAt <= harness.now.value) await harness.worker.runOnce();
      }
    }
    const agent = await harness.t.server.store.agents.get(harness.t.agent.id);
    expect(agent?.webhookDisabledAt).toEqual(expect.any(Number));
    expect(agent?.webhookDisabledReason).toMatch(/every delivery failed for 5 days/);
    expect((agent?.webhookDisabledAt as number) - start).toBeGreaterThanOrEqual(5 * 24 * 3_600_000);
    const { agentView } = await import('../admin/serialize');
    expect(agentView(agent as NonNullable<typeof agent>)).toMatchObject({
      webhook_status: 'disabled',
      webhook_disabled_reason: expect.stringMatching(/failed for 5 days/),
    });
    // Nothing is sent any more: the pending deliveries fail without an attempt.
    const before = harness.sent.length;
    harness.now.value += 30 * 24 * 3_600_000;
    for (let round = 0; round < 5; round++) await harness.worker.runOnce();
    expect(harness.sent.length).toBe(before);
    const pending = await harness.t.server.store.webhooks.list({
      agentId: harness.t.agent.id,
      status: 'pending',
    });
    expect(pending.items).toHaveLength(0);
  });

  test('a success clears the failures: the endpoint is active again', async () => {
    const harness = await fakeClock((index) => ({ status: index < 2 ? 500 : 200 }), {
      random: () => 0,
    });
    const id = await approveOne(harness.t);
    harness.now.value = (await harness.t.server.store.webhooks.get(id))?.createdAt as number;
    await harness.worker.runOnce();
    expect((await harness.t.server.store.agents.get(harness.t.agent.id))?.webhookFailingSince).toBe(
      harness.now.value,
    );
    await driveToEnd(harness, id);
    expect(
      (await harness.t.server.store.agents.get(harness.t.agent.id))?.webhookFailingSince,
    ).toBeNull();
  });

  test('a worker that dies holding a lease: another takes the delivery over when the lease runs out', async () => {
    const harness = await fakeClock(() => ({ status: 200 }), { leaseMs: 30_000 });
    const id = await approveOne(harness.t);
    const logger = createLogger('silent');
    const start = Date.now();
    // The dead worker claimed it and will never settle it.
    const claimed = await harness.t.server.store.webhooks.claimDue(
      'dead-worker',
      start,
      30_000,
      10,
    );
    expect(claimed.map((delivery) => delivery.id)).toEqual([id]);
    harness.now.value = start + 29_000;
    expect(await harness.worker.runOnce()).toBe(0);
    harness.now.value = start + 30_000;
    expect(await harness.worker.runOnce()).toBe(1);
    expect(harness.sent).toHaveLength(1);
    expect((await harness.t.server.store.webhooks.get(id))?.status).toBe('delivered');
    // The dead worker's late settle (if it came back) changes nothing.
    expect(
      await harness.t.server.store.webhooks.settle(id, 'dead-worker', {
        status: 'failed',
        attempts: 9,
        nextAttemptAt: start,
        lastStatus: 500,
        lastError: 'late',
        deliveredAt: null,
      }),
    ).toBe(false);
    void logger;
  });
});

describe('SSRF protection', () => {
  test('private, loopback, link-local, metadata and mapped addresses are recognised', async () => {
    const { forbiddenAddressReason } = await import('./ssrf');
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a9fe:a9fe',
      '2002:a9fe:a9fe::1',
      '224.0.0.1',
    ]) {
      expect(forbiddenAddressReason(address), address).toBeDefined();
    }
    for (const address of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(forbiddenAddressReason(address), address).toBeUndefined();
    }
    expect(forbiddenAddressReason('169.254.169.254')).toMatch(/metadata/);
  });

  test('refused when saved: literal addresses and names that resolve to them; allowed by config', async () => {
    const strict = await startTestServer({ webhooks: { allowPrivate: false } });
    cleanups.push(() => strict.close());
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://10.0.0.5/hook',
    ]) {
      await expect(
        strict.server.agents.updateAgent(strict.agent.id, { webhookUrl: url }),
        url,
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/ARDEN_WEBHOOK_ALLOW_PRIVATE/),
      });
      await expect(
        strict.server.agents.createAgent({
          name: `x-${Math.random().toString(36).slice(2)}`,
          webhookUrl: url,
        }),
      ).rejects.toMatchObject({ status: 400 });
    }
    // A public address, and a name that does not resolve (yet), are accepted.
    await strict.server.agents.updateAgent(strict.agent.id, {
      webhookUrl: 'https://93.184.216.34/hook',
    });
    await strict.server.agents.updateAgent(strict.agent.id, {
      webhookUrl: 'https://does-not-exist.invalid/hook',
    });

    const listed = await startTestServer({
      webhooks: { allowPrivate: false, allowedHosts: ['127.0.0.1', 'localhost', '10.0.0.0/8'] },
    });
    cleanups.push(() => listed.close());
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://10.0.0.5/x',
    ]) {
      await listed.server.agents.updateAgent(listed.agent.id, { webhookUrl: url });
    }
    await expect(
      listed.server.agents.updateAgent(listed.agent.id, { webhookUrl: 'http://192.168.0.1/x' }),
    ).rejects.toMatchObject({ status: 400 });
  });

  test('refused when sent: the address is checked again at every attempt, on the address connected to', async () => {
    const hook = await receiver(() => 200);
    const t = await startTestServer(
      { webhooks: { pollIntervalMs: 20, allowPrivate: false, retrySchedule: [] } },
      { agent: { defaultAction: 'requires_approval' } },
    );
    cleanups.push(() => t.close());
    // The URL got in while private addresses were allowed (or its name pointed elsewhere).
    await t.server.store.agents.update(t.agent.id, { webhookUrl: hook.url }, Date.now());
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'failed');
    const [attempt] = await t.server.store.webhooks.attempts(id);
    expect(attempt?.statusCode).toBeNull();
    expect(attempt?.error).toMatch(/webhooks may not be sent to 127\.0\.0\.1.*loopback/);
    expect(hook.requests).toHaveLength(0);
  });

  test('DNS rebinding: a name that resolved to a public address at save time and to a private one at send time is refused', async () => {
    const { createWebhookSender } = await import('./webhook-sender');
    const { checkWebhookUrl } = await import('./ssrf');
    const hook = await receiver(() => 200);
    const port = new URL(hook.url).port;
    let answers = 0;
    const resolver = async () => {
      answers++;
      return answers === 1
        ? [{ address: '93.184.216.34', family: 4 }]
        : [{ address: '127.0.0.1', family: 4 }];
    };
    const url = `http://rebind.example:${port}/hook`;
    await checkWebhookUrl(url, {}, resolver);
    const send = createWebhookSender({}, { resolver });
    await expect(send({ url, headers: {}, body: '{}', timeoutMs: 2_000 })).rejects.toMatchObject({
      kind: 'forbidden_address',
      message: expect.stringMatching(/rebind\.example \(127\.0\.0\.1\).*loopback/),
    });
    expect(hook.requests).toHaveLength(0);
    // Allowed by name, the same lookup connects.
    const allowed = createWebhookSender({ allowedHosts: ['rebind.example'] }, { resolver });
    expect((await allowed({ url, headers: {}, body: '{}', timeoutMs: 2_000 })).status).toBe(200);
    expect(hook.requests).toHaveLength(1);
  });
});
