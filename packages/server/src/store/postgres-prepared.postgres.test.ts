import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger';
import { dropTestDatabase, testDatabaseUrl } from '../test-fixtures/harness';
import { PostgresDatabase } from './postgres';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('statements run often on PostgreSQL', () => {
  it('are prepared once per connection from their third run; texts with a * never are', async () => {
    const url = await testDatabaseUrl();
    if (url === undefined) return expect.fail('needs ARDEN_TEST_DATABASE_URL');
    cleanups.push(() => dropTestDatabase(url));
    const database = await PostgresDatabase.connect(url, createLogger('silent'));
    cleanups.push(() => database.close());
    await database.exec('CREATE TABLE prepared_probe (id TEXT PRIMARY KEY, value TEXT)');
    const often = 'SELECT value FROM prepared_probe WHERE id = ? AND value <> ?';
    const star = 'SELECT * FROM prepared_probe WHERE id = ? AND value <> ?';
    const prepared = await database.dedicated(async (connection) => {
      for (let run = 1; run <= 4; run++) {
        await connection.run('INSERT INTO prepared_probe (id, value) VALUES (?, ?)', [
          `row-${run}`,
          `value ${run}`,
        ]);
        // The same answers whether prepared or not.
        expect(await connection.get(often, [`row-${run}`, 'x'])).toEqual({ value: `value ${run}` });
        expect(await connection.get(star, [`row-${run}`, 'x'])).toEqual({
          id: `row-${run}`,
          value: `value ${run}`,
        });
      }
      return connection.all<{ statement: string }>(
        'SELECT statement FROM pg_prepared_statements ORDER BY statement',
      );
    });
    expect(prepared.map((row) => row.statement)).toEqual([
      'INSERT INTO prepared_probe (id, value) VALUES ($1, $2)',
      'SELECT value FROM prepared_probe WHERE id = $1 AND value <> $2',
    ]);
    // An error in a prepared statement is the statement's, as before.
    await expect(
      database.run('INSERT INTO prepared_probe (id, value) VALUES (?, ?)', ['row-1', 'again']),
    ).rejects.toThrow(/duplicate key/);
  });
});
