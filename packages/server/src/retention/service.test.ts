import { afterEach, describe, expect, test } from 'vitest';
import { resolveConfig } from '../config';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { SqlValue } from '../store';
import { startTestServer, type TestServer } from '../test-fixtures/harness';
import { describeRetention, RetentionService } from './service';

const servers: TestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

const day = 86_400_000;

async function seedActions(
  t: TestServer,
  count: number,
  createdAt: number,
  status = 'completed',
): Promise<void> {
  for (let offset = 0; offset < count; offset += 400) {
    const rows = Math.min(400, count - offset);
    const params: SqlValue[] = [];
    for (let index = 0; index < rows; index++) {
      const at = createdAt + offset + index;
      params.push(
        uuidv7(at),
        t.agent.id,
        'live',
        'old.tool',
        '[]',
        '{}',
        status === 'pending' ? 'requires_approval' : 'allow',
        status,
        at,
      );
    }
    await t.server.store.database.run(
      `INSERT INTO actions (id, agent_id, environment, tool_name, args, kwargs, decision, status,
         created_at) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      params,
    );
  }
}

async function seedUsage(t: TestServer, count: number, createdAt: number): Promise<void> {
  for (let offset = 0; offset < count; offset += 500) {
    const rows = Math.min(500, count - offset);
    const params: SqlValue[] = [];
    for (let index = 0; index < rows; index++) {
      params.push(uuidv7(), t.agent.id, 'live', 'gpt-4o', 1, 1, 0.01, 1, createdAt + index);
    }
    await t.server.store.database.run(
      `INSERT INTO usage (id, agent_id, environment, model, prompt_tokens, completion_tokens,
         cost_usd, rate_found, created_at) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      params,
    );
  }
}

async function seedDelivery(t: TestServer, createdAt: number, status: 'delivered' | 'pending') {
  const id = uuidv7(createdAt);
  await t.server.store.webhooks.enqueue({
    id,
    eventId: `evt_${id}`,
    agentId: t.agent.id,
    actionId: null,
    eventType: 'action_approved',
    url: 'https://hooks.example.com/x',
    payload: '{}',
    status,
    attempts: 1,
    nextAttemptAt: createdAt,
    createdAt,
  });
  await t.server.store.webhooks.recordAttempt({
    id: uuidv7(createdAt),
    outboxId: id,
    attempt: 1,
    statusCode: 200,
    error: null,
    durationMs: 1,
    at: createdAt,
  });
  return id;
}

