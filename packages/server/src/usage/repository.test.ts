import { afterEach, describe, expect, test } from 'vitest';
import { uuidv7 } from '../ids';
import { createLogger } from '../logger';
import { RetentionService } from '../retention/service';
import { migrations, type Store, type UsageRecord } from '../store';
import { agent, closeStores, freshStore } from '../test-fixtures/store';
import type { UsageAggregate, UsageFilter, UsageGrouping } from './repository';

afterEach(closeStores);

describe('usage', () => {
  test('aggregations by model, day, session and agent', async () => {
    const store = await freshStore();
    const a = await agent(store, 'alpha');
    const b = await agent(store, 'beta');
    const day = Date.UTC(2026, 10, 20, 12);
    const rows = [
      { agentId: a.id, model: 'gpt-4o', sessionId: 's1', costUsd: 1, createdAt: day },
      { agentId: a.id, model: 'gpt-4o', sessionId: 's2', costUsd: 2, createdAt: day + 86_400_000 },
      { agentId: b.id, model: 'claude-sonnet-4-5', sessionId: null, costUsd: 4, createdAt: day },
      {
        agentId: b.id,
        model: 'mystery',
        sessionId: null,
        costUsd: 0,
        createdAt: day,
        rateFound: false,
      },
    ];
    for (const row of rows) {
      await store.usageCommitter.submitAll(
        store.usage.writeStatements([
          {
            id: uuidv7(),
            environment: 'live',
            promptTokens: 10,
            completionTokens: 5,
            rateFound: true,
            ...row,
          },
        ]),
      );
    }
    const byModel = await store.usage.aggregate('model');
    expect(byModel.map((group) => [group.key, group.costUsd, group.events])).toEqual([
      ['claude-sonnet-4-5', 4, 1],
      ['gpt-4o', 3, 2],
      ['mystery', 0, 1],
    ]);
    expect(byModel[2]?.unpricedEvents).toBe(1);
    const byDay = await store.usage.aggregate('day');
    expect(byDay.map((group) => [group.key, group.costUsd])).toEqual([
      ['2026-11-20', 5],
      ['2026-11-21', 2],
    ]);
    const bySession = await store.usage.aggregate('session', { agentId: a.id });
    expect(bySession.map((group) => group.key)).toEqual(['s2', 's1']);
    const byAgent = await store.usage.aggregate('agent');
    expect(byAgent.map((group) => [group.label, group.costUsd, group.totalTokens])).toEqual([
      ['beta', 4, 30],
      ['alpha', 3, 30],
    ]);
    expect(await store.usage.totals({ from: day, to: day + 1 })).toMatchObject({
      events: 3,
      costUsd: 5,
    });
  });

  test('listing pages newest first, or oldest first, each event once', async () => {
    const store = await freshStore();
    const a = await agent(store, 'alpha');
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const id = uuidv7();
      ids.push(id);
      await store.usageCommitter.submitAll(
        store.usage.writeStatements([
          {
            id,
            agentId: a.id,
            environment: 'live',
            sessionId: 's1',
            model: 'gpt-4o',
            promptTokens: 1,
            completionTokens: 1,
            costUsd: 0.01,
            rateFound: true,
            createdAt: Date.UTC(2026, 10, 20) + index,
          },
        ]),
      );
    }
    const all = async (order?: 'asc' | 'desc') => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.usage.list({ agentId: a.id }, { cursor, limit: 2, order });
        seen.push(...page.items.map((item) => item.id));
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    };
    expect(await all()).toEqual([...ids].reverse());
    expect(await all('desc')).toEqual([...ids].reverse());
    expect(await all('asc')).toEqual(ids);
  });
});

