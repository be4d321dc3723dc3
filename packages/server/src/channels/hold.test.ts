import { afterEach, describe, expect, test } from 'vitest';
import { startTestServer } from '../test-fixtures/harness';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}, 60_000);

describe('registering a held call', () => {
  test('with nobody to tell: the hold is marked in one statement, without a transaction or a read of the channels', async () => {
    const t = await startTestServer();
    cleanups.push(() => t.close());
    // Registered by hand below, not by the worker as the call is held.
    await t.server.channelWorker.stop();
    await t.server.policies.saveSet(t.agent.id, 'live', [
      { name: 'Refunds', tool: 'payments.refund', action: 'requires_approval' } as never,
    ]);
    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'payments.refund', kwargs: { amount: 900 } },
    });
    expect(held.json.status).toBe('pending');
    const actionId = held.json.action_id as string;
    const action = await t.server.store.actions.get(actionId);
    expect(await t.server.store.channels.unregisteredHolds(20)).toContain(actionId);

    const store = t.server.store;
    const calls: string[] = [];
    const transaction = store.transaction;
    const list = store.channels.list;
    store.transaction = ((fn: never) => {
      calls.push('transaction');
      return transaction(fn);
    }) as typeof store.transaction;
    store.channels.list = () => {
      calls.push('channels.list');
      return list();
    };
    try {
      expect(await t.server.channels.register(action as NonNullable<typeof action>)).toBe(0);
      // Again (another replica, the crash sweep): still nothing queued, nothing read.
      expect(await t.server.channels.register(action as NonNullable<typeof action>)).toBe(0);
    } finally {
      store.transaction = transaction;
      store.channels.list = list;
    }
    expect(calls).toEqual([]);
    // The hold is marked: the crash sweep no longer lists it, and it is marked once.
    expect(await t.server.store.channels.unregisteredHolds(20)).not.toContain(actionId);
    expect(await t.server.store.channels.registerHold(actionId, Date.now())).toBe(false);
    expect(await t.server.store.channels.messagesOf(actionId)).toEqual([]);
  });
});
