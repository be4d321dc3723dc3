import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger';
import { dropTestDatabase, testDatabaseUrl } from '../test-fixtures/harness';
import { PostgresDatabase } from './postgres';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a PostgreSQL connection lost while it is checked out', () => {
  it('fails the work that holds it, logs it, and never throws out of the process', async () => {
    const base = await testDatabaseUrl();
    if (base === undefined) return expect.fail('needs ARDEN_TEST_DATABASE_URL');
    cleanups.push(() => dropTestDatabase(base));
    // A TCP relay to PostgreSQL that can be cut, as a network outage would.
    const sockets = new Set<Socket>();
    const relay = createTcpServer((client) => {
      const upstream = connect(5432, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      relay.close();
      for (const socket of sockets) socket.destroy();
    });
    const url = new URL(base);
    url.port = String((relay.address() as { port: number }).port);
    const lines: string[] = [];
    const database = await PostgresDatabase.connect(
      url.toString(),
      createLogger('debug', (line) => lines.push(line)),
    );
    cleanups.push(() => database.close().catch(() => undefined));

    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    cleanups.push(() => {
      process.off('uncaughtException', onUncaught);
    });

    // Between two statements of one transaction the network goes: the connection, checked out,
    // emits 'error' with no statement in flight.
    const work = database.transaction(async (transaction) => {
      await transaction.run('SELECT 1');
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await transaction.run('SELECT 2');
    });
    await expect(work).rejects.toThrow(/cannot reach its database/);
    expect(uncaught).toEqual([]);
    expect(lines.join('')).toMatch(/A PostgreSQL connection in use failed/);
  });
});
