import { afterEach, describe, expect, test } from 'vitest';
import { startTestServer } from '../test-fixtures/harness';
import { channelRepository } from './repository';

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

  test('held calls of one turn are marked together; an agent with default targets gets its messages', async () => {
    const t = await startTestServer();
    cleanups.push(() => t.close());
    await t.server.channelWorker.stop();
    await t.server.policies.saveSet(t.agent.id, 'live', [
      { name: 'Refunds', tool: 'payments.refund', action: 'requires_approval' } as never,
    ]);
    const hold = async (amount: number) => {
      const held = await t.request('POST', '/policy/check', {
        body: { tool_name: 'payments.refund', kwargs: { amount } },
      });
      expect(held.json.status).toBe('pending');
      const action = await t.server.store.actions.get(held.json.action_id as string);
      return action as NonNullable<typeof action>;
    };
    const store = t.server.store;
    // PostgreSQL batches the marks of a turn in one statement; the embedded store writes each
    // with the checks' next group commit (one commit for the turn), not through the batch.
    const batched = store.database.dialect === 'postgres';
    const batches: number[] = [];
    const registerHolds = store.channels.registerHolds;
    store.channels.registerHolds = (holds, now) => {
      batches.push(holds.length);
      return registerHolds(holds, now);
    };
    try {
      // Nobody to tell: five held calls registered at once go in one batch, each marked.
      const quiet = await Promise.all([1, 2, 3, 4, 5].map(hold));
      expect(await Promise.all(quiet.map((action) => t.server.channels.register(action)))).toEqual([
        0, 0, 0, 0, 0,
      ]);
      expect(batches).toEqual(batched ? [5] : []);
      const unregistered = await store.channels.unregisteredHolds(20);
      for (const action of quiet) {
        expect(unregistered).not.toContain(action.id);
        expect(await store.channels.messagesOf(action.id)).toEqual([]);
      }
      // The same call twice in one batch (the crash sweep and its event): marked once.
      const twice = await hold(6);
      expect(
        await Promise.all([t.server.channels.register(twice), t.server.channels.register(twice)]),
      ).toEqual([0, 0]);
      expect(await store.channels.registerHold(twice.id, Date.now())).toBe(false);

      // The agent's defaults name someone: read in the same batch, and each call's messages
      // are written (with its mark) instead.
      await t.server.channels.setDefaults(t.agent.id, ['webhook:https://approvers.example.com']);
      const loud = await Promise.all([7, 8, 9].map(hold));
      batches.length = 0;
      expect(await Promise.all(loud.map((action) => t.server.channels.register(action)))).toEqual([
        1, 1, 1,
      ]);
      expect(batches).toEqual(batched ? [3] : []);
      for (const action of loud) {
        const messages = await store.channels.messagesOf(action.id);
        expect(messages.map((message) => [message.job, message.target])).toEqual([
          ['notify', 'https://approvers.example.com'],
        ]);
        expect(await store.channels.registerHold(action.id, Date.now())).toBe(false);
      }
      // Registered again: nothing more.
      expect(await t.server.channels.register(loud[0] as (typeof loud)[number])).toBe(0);
      expect(await store.channels.messagesOf((loud[0] as (typeof loud)[number]).id)).toHaveLength(
        1,
      );
      // Defaults that name nobody but are not written `[]` (edited by hand): the call is still
      // marked, through the transaction, so the crash sweep does not take it up forever.
      await store.database.run('UPDATE channel_defaults SET notify = ? WHERE agent_id = ?', [
        '[ ]',
        t.agent.id,
      ]);
      const edited = await hold(10);
      expect(await t.server.channels.register(edited)).toBe(0);
      expect(await store.channels.registerHold(edited.id, Date.now())).toBe(false);
      expect(await store.channels.messagesOf(edited.id)).toEqual([]);
    } finally {
      store.channels.registerHolds = registerHolds;
    }
  });

  test('the marks of a batch leave the connection committing synchronously', async () => {
    const t = await startTestServer();
    cleanups.push(() => t.close());
    await t.server.channelWorker.stop();
    await t.server.policies.saveSet(t.agent.id, 'live', [
      { name: 'Refunds', tool: 'payments.refund', action: 'requires_approval' } as never,
    ]);
    const ids: string[] = [];
    for (const amount of [1, 2]) {
      const held = await t.request('POST', '/policy/check', {
        body: { tool_name: 'payments.refund', kwargs: { amount } },
      });
      ids.push(held.json.action_id as string);
    }
    const database = t.server.store.database;
    const register = async (connection: Parameters<typeof channelRepository>[0]) =>
      channelRepository(connection).registerHolds(
        ids.map((actionId) => ({ actionId, agentId: t.agent.id, readDefaults: true })),
        Date.now(),
      );
    if (database.dialect === 'postgres' && database.dedicated) {
      // PostgreSQL: the batch commits without waiting for the WAL's flush, for its own
      // transaction only. The same connection then commits the checks' rows: it must be back
      // to the server's setting (on; the tests' connections run with it off), or every later
      // commit on it would answer before its flush.
      const setting = await database.dedicated(async (connection) => {
        const show = async () =>
          (await connection.get<{ synchronous_commit: string }>('SHOW synchronous_commit'))
            ?.synchronous_commit;
        const tests = await show();
        await connection.exec('SET synchronous_commit = on');
        try {
          const before = await show();
          expect(await register(connection)).toEqual([
            { notify: null, marked: true, registered: true },
            { notify: null, marked: true, registered: true },
          ]);
          return { before, after: await show() };
        } finally {
          await connection.exec(`SET synchronous_commit = ${tests === 'on' ? 'on' : 'off'}`);
        }
      });
      expect(setting).toEqual({ before: 'on', after: 'on' });
    } else {
      expect(await register(database)).toEqual([
        { notify: null, marked: true, registered: true },
        { notify: null, marked: true, registered: true },
      ]);
    }
    // Marked, and committed: read back from another connection, the crash sweep leaves them.
    const unregistered = await t.server.store.channels.unregisteredHolds(20);
    for (const id of ids) expect(unregistered).not.toContain(id);
    expect(await t.server.store.channels.registerHold(ids[0] as string, Date.now())).toBe(false);
  });
});
