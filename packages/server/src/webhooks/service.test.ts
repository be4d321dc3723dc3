import { verifyWebhookSignature } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import { LiveEvents } from '../events/service';
import { createLogger } from '../logger';
import { approveOne, receiver, runCleanups, serverWith, until } from '../test-fixtures/webhooks';
import { defaultRetrySchedule, WebhookService } from './service';

afterEach(runCleanups);

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
