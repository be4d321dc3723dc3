import pg from 'pg';
import { defineConfig } from 'vitest/config';

// The suite runs against the embedded SQLite store, and again against PostgreSQL:
// ARDEN_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test, the server on this
// project's machines). CI (scripts/test.sh) sets ARDEN_REQUIRE_POSTGRES=1: then a PostgreSQL
// that does not answer fails the run instead of dropping half of it. Without that variable an
// unreachable PostgreSQL (or ARDEN_TEST_POSTGRES_URL=off) skips the postgres project, loudly.
const postgresUrl =
  process.env.ARDEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const required = ['1', 'true', 'yes'].includes(
  (process.env.ARDEN_REQUIRE_POSTGRES ?? '').toLowerCase(),
);

/** Undefined when PostgreSQL answers a query at `url`, else why not. */
async function unreachable(url: string): Promise<string | undefined> {
  if (url === 'off') return 'ARDEN_TEST_POSTGRES_URL is "off"';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const shownUrl = postgresUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
const problem = await unreachable(postgresUrl);
if (problem !== undefined) {
  if (required) {
    throw new Error(
      `ARDEN_REQUIRE_POSTGRES is set, but PostgreSQL at ${shownUrl} does not answer (${problem}). ` +
        'The postgres test project must run in CI. Start PostgreSQL: ' +
        '`bash scripts/ensure-postgres.sh` (or `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`), ' +
        'or point ARDEN_TEST_POSTGRES_URL at a PostgreSQL ≥ 13 whose database exists.',
    );
  }
  // The config is evaluated more than once per run (once per project): say it once.
  if (!process.env.ARDEN_POSTGRES_SKIP_REPORTED) {
    process.env.ARDEN_POSTGRES_SKIP_REPORTED = '1';
    process.stderr.write(
      `\n[@arden/server] SKIPPING the postgres test project: PostgreSQL at ${shownUrl} does not answer (${problem}). ` +
        'Only the sqlite project runs. Start PostgreSQL (bash scripts/ensure-postgres.sh) to run both; CI sets ARDEN_REQUIRE_POSTGRES=1 and fails instead.\n\n',
    );
  }
}
const withPostgres = problem === undefined;
const scaleOutSuite = 'src/scale-out.postgres.test.ts';

export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    testTimeout: 30_000,
    // Most tests wait on sockets and timers, not the CPU: two files at once even on two cores.
    maxWorkers: 2,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['src/**/*.test.ts'],
          // The multi-process replica and fault suites are PostgreSQL-only (SQLite is one process).
          exclude: ['src/**/*.postgres.test.ts'],
        },
      },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['src/**/*.test.ts'],
                // What does not touch the store runs once, in the sqlite project.
                exclude: [
                  'src/cli/**',
                  'src/config.test.ts',
                  'src/hooks/claude-code/settings.test.ts',
                  scaleOutSuite,
                ],
                env: { ARDEN_TEST_DATABASE_URL: postgresUrl },
                globalSetup: ['src/test-fixtures/postgres-setup.ts'],
              },
            },
            {
              // Replicas as processes, kill -9 and a PostgreSQL restart: after everything else
              // (sequence.groupOrder), alone, since it stops the database the others use.
              extends: true as const,
              test: {
                name: 'postgres-scale-out',
                include: [scaleOutSuite],
                env: { ARDEN_TEST_DATABASE_URL: postgresUrl },
                globalSetup: ['src/test-fixtures/postgres-setup.ts'],
                sequence: { groupOrder: 1 },
                testTimeout: 180_000,
              },
            },
          ]
        : []),
    ],
  },
});
