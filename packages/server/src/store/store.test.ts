import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, test } from 'vitest';
import { SchemaVersionError } from '../errors';
import { createLogger } from '../logger';
import { temporaryDirectory } from '../test-fixtures/harness';
import {
  action,
  agent,
  agentRecord,
  closeStores,
  directories,
  freshStore,
  location,
  onPostgres,
  stores,
} from '../test-fixtures/store';
import {
  latestSchemaVersion,
  openStore,
  type SqliteDatabase,
  toPostgresPlaceholders,
} from './index';

afterEach(closeStores);

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
      // The turn's queued commit held several writes (concurrent load): the first write of the
      // next turn joins that turn's commit instead of committing alone.
      await new Promise((resolve) => setImmediate(resolve));
      const busy = store.committer.submit(store.actions.insertStatement(action(agentId)));
      expect(store.committer.pending).toBe(1);
      expect((await countNow())?.n).toBe(4);
      await busy;
      expect((await countNow())?.n).toBe(5);
      // That commit held one write: the load is over, and a later turn's first write is lone
      // again.
      await new Promise((resolve) => setImmediate(resolve));
      const next = store.committer.submit(store.actions.insertStatement(action(agentId)));
      expect(store.committer.pending).toBe(0);
      expect((await countNow())?.n).toBe(6);
      await next;
    },
  );

  test('a lone write while a transaction is open waits for it instead of joining it', async () => {
    const store = await freshStore();
    const { id: agentId } = await agent(store);
    let release!: () => void;
    let inserted!: () => void;
    // Resolved once the transaction has written its row and waits (no fixed sleep: under load
    // 10 ms was not always enough).
    const holding = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    const open = store.transaction(async (repositories) => {
      await repositories.actions.insert(action(agentId, { toolName: 'in.transaction' }));
      await new Promise<void>((resolve) => {
        release = resolve;
        inserted();
      });
      throw new Error('rolled back');
    });
    await holding;
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