describe('daily usage totals', () => {
  test('aggregations from the daily totals equal those over the events, for any range and filter', async () => {
    const store = await freshStore();
    const a = await agent(store, 'alpha');
    const b = await agent(store, 'beta');
    const day = 86_400_000;
    const start = Date.UTC(2026, 9, 1);
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const models = ['gpt-4o', 'gpt-4o-mini', 'mystery'];
    // 40 batches as the API writes them, 1 to 30 events each, over 20 days.
    for (let batch = 0; batch < 40; batch++) {
      const records = Array.from({ length: 1 + Math.floor(random() * 30) }, () => {
        const model = models[Math.floor(random() * models.length)] as string;
        return {
          id: uuidv7(),
          agentId: random() < 0.5 ? a.id : b.id,
          environment: random() < 0.5 ? ('live' as const) : ('test' as const),
          sessionId: random() < 0.5 ? `s${Math.floor(random() * 10)}` : null,
          model,
          promptTokens: Math.floor(random() * 1_000),
          completionTokens: Math.floor(random() * 100),
          costUsd: model === 'mystery' ? 0 : Math.round(random() * 1_000) / 1_000,
          rateFound: model !== 'mystery',
          createdAt: start + Math.floor(random() * 20 * day),
        };
      });
      await store.usageCommitter.submitAll(store.usage.writeStatements(records));
    }
    const close = (left: { costUsd: number }[], right: { costUsd: number }[]) =>
      left.map((item, index) => expect(item.costUsd).toBeCloseTo(right[index]?.costUsd ?? -1, 9));
    const withoutCost = <T extends { costUsd: number }>(items: T[]) =>
      items.map(({ costUsd: _cost, ...rest }) => rest);
    for (let round = 0; round < 25; round++) {
      const from = random() < 0.2 ? undefined : start + Math.floor(random() * 20 * day) - day;
      const to =
        random() < 0.2
          ? undefined
          : (from ?? start) + Math.floor(random() * 25 * day * (random() < 0.3 ? 0.05 : 1));
      const filter = {
        from,
        to,
        agentId: random() < 0.3 ? a.id : undefined,
        environment: random() < 0.3 ? ('test' as const) : undefined,
        model: random() < 0.2 ? 'gpt-4o' : undefined,
      };
      for (const groupBy of ['model', 'day', 'agent', 'session'] as const) {
        const fast = await store.usage.aggregate(groupBy, filter);
        const slow = await store.usage.aggregateRaw(groupBy, filter);
        const order = <T extends { key: string | null }>(items: T[]) =>
          [...items].sort((x, y) => String(x.key).localeCompare(String(y.key)));
        expect(withoutCost(order(fast))).toEqual(withoutCost(order(slow)));
        close(order(fast), order(slow));
      }
      const fast = await store.usage.totals(filter);
      const slow = await store.usage.totalsRaw(filter);
      expect(withoutCost([fast])).toEqual(withoutCost([slow]));
      close([fast], [slow]);
    }
  });
});

const day = 86_400_000;
const groupings: readonly UsageGrouping[] = ['model', 'day', 'agent', 'session'];