describe('retention', () => {
  test('deletes actions, usage and settled deliveries older than the age, in small batches, while checks keep flowing', async () => {
    const t = await startTestServer({
      workers: false,
      retentionDays: 30,
      retention: { batchSize: 500, pauseMs: 5 },
    });
    servers.push(t);
    const now = Date.now();
    const old = now - 40 * day;
    await seedActions(t, 6_000, old);
    await seedActions(t, 3, old, 'pending');
    await seedActions(t, 50, now - 10 * day);
    await seedUsage(t, 4_000, old);
    await seedUsage(t, 20, now - day);
    await t.server.store.transaction((repositories) => repositories.usage.rebuildDaily());
    expect((await t.server.store.usage.totals()).events).toBe(4_020);
    const oldDelivered = await seedDelivery(t, old, 'delivered');
    const oldPending = await seedDelivery(t, old, 'pending');
    const recentDelivered = await seedDelivery(t, now - day, 'delivered');

    // Count the batches.
    let batches = 0;
    const purge = t.server.store.actions.purgeOlderThan;
    t.server.store.actions.purgeOlderThan = async (cutoff, limit) => {
      batches++;
      return purge.call(t.server.store.actions, cutoff, limit);
    };

    // Checks sent all along the purge: each answered, none held up for long.
    let purging = true;
    const latencies: number[] = [];
    // The batch count when each check was answered: answers between batches show the purge
    // gives the store back between its batches rather than holding it for the whole purge.
    const answeredAtBatch: number[] = [];
    const checks = (async () => {
      while (purging) {
        const started = performance.now();
        const response = await t.request('POST', '/policy/check', {
          body: { tool_name: 'live.tool' },
        });
        latencies.push(performance.now() - started);
        answeredAtBatch.push(batches);
        expect(response.status).toBe(200);
      }
    })();
    const purgeStarted = performance.now();
    const result = await t.server.retention.runOnce();
    const purgeMs = performance.now() - purgeStarted;
    purging = false;
    await checks;
    console.info(
      `retention: ${result.actions + result.usage} rows in ${batches} action batches, ${purgeMs.toFixed(0)} ms; ${latencies.length} checks meanwhile, slowest ${Math.max(...latencies).toFixed(1)} ms`,
    );

    expect(result).toEqual({
      // One daily total; the session totals' row for the model and for every model.
      usageDaily: 3,
      actions: 6_000,
      usage: 4_000,
      deliveries: 1,
      attempts: 1,
      channelMessages: 0,
      channelAttempts: 0,
      channelLinks: 0,
      channelHolds: 0,
      // With receipts on (the embedded store makes their secret), none is old enough to go.
      ...(result.receipts === undefined ? {} : { receipts: 0 }),
    });
    expect(batches).toBeGreaterThanOrEqual(12);
    expect(latencies.length).toBeGreaterThan(1);
    // Checks were answered while the purge was under way, between its batches…
    const midPurge = answeredAtBatch.filter((at) => at >= 1 && at < batches);
    expect(midPurge.length, `answered at batches ${answeredAtBatch.join(',')}`).toBeGreaterThan(0);
    // …and none waited anything like a whole purge (a generous bound: the machines are shared;
    // the purge's pace is measured in bench/, not here).
    expect(Math.max(...latencies)).toBeLessThan(Math.max(2_000, purgeMs / 2));
    const remaining = await t.server.store.database.all<{ status: string; n: number }>(
      'SELECT status, COUNT(*) AS n FROM actions WHERE created_at < ? GROUP BY status',
      [now - 30 * day],
    );
    expect(remaining.map((row) => [row.status, Number(row.n)])).toEqual([['pending', 3]]);
    expect(await t.server.store.actions.count({ tool: 'old.tool' })).toBe(53);
    // The daily totals of the purged days went with them.
    expect((await t.server.store.usage.totals()).events).toBe(20);
    expect((await t.server.store.usage.totalsRaw()).events).toBe(20);
    expect(await t.server.store.webhooks.get(oldDelivered)).toBeUndefined();
    expect(await t.server.store.webhooks.attempts(oldDelivered)).toEqual([]);
    expect(await t.server.store.webhooks.get(oldPending)).toBeDefined();
    expect(await t.server.store.webhooks.get(recentDelivered)).toBeDefined();

    // Nothing left to do: the next run deletes nothing.
    expect(await t.server.retention.runOnce()).toEqual({
      actions: 0,
      usage: 0,
      deliveries: 0,
      attempts: 0,
      usageDaily: 0,
      receipts: 0,
      channelMessages: 0,
      channelAttempts: 0,
      channelLinks: 0,
      channelHolds: 0,
    });
  });

  test('each purge logs what it removed, table by table (nothing included)', async () => {
    const t = await startTestServer({ workers: false, retentionDays: 0 });
    servers.push(t);
    const now = Date.now();
    await seedActions(t, 7, now - 40 * day);
    await seedActions(t, 2, now - 40 * day, 'pending');
    await seedActions(t, 4, now - day);
    await seedUsage(t, 5, now - 40 * day);
    await seedUsage(t, 1, now - day);
    await t.server.store.transaction((repositories) => repositories.usage.rebuildDaily());
    await seedDelivery(t, now - 40 * day, 'delivered');
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: (message, fields) => lines.push({ message, fields }),
      warn: (message, fields) => lines.push({ message, fields }),
      error: (message, fields) => lines.push({ message, fields }),
      child: () => logger,
    };
    const retention = new RetentionService(t.server.store, logger, { days: 30 });
    const result = await retention.runOnce();
    expect(result).toEqual({
      actions: 7,
      usage: 5,
      deliveries: 1,
      attempts: 1,
      // One daily total; the session totals' row for the model and for every model.
      usageDaily: 3,
      channelMessages: 0,
      channelAttempts: 0,
      channelLinks: 0,
      channelHolds: 0,
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.message).toBe(
      'Retention: deleted 7 actions, 5 usage events, 3 daily usage totals, 1 webhook deliveries, 1 delivery attempts, 0 channel messages, 0 channel message attempts, 0 decision links and 0 channel holds older than 30 days',
    );
    expect(lines[0]?.fields).toMatchObject({ retentionDays: 30, ...result });
    // A run that finds nothing says so too.
    await retention.runOnce();
    expect(lines[1]?.message).toBe(
      'Retention: deleted 0 actions, 0 usage events, 0 daily usage totals, 0 webhook deliveries, 0 delivery attempts, 0 channel messages, 0 channel message attempts, 0 decision links and 0 channel holds older than 30 days',
    );
    expect(await t.server.store.actions.count()).toBe(6);
  });

  test('0 keeps everything forever', async () => {
    const t = await startTestServer({ workers: false, retentionDays: 0 });
    servers.push(t);
    await seedActions(t, 10, Date.now() - 5_000 * day);
    expect(t.server.retention.enabled).toBe(false);
    expect((await t.server.retention.runOnce()).actions).toBe(0);
    expect(await t.server.store.actions.count()).toBe(10);
  });

  test('off by default: a server started without a setting deletes nothing, however old', async () => {
    const t = await startTestServer({ workers: false });
    servers.push(t);
    await seedActions(t, 3, Date.now() - 400 * day);
    expect(t.server.retention.days).toBe(0);
    expect(t.server.retention.enabled).toBe(false);
    expect(await t.server.retention.runOnce()).toMatchObject({ actions: 0, usage: 0 });
    expect(await t.server.store.actions.count()).toBe(3);
  });

  test('describeRetention says whether and what is deleted', () => {
    expect(describeRetention(0)).toMatch(/^off: everything is kept/);
    expect(describeRetention(30)).toMatch(
      /^30 days: actions, usage, settled webhook deliveries and channel messages older than that are deleted/,
    );
    expect(describeRetention(1)).toMatch(/^1 day:/);
  });

  test('ARDEN_RETENTION_DAYS: default 0 (keep everything), refused when negative', () => {
    expect(resolveConfig({}, {}).retention.days).toBe(0);
    expect(resolveConfig({}, { ARDEN_RETENTION_DAYS: '0' }).retention.days).toBe(0);
    expect(resolveConfig({}, { ARDEN_RETENTION_DAYS: '365' }).retention.days).toBe(365);
    expect(() => resolveConfig({}, { ARDEN_RETENTION_DAYS: '-1' })).toThrow(/ARDEN_RETENTION_DAYS/);
  });
});
