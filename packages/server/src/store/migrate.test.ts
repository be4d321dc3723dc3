// `arden migrate` against the store of the project (SQLite, or PostgreSQL in the postgres
// project): applies the migrations, is a no-op the second time, refuses a database migrated by
// a newer server without touching it, and several processes migrating at once apply each
// migration once.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import type { CliIo } from '../cli/io';
import { run } from '../cli/main';
import { temporaryDirectory, testDatabaseUrl } from '../test-fixtures/harness';
import { latestSchemaVersion, migrations, openStore } from './index';

const builtCli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

const directories: string[] = [];
afterEach(() => {
  while (directories.length > 0)
    rmSync(directories.pop() as string, { recursive: true, force: true });
});

async function location(): Promise<{ flags: string[]; dataDir: string; databaseUrl?: string }> {
  const dataDir = temporaryDirectory();
  directories.push(dataDir);
  const databaseUrl = await testDatabaseUrl();
  return databaseUrl
    ? { flags: ['--db', databaseUrl], dataDir, databaseUrl }
    : { flags: ['--data-dir', dataDir], dataDir };
}

async function arden(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    cwd: process.cwd(),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

describe('arden migrate', () => {
  test('applies every migration once, then is up to date', async () => {
    const where = await location();
    const first = await arden(['migrate', ...where.flags]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Done: schema version 0 → ${latestSchemaVersion}.`);
    for (const migration of migrations) {
      expect(first.stdout).toContain(`applied ${migration.version}: ${migration.name}`);
    }
    const again = await arden(['migrate', ...where.flags]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Already up to date (schema version ${latestSchemaVersion})`);
    const store = await openStore({ ...where, migrate: false });
    try {
      const rows = await store.database.all<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((row) => Number(row.version))).toEqual(
        migrations.map((migration) => migration.version),
      );
    } finally {
      await store.close();
    }
  });

  test('refuses a database migrated by a newer server, and changes nothing', async () => {
    const where = await location();
    expect((await arden(['migrate', ...where.flags])).code).toBe(0);
    const store = await openStore({ ...where, migrate: false });
    const future = latestSchemaVersion + 1;
    await store.database.run(
      'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
      [future, 'from a newer server', Date.now()],
    );
    const before = await store.database.all('SELECT * FROM schema_migrations ORDER BY version');
    await store.close();

    const refused = await arden(['migrate', ...where.flags]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`has schema version ${future}`);
    expect(refused.stderr).toContain(`knows only up to version ${latestSchemaVersion}`);
    expect(refused.stderr).toContain('upgrade @arden/server');
    expect(refused.stdout).not.toContain('applied');

    // The server refuses to start on it too.
    await expect(openStore(where)).rejects.toThrow(/upgrade @arden\/server/);
    const reopened = await openStore({ ...where, migrate: false });
    try {
      expect(
        await reopened.database.all('SELECT * FROM schema_migrations ORDER BY version'),
      ).toEqual(before);
    } finally {
      await reopened.close();
    }
  });

  test('several processes migrating one new database at once apply each migration once', async () => {
    if (!existsSync(builtCli)) {
      throw new Error(
        'This test runs the built CLI: run `pnpm --filter @arden/server build` first.',
      );
    }
    const where = await location();
    const runs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = spawn(process.execPath, [builtCli, 'migrate', ...where.flags], {
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (chunk) => {
              stdout += chunk;
            });
            child.stderr.on('data', (chunk) => {
              stderr += chunk;
            });
            child.on('exit', (code) => resolve({ code, stdout, stderr }));
          }),
      ),
    );
    for (const result of runs) expect(result.stderr, result.stderr).toBe('');
    expect(runs.map((result) => result.code)).toEqual([0, 0, 0, 0]);
    const applied = runs
      .flatMap((result) => [...result.stdout.matchAll(/applied (\d+):/g)].map((m) => Number(m[1])))
      .sort((a, b) => a - b);
    expect(applied).toEqual(migrations.map((migration) => migration.version));
  }, 60_000);
});