// A deterministic generator, so that a failure repeats.
function generator(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

/**
 * Usage of 30 sessions (and none) over `days` days from `start`: costs in 1/1024 dollars, so
 * that every sum is exact whatever its order and the orderings by cost compare exactly.
 */
function generated(agents: string[], start: number, days: number, count: number, seed = 11) {
  const random = generator(seed);
  const models = ['gpt-4o', 'gpt-4o-mini', 'mystery'];
  return Array.from({ length: count }, (): Omit<UsageRecord, 'seq'> => {
    const model = models[Math.floor(random() * models.length)] as string;
    return {
      id: uuidv7(),
      agentId: agents[Math.floor(random() * agents.length)] as string,
      environment: random() < 0.5 ? 'live' : 'test',
      sessionId: random() < 0.8 ? `session-${Math.floor(random() * 30)}` : null,
      model,
      promptTokens: Math.floor(random() * 1_000),
      completionTokens: Math.floor(random() * 100),
      costUsd: model === 'mystery' ? 0 : Math.floor(random() * 2_048) / 1_024,
      rateFound: model !== 'mystery',
      createdAt: start + Math.floor(random() * days * day),
    };
  });
}

async function write(store: Store, records: Omit<UsageRecord, 'seq'>[]) {
  // In batches of 1 to 40 events, as the API writes them.
  for (let offset = 0; offset < records.length; ) {
    const size = 1 + (offset % 40);
    await store.usageCommitter.submitAll(
      store.usage.writeStatements(records.slice(offset, offset + size)),
    );
    offset += size;
  }
}

// Groups in one order (costs are exact, so equal groups compare equal).
const ordered = (items: UsageAggregate[]) =>
  [...items].sort((x, y) => String(x.key).localeCompare(String(y.key)));

/** Every grouping and the totals, from the totals tables, against the same over the events. */
async function expectSameAsEvents(store: Store, filter: UsageFilter) {
  for (const groupBy of groupings) {
    const fast = await store.usage.aggregate(groupBy, filter);
    const slow = await store.usage.aggregateRaw(groupBy, filter);
    expect(ordered(fast), `${groupBy} ${JSON.stringify(filter)}`).toEqual(ordered(slow));
  }
  expect(await store.usage.totals(filter)).toEqual(await store.usage.totalsRaw(filter));
}

describe('usage totals per session and day', () => {
  test('usage by session (every filter, windows cutting days) equals the sum over the events', async () => {
    const store = await freshStore();
    const a = await agent(store, 'alpha');
    const b = await agent(store, 'beta');
    const start = Date.UTC(2026, 9, 1);
    await write(store, generated([a.id, b.id], start, 12, 600));
    const random = generator(5);
    const at = () => start - day + Math.floor(random() * 14 * day);
    for (let round = 0; round < 20; round++) {
      const from = random() < 0.15 ? undefined : at();
      const to = random() < 0.15 ? undefined : (from ?? start) + Math.floor(random() * 13 * day);
      const filter: UsageFilter = {
        from,
        to,
        agentId: random() < 0.3 ? a.id : undefined,
        environment: random() < 0.3 ? 'test' : undefined,
        model: random() < 0.3 ? 'gpt-4o' : undefined,
      };
      await expectSameAsEvents(store, filter);
      // The first groups by cost (the biggest first, ties by key): the first of all of them.
      const all = await store.usage.aggregate('session', filter);
      const first = await store.usage.aggregate('session', filter, { limit: 5 });
      expect(first).toEqual(all.slice(0, 5));
      expect(all.map((group) => group.costUsd)).toEqual(
        all.map((group) => group.costUsd).sort((x, y) => y - x),
      );
    }
    // Whole days are read from the session totals: with the events of a day gone (as if written
    // some other way), a window of whole days still has them, and one cutting a day does not.
    const third = start + 3 * day;
    const before = await store.usage.aggregate('session', { from: third, to: third + day });
    expect(before.length).toBeGreaterThan(0);
    await store.database.run('DELETE FROM usage WHERE created_at >= ? AND created_at < ?', [
      third,
      third + day,
    ]);
    expect(await store.usage.aggregate('session', { from: third, to: third + day })).toEqual(
      before,
    );
    expect(await store.usage.aggregate('session', { from: third + 1, to: third + day })).toEqual(
      [],
    );
  }, 120_000);

  test('usage without a session is one group, keyed null', async () => {
    const store = await freshStore();
    const a = await agent(store, 'alpha');
    const start = Date.UTC(2026, 9, 1);
    const records = generated([a.id], start, 3, 80);
    await write(store, records);
    const groups = await store.usage.aggregate('session', { from: start, to: start + 3 * day });
    const none = groups.filter((group) => group.key === null);
    expect(none).toHaveLength(1);
    expect(none[0]?.events).toBe(records.filter((record) => record.sessionId === null).length);
    expect(groups.some((group) => group.key === '')).toBe(false);
  });

  test('migration 14 fills the session totals from the events already stored', async () => {
    const store = await freshStore();
    const a = await agent(store, 'alpha');
    const b = await agent(store, 'beta');
    const start = Date.UTC(2026, 9, 1);
    // Events as a server before migration 14 stored them: no session totals.
    await write(store, generated([a.id, b.id], start, 6, 300, 23));
    await store.database.exec('DROP TABLE usage_session_daily');
    // Migration 14's statements, as `migrate` runs them (later migrations are already applied).
    const migration = migrations.find((candidate) => candidate.version === 14);
    const sql = migration?.sql[store.database.dialect] ?? [];
    await store.database.exec('BEGIN');
    for (const statement of typeof sql === 'string' ? [sql] : sql) {
      await store.database.exec(statement);
    }
    await store.database.exec('COMMIT');
    const rows = await store.database.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM usage_session_daily',
    );
    expect(Number(rows?.n)).toBeGreaterThan(0);
    for (const filter of [
      {},
      { from: start + day, to: start + 4 * day },
      { from: start + day / 3, to: start + 5 * day - 7 },
      { agentId: a.id, model: 'gpt-4o', from: start + 2 * day },
    ]) {
      await expectSameAsEvents(store, filter);
    }
  });

  test('retention takes purged events out of the totals, the cutoff day included', async () => {
    const store = await freshStore();
    const a = await agent(store, 'alpha');
    const b = await agent(store, 'beta');
    const start = Date.UTC(2026, 9, 1);
    await write(store, generated([a.id, b.id], start, 8, 500, 31));
    // The cutoff in the middle of the fifth day: part of that day's events go.
    const cutoff = start + 4 * day + day / 2 + 1234;
    const retention = new RetentionService(store, createLogger('silent'), {
      days: 10,
      clock: () => cutoff + 10 * day,
    });
    const result = await retention.runOnce();
    expect(result.usage).toBeGreaterThan(0);
    expect((await store.usage.totalsRaw({ to: cutoff })).events).toBe(0);
    for (const filter of [
      {},
      { from: start + 4 * day, to: start + 5 * day },
      { from: start + 4 * day },
      { from: start + 2 * day, to: start + 6 * day },
      { agentId: b.id, environment: 'live' as const, from: start + 4 * day },
    ]) {
      await expectSameAsEvents(store, filter);
    }
    const older = await store.database.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM usage_session_daily WHERE day < ?',
      [Math.floor(cutoff / day)],
    );
    expect(Number(older?.n)).toBe(0);
    // Written again after the purge, the cutoff day's totals count only what is there.
    await write(store, generated([a.id], start + 4 * day + day / 2 + 5_000, 0.2, 30, 41));
    await expectSameAsEvents(store, { from: start + 4 * day, to: start + 5 * day });
  });
});
