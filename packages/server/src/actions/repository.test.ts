import { afterEach, describe, expect, test } from 'vitest';
import type { Store } from '../store';
import { action, agent, closeStores, freshStore } from '../test-fixtures/store';

afterEach(closeStores);

describe('actions', () => {
  test('cursor pagination walks every row once, newest first', async () => {
    const store = await freshStore();
    const { id: agentId } = await agent(store);
    for (let index = 0; index < 120; index++)
      await store.actions.insert(action(agentId, { kwargs: { index } }));
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.actions.list({ agentId }, { cursor, limit: 50 });
      seen.push(...page.items.map((item) => item.kwargs.index as number));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 120 }, (_, index) => 119 - index));
    const ascending = await store.actions.list({ agentId }, { order: 'asc', limit: 3 });
    expect(ascending.items.map((item) => item.kwargs.index)).toEqual([0, 1, 2]);
  });

  test('filters: agent, environment, tool and prefix, decision, status, session, time', async () => {
    const store = await freshStore();
    const a = await agent(store, 'a');
    const b = await agent(store, 'b');
    const base = Date.UTC(2026, 0, 1);
    await store.actions.insert(
      action(a.id, { toolName: 'stripe.refund', decision: 'block', createdAt: base }),
    );
    await store.actions.insert(
      action(a.id, {
        toolName: 'stripe.charge',
        status: 'pending',
        decision: 'requires_approval',
        sessionId: 's1',
        createdAt: base + 1000,
      }),
    );
    await store.actions.insert(
      action(a.id, { toolName: 'stripe_x', environment: 'test', createdAt: base + 2000 }),
    );
    await store.actions.insert(action(b.id, { toolName: 'mail.send', createdAt: base + 3000 }));
    const tools = async (filter: Parameters<Store['actions']['list']>[0]) =>
      (await store.actions.list(filter)).items.map((item) => item.toolName).sort();
    expect(await tools({ agentId: a.id })).toEqual(['stripe.charge', 'stripe.refund', 'stripe_x']);
    expect(await tools({ environment: 'test' })).toEqual(['stripe_x']);
    expect(await tools({ tool: 'stripe.*' })).toEqual(['stripe.charge', 'stripe.refund']);
    expect(await tools({ tool: 'stripe_x' })).toEqual(['stripe_x']);
    expect(await tools({ decision: 'block' })).toEqual(['stripe.refund']);
    expect(await tools({ status: ['pending', 'approved'] })).toEqual(['stripe.charge']);
    expect(await tools({ sessionId: 's1' })).toEqual(['stripe.charge']);
    expect(await tools({ from: base + 1000, to: base + 3000 })).toEqual([
      'stripe.charge',
      'stripe_x',
    ]);
    expect(await store.actions.count({ agentId: b.id })).toBe(1);
  });

  test('decide matches only a pending, unexpired action', async () => {
    const store = await freshStore();
    const { id: agentId } = await agent(store);
    const now = Date.now();
    const held = action(agentId, {
      status: 'pending',
      decision: 'requires_approval',
      expiresAt: now + 60_000,
    });
    const overdue = action(agentId, {
      status: 'pending',
      decision: 'requires_approval',
      expiresAt: now - 1,
    });
    await store.actions.insert(held);
    await store.actions.insert(overdue);
    const decision = { status: 'approved' as const, decidedBy: 'u', notes: null };
    expect(await store.actions.decide(held.id, decision, now)).toMatchObject({
      status: 'approved',
    });
    expect(await store.actions.decide(held.id, decision, now)).toBeUndefined();
    expect(await store.actions.decide(overdue.id, decision, now)).toBeUndefined();
    expect(await store.actions.listOverdue(now)).toEqual([overdue.id]);
    expect(await store.actions.expire(overdue.id, now, 'expired')).toMatchObject({
      status: 'expired',
    });
    expect(await store.actions.listOverdue(now)).toEqual([]);
  });
});

