import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, test } from 'vitest';
import { SchemaVersionError } from '../errors';
import { uuidv7 } from '../ids';
import { createLogger } from '../logger';
import { temporaryDirectory, testDatabaseUrl } from '../test-fixtures/harness';
import {
  latestSchemaVersion,
  type NewAction,
  openStore,
  type SqliteDatabase,
  type Store,
  toPostgresPlaceholders,
} from './index';

const directories: string[] = [];
const stores: Store[] = [];

async function location(): Promise<{ dataDir: string; databaseUrl: string | undefined }> {
  const dataDir = temporaryDirectory();
  directories.push(dataDir);
  const databaseUrl = await testDatabaseUrl();
  return { dataDir, databaseUrl };
}

async function freshStore(): Promise<Store> {
  const store = await openStore(await location());
  stores.push(store);
  return store;
}

const onPostgres = Boolean(process.env.ARDEN_TEST_DATABASE_URL);

afterEach(async () => {
  while (stores.length > 0) await stores.pop()?.close();
  while (directories.length > 0) {
    rmSync(directories.pop() as string, { recursive: true, force: true });
  }
});

async function agent(store: Store, name = 'agent-a') {
  const record = agentRecord(name);
  await store.agents.insert(record);
  return record;
}

function agentRecord(name: string) {
  const now = Date.now();
  return {
    id: uuidv7(),
    name,
    description: null,
    defaultAction: 'allow' as const,
    webhookUrl: null,
    signingKey: 'whsec_test',
    createdAt: now,
    updatedAt: now,
    deletedAt: null,
  };
}

function action(agentId: string, overrides: Partial<NewAction> = {}): NewAction {
  const now = overrides.createdAt ?? Date.now();
  return {
    id: uuidv7(now),
    agentId,
    environment: 'live',
    toolName: 'tool.a',
    args: [],
    kwargs: {},
    metadata: null,
    sessionId: null,
    decision: 'allow',
    reason: 'no_policy_configured',
    policy: null,
    status: 'completed',
    expiresAt: null,
    onTimeout: null,
    decidedBy: null,
    decidedAt: now,
    notes: null,
    resultStatus: null,
    durationMs: null,
    resultError: null,
    result: null,
    reportedAt: null,
    createdAt: now,
    ...overrides,
  };
}

describe('migrations', () => {
  test.skipIf(onPostgres)('a new data directory is created and migrated', async () => {
    const dataDir = join(temporaryDirectory(), 'nested', 'data');
    directories.push(dataDir);
    const store = await openStore({ dataDir });
    stores.push(store);
    const row = await store.database.get<{ version: number }>(
      'SELECT MAX(version) AS version FROM schema_migrations',
    );
    expect(row?.version).toBe(latestSchemaVersion);
  });

  test('migrating twice is a no-op; a database from a newer server is refused clearly', async () => {
    const where = await location();
    const first = await openStore(where);
    await first.agents.insert(agentRecord('kept'));
    await first.close();
    const second = await openStore(where);
    expect((await second.agents.list()).map((agent) => agent.name)).toEqual(['kept']);
    await second.database.run(
      'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
      [latestSchemaVersion + 1, 'from the future', Date.now()],
    );
    await second.close();
    const error = await openStore(where).catch((caught) => caught);
    expect(error).toBeInstanceOf(SchemaVersionError);
    expect(error.message).toContain(`schema version ${latestSchemaVersion + 1}`);
    expect(error.message).toContain('upgrade @arden/server');
  });

  test('an unreachable PostgreSQL is refused with what to check, without its password', async () => {
    await expect(
      openStore({ databaseUrl: 'postgres://nobody:secret@127.0.0.1:1/arden' }),
    ).rejects.toThrow(
      /Could not connect to PostgreSQL at postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/arden.*Check DATABASE_URL/,
    );
  });

  test('placeholders are translated for PostgreSQL, outside literals', () => {
    expect(
      toPostgresPlaceholders(
        "SELECT * FROM t WHERE a = ? AND b = '?' AND c IN (?, ?) -- ?\n AND d = ?",
      ),
    ).toBe("SELECT * FROM t WHERE a = $1 AND b = '?' AND c IN ($2, $3) -- ?\n AND d = $4");
  });
});

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

