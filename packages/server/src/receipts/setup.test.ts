import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLogger } from '../logger';
import { type ArdenServer, createServer } from '../server';
import { dropTestDatabase, temporaryDirectory, testDatabaseUrl } from '../test-fixtures/harness';

// How the server opens receipts (receipts/setup.ts): `required` refuses to start without a
// secret, PostgreSQL without one runs with receipts off (and says so), SQLite makes its
// `receipt-secret` file; the secret never shows in the logs. Each project runs its own cases.

const onPostgres = Boolean(process.env.ARDEN_TEST_DATABASE_URL);
const saved = process.env.ARDEN_RECEIPT_SECRET;
const cleanup: { dataDir: string; databaseUrl: string | undefined }[] = [];

beforeAll(() => {
  // These tests are about a server started without a secret.
  delete process.env.ARDEN_RECEIPT_SECRET;
  delete process.env.ARDEN_RECEIPTS;
});

afterAll(async () => {
  if (saved !== undefined) process.env.ARDEN_RECEIPT_SECRET = saved;
  for (const { dataDir, databaseUrl } of cleanup) {
    rmSync(dataDir, { recursive: true, force: true });
    await dropTestDatabase(databaseUrl);
  }
});

async function place(): Promise<{ dataDir: string; databaseUrl: string | undefined }> {
  const where = { dataDir: temporaryDirectory(), databaseUrl: await testDatabaseUrl() };
  cleanup.push(where);
  return where;
}

/** A server on `where`, its log lines kept (at debug level). */
async function start(
  where: { dataDir: string; databaseUrl: string | undefined },
  receipts: { secret?: string; mode?: 'on' | 'required' | 'off' },
  lines: string[],
): Promise<ArdenServer> {
  return createServer({
    host: '127.0.0.1',
    ...where,
    receipts,
    workers: false,
    logger: createLogger('debug', (line) => lines.push(line)),
  });
}

describe('opening receipts', () => {
  test('ARDEN_RECEIPTS=required refuses to start without a secret, and makes none', async () => {
    const where = await place();
    const lines: string[] = [];
    await expect(start(where, { mode: 'required' }, lines)).rejects.toThrow(
      /Receipts are required \(ARDEN_RECEIPTS=required\) but no receipt secret is set: set ARDEN_RECEIPT_SECRET/,
    );
    expect(existsSync(join(where.dataDir, 'receipt-secret'))).toBe(false);
    // With a secret, required starts and signs.
    const server = await start(
      where,
      { mode: 'required', secret: 'required-secret-0123456789' },
      [],
    );
    try {
      expect(server.receipts.enabled).toBe(true);
    } finally {
      await server.close();
    }
  });

  test.skipIf(!onPostgres)(
    'PostgreSQL without a secret runs with receipts off, with the documented warning',
    async () => {
      const where = await place();
      const lines: string[] = [];
      const server = await start(where, {}, lines);
      try {
        expect(server.receipts.enabled).toBe(false);
        expect(server.receipts.keysDocument()).toEqual({ keys: [], receipts: 'disabled' });
        const warning = lines.map((line) => JSON.parse(line)).find((line) => line.level === 'warn');
        expect(warning?.message).toBe(
          'Receipts are off: no receipt secret. Set ARDEN_RECEIPT_SECRET (the same on every replica) to sign every decision; see docs/security.md.',
        );
        // No secret is made up for it, in the data directory or anywhere it would say.
        expect(existsSync(join(where.dataDir, 'receipt-secret'))).toBe(false);
        expect(await server.store.receipts.keys()).toEqual([]);
      } finally {
        await server.close();
      }
    },
  );

  test.skipIf(onPostgres)(
    'SQLite without a secret makes its receipt-secret file once (0600), warns, and reuses it',
    async () => {
      const where = await place();
      const lines: string[] = [];
      const first = await start(where, {}, lines);
      const file = join(where.dataDir, 'receipt-secret');
      let kid: string | undefined;
      try {
        expect(first.receipts.enabled).toBe(true);
        kid = first.receipts.keysDocument().keys[0]?.kid;
      } finally {
        await first.close();
      }
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const secret = readFileSync(file, 'utf8').trim();
      expect(secret.length).toBeGreaterThanOrEqual(16);
      const warnings = lines
        .map((line) => JSON.parse(line))
        .filter((line) => line.level === 'warn');
      expect(warnings).toEqual([
        expect.objectContaining({
          message: expect.stringContaining('No receipt secret was set, so one was made'),
          file,
        }),
      ]);
      // A second start opens the same keys with the file, without warning again.
      const again: string[] = [];
      const second = await start(where, {}, again);
      try {
        expect(second.receipts.keysDocument().keys[0]?.kid).toBe(kid);
        expect(again.some((line) => JSON.parse(line).level === 'warn')).toBe(false);
      } finally {
        await second.close();
      }
      expect(readFileSync(file, 'utf8').trim()).toBe(secret);
      for (const line of [...lines, ...again]) expect(line).not.toContain(secret);
    },
  );

  test('the secret never appears in the logs, even where a message would carry it', async () => {
    const where = await place();
    const secret = 'never-log-this-secret-0123456789';
    const lines: string[] = [];
    const server = await start(where, { secret }, lines);
    try {
      await server.receipts.rotate();
      // Code that logged the configuration or an error quoting the secret still would not show it.
      server.logger.error(`Something failed with ${secret} in it`, { detail: `x${secret}x` });
    } finally {
      await server.close();
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((line) => line.includes('Rotated the receipt signing key'))).toBe(true);
    for (const line of lines) expect(line).not.toContain(secret);
  });
});
