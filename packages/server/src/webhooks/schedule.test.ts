import { afterEach, describe, expect, test } from 'vitest';
import { LiveEvents } from '../events/service';
import { createLogger } from '../logger';
import { startTestServer, type TestServer } from '../test-fixtures/harness';
import { approveOne, onCleanup, runCleanups } from '../test-fixtures/webhooks';
import { defaultRetrySchedule, type WebhookOptions, WebhookService } from './service';

afterEach(runCleanups);

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
    onCleanup(() => t.close());
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