describe('users, browser sessions, admin tokens', () => {
  test('lookups skip expired, revoked and disabled', async () => {
    const store = await freshStore();
    const now = Date.now();
    const user = {
      id: uuidv7(),
      email: 'Ada@Example.com',
      name: 'Ada',
      passwordHash: 'scrypt$…',
      role: 'admin' as const,
      createdAt: now,
      updatedAt: now,
      lastLoginAt: null,
      disabledAt: null,
    };
    await store.users.insert(user);
    expect((await store.users.getByEmail('ada@example.COM'))?.id).toBe(user.id);
    await store.userSessions.insert({
      idHash: 'session-hash',
      userId: user.id,
      csrfToken: 'csrf',
      userAgent: null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 60_000,
    });
    expect((await store.userSessions.findActive('session-hash', now))?.user.email).toBe(
      'ada@example.com',
    );
    expect(await store.userSessions.findActive('session-hash', now + 60_000)).toBeUndefined();
    await store.adminTokens.insert({
      id: uuidv7(),
      userId: user.id,
      name: 'ci',
      prefix: 'ardt_abc',
      hash: 'token-hash',
      createdAt: now,
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
    });
    const found = await store.adminTokens.findActiveByHash('token-hash', now);
    expect(found?.token.name).toBe('ci');
    expect(found?.user.role).toBe('admin');
    await store.users.update(user.id, { disabledAt: now }, now);
    expect(await store.adminTokens.findActiveByHash('token-hash', now)).toBeUndefined();
    expect(await store.userSessions.findActive('session-hash', now)).toBeUndefined();
    expect(await store.userSessions.deleteExpired(now + 60_000)).toBe(1);
  });
});