describe('sessions', () => {
  test('pages walk every session once, most recently active first, with their counts', async () => {
    const store = await freshStore();
    const a = await agent(store, 'alpha');
    const b = await agent(store, 'beta');
    const base = Date.UTC(2026, 0, 1);
    let seed = 11;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    // 1 500 actions over 120 sessions that interleave, some spanning the whole log; and calls
    // without a session.
    const latest = new Map<string, { at: number; seq: number; count: number; agentId: string }>();
    const statements = [];
    for (let index = 0; index < 1_500; index++) {
      const session = random() < 0.2 ? null : `s-${Math.floor(random() ** 2 * 120)}`;
      const agentId = session && Number(session.slice(2)) % 3 === 0 ? b.id : a.id;
      const createdAt = base + index * 1_000;
      statements.push(
        store.actions.insertStatement(
          action(agentId, {
            sessionId: session,
            createdAt,
            decision: index % 7 === 0 ? 'block' : 'allow',
          }),
        ),
      );
      if (session) {
        const entry = latest.get(session) ?? { at: 0, seq: 0, count: 0, agentId };
        latest.set(session, { ...entry, at: createdAt, seq: index, count: entry.count + 1 });
      }
    }
    await store.database.batch(statements);
    const expected = [...latest.entries()].sort((x, y) => y[1].seq - x[1].seq);
    const walk = async (filter: Parameters<Store['actions']['listSessions']>[0], limit: number) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.actions.listSessions(filter, { cursor, limit });
        seen.push(...page.items.map((item) => item.sessionId));
        for (const item of page.items) {
          expect(item.actions).toBe(latest.get(item.sessionId)?.count);
          expect(item.lastAt).toBe(latest.get(item.sessionId)?.at);
        }
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 100);
      return seen;
    };
    expect(await walk({}, 7)).toEqual(expected.map(([id]) => id));
    expect(await walk({}, 500)).toEqual(expected.map(([id]) => id));
    expect(await walk({ agentId: b.id }, 5)).toEqual(
      expected.filter(([, entry]) => entry.agentId === b.id).map(([id]) => id),
    );
    // A time window counts only the calls inside it.
    const window = await store.actions.listSessions(
      { from: base + 500_000, to: base + 600_000 },
      { limit: 500 },
    );
    expect(window.items.reduce((sum, item) => sum + item.actions, 0)).toBe(
      (
        await store.database.get<{ n: number }>(
          'SELECT COUNT(*) AS n FROM actions WHERE session_id IS NOT NULL AND created_at >= ? AND created_at < ?',
          [base + 500_000, base + 600_000],
        )
      )?.n,
    );
  });

  test('a wide time window: the newest rows inside it, read in log order (not by time index)', async () => {
    const store = await freshStore();
    const { id: agentId } = await agent(store);
    const base = Date.UTC(2026, 0, 1);
    const total = 24_000;
    const statements = [];
    for (let index = 0; index < total; index++) {
      statements.push(
        store.actions.insertStatement(
          action(agentId, {
            createdAt: base + index * 1_000,
            sessionId: `s-${Math.floor(index / 10)}`,
            toolName: index % 1_000 === 0 ? 'rare.tool' : 'tool.a',
          }),
        ),
      );
    }
    await store.database.batch(statements);
    await store.database.exec('ANALYZE');
    // 22 000 rows of 24 000: wide; the window ends 1 000 rows before the newest.
    const window = { from: base + 1_000 * 1_000, to: base + 23_000 * 1_000 };
    const sql: string[] = [];
    const all = store.database.all.bind(store.database);
    store.database.all = (async (text: string, params?: readonly unknown[]) => {
      sql.push(text);
      return all(text, params as never);
    }) as typeof store.database.all;
    const newest = await store.actions.list(window, { limit: 5 });
    expect(newest.items.map((item) => item.createdAt)).toEqual(
      [22_999, 22_998, 22_997, 22_996, 22_995].map((index) => base + index * 1_000),
    );
    const rare = await store.actions.list({ ...window, tool: 'rare.tool' }, { limit: 100 });
    expect(rare.items.map((item) => item.createdAt)).toEqual(
      Array.from({ length: 22 }, (_, index) => base + (22_000 - index * 1_000) * 1_000),
    );
    const sessions = await store.actions.listSessions(window, { limit: 3 });
    expect(sessions.items.map((item) => [item.sessionId, item.actions])).toEqual([
      ['s-2299', 10],
      ['s-2298', 10],
      ['s-2297', 10],
    ]);
    if (store.database.dialect === 'sqlite') {
      // Through the created_at index, SQLite sorted most of the log for each page.
      const pageQueries = sql.filter((text) => /ORDER BY seq DESC LIMIT/.test(text));
      expect(pageQueries.length).toBeGreaterThan(0);
      for (const text of pageQueries) {
        const plan = await all<{ detail: string }>(
          `EXPLAIN QUERY PLAN ${text}`,
          Array.from(text.matchAll(/\?/g), () => 0),
        );
        const details = plan.map((step) => step.detail).join('; ');
        expect(details).not.toMatch(/actions_scale_created|TEMP B-TREE FOR ORDER BY/);
      }
    }
  });
});
