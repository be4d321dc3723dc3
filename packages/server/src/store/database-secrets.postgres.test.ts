import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../errors';
import { createLogger } from '../logger';
import { dropTestDatabase, startTestServer, testDatabaseUrl } from '../test-fixtures/harness';
import { connectionSecrets, openStore, redactUrl, sqlitePath } from '.';

// Credentials in every form a PostgreSQL URL can carry them, each a text that must never show.
const userPassword = 'Us3r-Pa55-word';
const queryPassword = 'Qu3ry-Pa55-word';
const sslPassword = 'Ssl-Pa55-phrase';
const sslKey = '/tmp/arden-secret-key-dir/client.key';
const secrets = [userPassword, queryPassword, sslPassword, sslKey];

function leaked(text: string): string[] {
  return secrets.flatMap((secret) =>
    [secret, encodeURIComponent(secret)].filter((form) => text.includes(form)),
  );
}

/** A TCP relay to PostgreSQL that can be cut, as a network outage would. */
async function relay(): Promise<{ port: number; cut(): Promise<void>; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createTcpServer((client) => {
    const upstream = connect(5432, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('database credentials', () => {
  it('redactUrl hides the user password and the password, sslpassword and sslkey parameters', () => {
    const url = `postgres://arden:${encodeURIComponent(userPassword)}@db.internal:5432/arden?password=${queryPassword}&sslpassword=${sslPassword}&sslkey=${encodeURIComponent(sslKey)}&sslmode=require`;
    const shown = redactUrl(url);
    expect(leaked(shown)).toEqual([]);
    expect(shown).toBe(
      'postgres://arden:***@db.internal:5432/arden?password=***&sslpassword=***&sslkey=***&sslmode=require',
    );
    expect(connectionSecrets(url)).toEqual(
      expect.arrayContaining([userPassword, queryPassword, sslPassword, sslKey]),
    );
    expect(redactUrl(`postgres://arden:${userPassword}@[bad`)).toBe('postgres://…');
  });

  it('a libpq key=value string or another scheme is refused without repeating it', async () => {
    for (const setting of [
      `host=db.internal user=arden password=${userPassword} dbname=arden`,
      `mysql://arden:${userPassword}@db.internal/arden`,
    ]) {
      let error: unknown;
      try {
        sqlitePath({ databaseUrl: setting });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect(leaked((error as Error).message)).toEqual([]);
      await expect(openStore({ databaseUrl: setting })).rejects.toThrow(/DATABASE_URL/);
    }
  });

  it('a password, sslpassword or sslkey under 4 characters is refused at start, without repeating it', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', (line) => lines.push(line));
    for (const setting of [
      'postgres://arden:pw@127.0.0.1:1/arden',
      'postgres://arden:%41@127.0.0.1:1/arden',
      'postgres://arden@127.0.0.1:1/arden?password=abc',
      'postgres://arden:long-enough@127.0.0.1:1/arden?sslpassword=xy',
    ]) {
      let error: unknown;
      try {
        await openStore({ databaseUrl: setting, logger });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(/shorter than 4 characters.*Use a longer password/);
      expect((error as Error).message).not.toMatch(/:pw@|abc|xy|%41/);
    }
    // Refused before connecting: nothing was tried, so nothing was logged.
    expect(lines).toEqual([]);
  });

  it('a failed connection (nothing listening, no such database, an unreadable sslkey) names no secret', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', (line) => lines.push(line));
    const relayed = await relay();
    await relayed.cut();
    const urls = [
      `postgres://postgres:${userPassword}@127.0.0.1:${relayed.port}/arden?password=${queryPassword}&sslpassword=${sslPassword}`,
      `postgres://postgres:${userPassword}@127.0.0.1:5432/arden_no_such_database?password=${queryPassword}`,
      `postgres://postgres:${userPassword}@127.0.0.1:${relayed.port}/arden?sslkey=${encodeURIComponent(sslKey)}&sslpassword=${sslPassword}`,
    ];
    for (const url of urls) {
      let error: Error | undefined;
      try {
        await openStore({ databaseUrl: url, logger });
      } catch (caught) {
        error = caught as Error;
      }
      expect(error?.message).toMatch(/Could not connect to PostgreSQL/);
      const everything = `${error?.message} ${error?.stack} ${JSON.stringify(error)} ${String((error as { cause?: unknown })?.cause ?? '')}`;
      expect(leaked(everything)).toEqual([]);
    }
    expect(leaked(lines.join(''))).toEqual([]);
  });

  it('during an outage, every answer says only that the store is unavailable, and the log holds no secret', async () => {
    const base = (await testDatabaseUrl()) as string;
    cleanups.push(() => dropTestDatabase(base));
    const relayed = await relay();
    cleanups.push(() => relayed.close());
    const url = new URL(base);
    url.username = 'postgres';
    url.password = userPassword;
    url.port = String(relayed.port);
    url.searchParams.set('password', queryPassword);
    url.searchParams.set('sslpassword', sslPassword);
    const lines: string[] = [];
    const t = await startTestServer({
      databaseUrl: url.toString(),
      logger: createLogger('debug', (line) => lines.push(line)),
      sweepIntervalMs: 100,
    });
    cleanups.push(() => t.close());
    const schema = /search_path=(arden_test_[0-9a-f]+)/.exec(base)?.[1] as string;
    const database = new URL(base).pathname.slice(1);
    expect((await t.request('GET', '/readyz')).status).toBe(200);

    await relayed.cut();
    const answers = [
      await t.request('POST', '/policy/check', {
        body: { tool_name: 'refund', args: { amount: 5 } },
      }),
      await t.request('POST', '/policy/check', {
        key: null,
        body: { tool_name: 'refund', args: {} },
      }),
      await t.request('GET', '/status/01a2b3c4-0000-7000-8000-000000000000'),
      await t.request('GET', '/readyz', { key: null }),
      await t.request('POST', '/api/v1/auth/login', {
        key: null,
        body: { email: 'admin@example.com', password: 'anything at all' },
      }),
      await t.request('GET', '/api/v1/actions', {
        key: null,
        headers: { authorization: 'Bearer arden_admin_not-a-real-token' },
      }),
    ];
    // The sweeper, the webhook worker and the requests above all had their turn to log.
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    expect(answers.map((answer) => answer.status)).toContain(503);
    for (const answer of answers) {
      let shown = `${answer.status} ${answer.text}`;
      answer.headers.forEach((value, name) => {
        shown += ` ${name}: ${value}`;
      });
      expect(leaked(shown)).toEqual([]);
      for (const hint of [
        `:${relayed.port}`,
        '127.0.0.1',
        database,
        schema,
        'postgres',
        'ECONNREFUSED',
      ]) {
        expect(shown).not.toContain(hint);
      }
      if (answer.status === 503 && answer.json?.error) {
        expect(answer.json.error).toMatch(/cannot reach its database|store is not reachable/);
      }
    }
    const log = lines.join('');
    expect(log).toMatch(/The database is unreachable; answering 503/);
    expect(log).toContain(`127.0.0.1:${relayed.port}`);
    expect(leaked(log)).toEqual([]);
  });
});