describe('transactions and group commit', () => {
  test('a failed transaction does not take other requests’ writes with it', async () => {
    const store = await freshStore();
    const { id: agentId } = await agent(store);
    const failing = store
      .transaction(async (repositories) => {
        await repositories.actions.insert(action(agentId, { toolName: 'rolled.back' }));
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('boom');
      })
      .catch(() => 'failed');
    // Issued while the transaction is open: must wait for it, not join it.
    const outside = store.actions.insert(action(agentId, { toolName: 'kept' }));
    expect(await failing).toBe('failed');
    await outside;
    const tools = (await store.actions.list({ agentId })).items.map((item) => item.toolName);
    expect(tools).toEqual(['kept']);
  });

  test.skipIf(onPostgres)(
    'SQLite: a lone write commits at once; the writes after it in the same turn share the next commit',
    async () => {
      const store = await freshStore();
      const { id: agentId } = await agent(store);
      const countNow = () =>
        store.database.get<{ n: number }>('SELECT COUNT(*) AS n FROM actions WHERE agent_id = ?', [
          agentId,
        ]);
      // Each read below runs when it is called (no transaction is open), before the turn ends.
      const first = store.committer.submit(store.actions.insertStatement(action(agentId)));
      const afterFirst = countNow();
      const rest = [1, 2, 3].map(() =>
        store.committer.submit(store.actions.insertStatement(action(agentId))),
      );
      const afterRest = countNow();
      expect(store.committer.pending).toBe(3);
      expect((await afterFirst)?.n).toBe(1);
      expect((await afterRest)?.n).toBe(1);
      await Promise.all([first, ...rest]);
      expect((await countNow())?.n).toBe(4);
      // A later turn starts afresh: its first write is lone again.
      await new Promise((resolve) => setImmediate(resolve));
      const next = store.committer.submit(store.actions.insertStatement(action(agentId)));
      expect((await countNow())?.n).toBe(5);
      await next;
    },
  );

  test('a lone write while a transaction is open waits for it instead of joining it', async () => {
    const store = await freshStore();
    const { id: agentId } = await agent(store);
    let release!: () => void;
    const open = store.transaction(async (repositories) => {
      await repositories.actions.insert(action(agentId, { toolName: 'in.transaction' }));
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      throw new Error('rolled back');
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const lone = store.committer.submit(
      store.actions.insertStatement(action(agentId, { toolName: 'lone' })),
    );
    release();
    await expect(open).rejects.toThrow('rolled back');
    await lone;
    const tools = (await store.actions.list({ agentId })).items.map((item) => item.toolName);
    expect(tools).toEqual(['lone']);
  });

  test('many writes in one turn commit together; a bad one fails alone', async () => {
    const store = await freshStore();
    const { id: agentId } = await agent(store);
    const writes = Array.from({ length: 500 }, () =>
      store.committer.submit(store.actions.insertStatement(action(agentId))),
    );
    const duplicate = action(agentId);
    const first = store.committer.submit(store.actions.insertStatement(duplicate));
    const second = store.committer.submit(store.actions.insertStatement(duplicate));
    await Promise.all(writes);
    await first;
    await expect(second).rejects.toThrow(/UNIQUE|duplicate key/);
    expect(await store.actions.count({ agentId })).toBe(501);
  });
});

describe.skipIf(onPostgres)('background WAL checkpoints (SQLite)', () => {
  async function checkpointedStore() {
    const store = await openStore({ ...(await location()), backgroundCheckpoints: true });
    stores.push(store);
    const database = store.database as SqliteDatabase;
    expect(database.checkpointer).toBeDefined();
    await database.checkpointer?.ready;
    return { store, database };
  }

  test('commits leave the WAL to the worker, which copies every frame into the database file', async () => {
    const { store, database } = await checkpointedStore();
    expect(await store.database.get('PRAGMA wal_autocheckpoint')).toEqual({
      wal_autocheckpoint: 0,
    });
    const { id: agentId } = await agent(store);
    // Enough pages that SQLite would have checkpointed inside a commit (over 1 000 frames).
    for (let round = 0; round < 40; round++) {
      await Promise.all(
        Array.from({ length: 50 }, () =>
          store.committer.submit(store.actions.insertStatement(action(agentId))),
        ),
      );
      await store.committer.submit({ sql: 'SELECT 1' });
    }
    expect(await store.actions.count({ agentId })).toBe(2_000);
    const status = await database.checkpointer?.checkpoint();
    expect(status?.log).toBeGreaterThan(0);
    expect(status?.checkpointed).toBe(status?.log);
  });

  test('under a steady stream of commits the WAL is restarted, so it stays small', async () => {
    const store = await openStore({
      ...(await location()),
      backgroundCheckpoints: true,
      walRestartFrames: 256,
    });
    stores.push(store);
    const database = store.database as SqliteDatabase;
    await database.checkpointer?.ready;
    const { id: agentId } = await agent(store);
    const walBytes = () =>
      statSync(`${database.location}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    // A commit every ~0.4 ms for 1.2 s: more often than a PASSIVE checkpoint (which syncs the
    // files) finishes, so the WAL is never idle enough to start over by itself.
    const ends = Date.now() + 1_200;
    let commits = 0;
    let largest = 0;
    let reads = 0;
    while (Date.now() < ends) {
      await store.committer.submit(store.actions.insertStatement(action(agentId)));
      commits++;
      if (commits % 50 === 0) {
        largest = Math.max(largest, walBytes());
        // Reads keep working around the pauses.
        reads += (await store.actions.count({ agentId })) > 0 ? 1 : 0;
      }
      const spin = performance.now() + 0.4;
      while (performance.now() < spin);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(database.checkpointer?.restarts).toBeGreaterThan(0);
    // Every commit appends at least three pages (the row and two indexes): a WAL that was never
    // restarted would hold them all (measured: 4.6 pages a commit, 49 MB, against 11 MB).
    const appended = commits * 3 * 4096;
    expect(largest).toBeLessThan(appended * 0.6);
    expect(reads).toBe(Math.floor(commits / 50));
    expect(await store.actions.count({ agentId })).toBe(commits);
    // Once the stream stops, a WAL copied whole is left alone: the next commit starts it over.
    await database.checkpointer?.checkpoint();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const restarts = database.checkpointer?.restarts;
    await new Promise((resolve) => setTimeout(resolve, 600));
    await database.checkpointer?.checkpoint();
    expect(database.checkpointer?.restarts).toBe(restarts);
  });

  test('a reader in another process keeps a RESTART from finishing: statements wait meanwhile, it is retried less and less often, and the WAL starts over once the reader is gone', async () => {
    const lines: string[] = [];
    const store = await openStore({
      ...(await location()),
      backgroundCheckpoints: true,
      walRestartFrames: 16,
      // Checkpoints only when the test asks for one.
      checkpointIntervalMs: 3_600_000,
      logger: createLogger('warn', (line) => lines.push(line)),
    });
    stores.push(store);
    const database = store.database as SqliteDatabase;
    const checkpointer = database.checkpointer as NonNullable<SqliteDatabase['checkpointer']>;
    await checkpointer.ready;
    const { id: agentId } = await agent(store);
    const write = async (count: number) => {
      for (let index = 0; index < count; index++) {
        await store.committer.submit(store.actions.insertStatement(action(agentId)));
      }
    };
    await write(10);
    // Another connection (as the CLI would be) holds a read snapshot: checkpoints copy the WAL
    // only up to it, and a RESTART cannot finish while it lasts.
    const reader = new DatabaseSync(database.location);
    reader.exec('BEGIN');
    reader.prepare('SELECT COUNT(*) AS n FROM actions').get();
    await write(10);
    const attempts: { busy: boolean; pausedMs: number }[] = [];
    const waits: number[] = [];
    let checkpoints = 0;
    while (attempts.length < 3 && checkpoints < 12) {
      const paused = checkpointer.nextPause().then(() => 'paused' as const);
      const next = checkpointer.nextRestart();
      const status = await checkpointer.checkpoint();
      checkpoints++;
      expect(status.checkpointed).toBeLessThan(status.log);
      const pending = write(3);
      const outcome = await Promise.race([
        paused,
        new Promise<'none'>((resolve) => setTimeout(() => resolve('none'), 150)),
      ]);
      if (outcome === 'paused') {
        // Issued during the RESTART (the worker waits 50 ms for the reader): it waits for it.
        const started = performance.now();
        await store.actions.count({ agentId });
        waits.push(performance.now() - started);
        attempts.push(await next);
      }
      await pending;
    }
    // Attempts at the 1st, 3rd and 6th checkpoint: after one busy attempt 1 is skipped, then 2.
    expect(checkpoints).toBe(6);
    expect(attempts.map((attempt) => attempt.busy)).toEqual([true, true, true]);
    for (const attempt of attempts) expect(attempt.pausedMs).toBeGreaterThan(40);
    for (const waited of waits) expect(waited).toBeGreaterThan(30);
    expect(checkpointer.restarts).toBe(0);
    expect(lines.join('')).toContain('Another process keeps reading the database');
    reader.exec('COMMIT');
    reader.close();
    // Without the reader a checkpoint copies everything, and the next commit starts the WAL over.
    const caughtUp = await checkpointer.checkpoint();
    expect(caughtUp.checkpointed).toBe(caughtUp.log);
    expect(caughtUp.log).toBeGreaterThan(16);
    await write(1);
    expect((await checkpointer.checkpoint()).log).toBeLessThan(16);
    expect(await store.actions.count({ agentId })).toBe(20 + 3 * checkpoints + 1);
  });

  test('when the worker dies, the connection checkpoints by itself again', async () => {
    const { store, database } = await checkpointedStore();
    await database.checkpointer?.crashForTest();
    await expect
      .poll(async () => store.database.get('PRAGMA wal_autocheckpoint'))
      .toEqual({ wal_autocheckpoint: 1000 });
    const { id: agentId } = await agent(store);
    await store.committer.submit(store.actions.insertStatement(action(agentId)));
    expect(await store.actions.count({ agentId })).toBe(1);
  });

  test('short-lived openers (the CLI) checkpoint in their commits as before', async () => {
    const store = await openStore(await location());
    stores.push(store);
    expect((store.database as SqliteDatabase).checkpointer).toBeUndefined();
    expect(await store.database.get('PRAGMA wal_autocheckpoint')).toEqual({
      wal_autocheckpoint: 1000,
    });
  });
});
