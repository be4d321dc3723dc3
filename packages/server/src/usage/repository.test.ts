import { afterEach, describe, expect, test } from 'vitest';
import { uuidv7 } from '../ids';
import { agent, closeStores, freshStore } from '../test-fixtures/store';

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
      for (const groupBy of ['model', 'day', 'agent'] as const) {
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
