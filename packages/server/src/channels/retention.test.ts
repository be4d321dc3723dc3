import { afterEach, describe, expect, test } from 'vitest';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import { RetentionService } from '../retention/service';
import type { ChannelMessageStatus } from '../store';
import { startTestServer, type TestServer } from '../test-fixtures/harness';

// Retention of the channel tables: settled channel messages older than the window go with their
// attempts (the durable outbox's purge), expired decision links and the holds of decided calls
// too; pending messages, recent ones and the hold of a call still waiting stay.

const servers: TestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

const day = 86_400_000;

describe('channel retention', () => {
  test('settled channel messages, their attempts, expired links and old holds are purged; counts logged', async () => {
    const t = await startTestServer({ workers: false });
    servers.push(t);
    const store = t.server.store;
    const now = Date.now();
    const old = now - 40 * day;
    let n = 0;
    const message = async (createdAt: number, status: ChannelMessageStatus) => {
      const id = uuidv7(createdAt);
      n++;
      await store.channels.enqueue({
        id,
        dedupeKey: `notify:action-${n}:slack:#x`,
        actionId: `action-${n}`,
        channelId: 'channel-1',
        job: 'notify',
        target: '#x',
        nextAttemptAt: createdAt,
        status,
        createdAt,
      });
      await store.channels.recordAttempt({
        id: uuidv7(createdAt),
        outboxId: id,
        attempt: 1,
        statusCode: 200,
        error: null,
        durationMs: 1,
        at: createdAt,
      });
      return id;
    };
    const oldDelivered = await message(old, 'delivered');
    const oldFailed = await message(old, 'failed');
    const oldCancelled = await message(old, 'cancelled');
    const oldPending = await message(old, 'pending');
    const recent = await message(now - day, 'delivered');
    const link = async (tokenHash: string, expiresAt: number) =>
      store.channels.insertLink({
        tokenHash,
        actionId: 'a',
        channelId: 'c',
        recipient: 'ops@example.com',
        expiresAt,
        usedAt: null,
        createdAt: expiresAt - 3_600_000,
      });
    await link('expired-long-ago', old);
    await link('expires-later', now + day);
    // A held call still waiting (old but pending) keeps its hold; a decided one's goes.
    const pendingId = uuidv7(old);
    await store.database.run(
      `INSERT INTO actions (id, agent_id, environment, tool_name, args, kwargs, decision, status,
         created_at) VALUES (?, ?, 'live', 'old.tool', '[]', '{}', 'requires_approval', 'pending', ?)`,
      [pendingId, t.agent.id, old],
    );
    await store.channels.registerHold(pendingId, old);
    await store.channels.registerHold('decided-and-gone', old);
    await store.channels.registerHold('recent-hold', now - day);

    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug: () => undefined,
      info: (text, fields) => lines.push({ message: text, fields }),
      warn: (text, fields) => lines.push({ message: text, fields }),
      error: (text, fields) => lines.push({ message: text, fields }),
      child: () => logger,
    };
    const result = await new RetentionService(store, logger, {
      days: 30,
      batchSize: 2,
      pauseMs: 1,
    }).runOnce();
    expect(result).toMatchObject({
      channelMessages: 3,
      channelAttempts: 3,
      channelLinks: 1,
      channelHolds: 1,
    });
    for (const id of [oldDelivered, oldFailed, oldCancelled]) {
      expect(await store.channels.message(id)).toBeUndefined();
      expect(await store.channels.attempts(id)).toEqual([]);
    }
    expect(await store.channels.message(oldPending)).toMatchObject({ status: 'pending' });
    expect(await store.channels.attempts(oldPending)).toHaveLength(1);
    expect(await store.channels.message(recent)).toMatchObject({ status: 'delivered' });
    expect(await store.channels.link('expired-long-ago')).toBeUndefined();
    expect(await store.channels.link('expires-later')).toBeDefined();
    // The waiting call's hold stays (else it would be notified again); the others are kept or gone.
    expect(await store.channels.registerHold(pendingId, now)).toBe(false);
    expect(await store.channels.registerHold('recent-hold', now)).toBe(false);
    expect(await store.channels.registerHold('decided-and-gone', now)).toBe(true);

    expect(lines).toHaveLength(1);
    expect(lines[0]?.message).toContain(
      '3 channel messages, 3 channel message attempts, 1 decision links and 1 channel holds older than 30 days',
    );
    expect(lines[0]?.fields).toMatchObject({ channelMessages: 3, channelAttempts: 3 });
  });
});
