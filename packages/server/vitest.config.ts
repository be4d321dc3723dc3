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
// What does not touch the store runs once, in the sqlite projects.
const storeless = ['src/cli/**', 'src/config.test.ts', 'src/hooks/claude-code/settings.test.ts'];

// The test files run without isolation: each worker process imports the server's modules once
// and runs file after file in them (measured: the sqlite project 255 → 126 s on 2 cores, the
// module imports 124 → 11 s). The servers a file starts are its own objects, and every file
// closes them. These files read or change what there is one of per process, so each runs in a
// fresh module graph of its own: the logger's hidden texts (a receipt secret of another file
// blanks words in a log line), the names of prepared statements, the OpenTelemetry globals,
// environment variables, and process-wide error handlers.
const ownProcessState = [
  'src/receipts/setup.test.ts',
  'src/store/postgres-prepared.postgres.test.ts',
  'src/store/connection-lost.postgres.test.ts',
  'src/telemetry/tracing.test.ts',
  'src/telemetry/metrics.test.ts',
  'src/testing/child-process.test.ts',
  'src/webhooks/sender.test.ts',
];
const postgresEnv = { ARDEN_TEST_DATABASE_URL: postgresUrl };
const postgresSetup = ['src/test-fixtures/postgres-setup.ts'];

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
          exclude: ['src/**/*.postgres.test.ts', ...ownProcessState],
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'sqlite-isolated',
          include: ownProcessState.filter((file) => !file.endsWith('.postgres.test.ts')),
        },
      },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['src/**/*.test.ts'],
                exclude: [...storeless, scaleOutSuite, ...ownProcessState],
                isolate: false,
                env: postgresEnv,
                globalSetup: postgresSetup,
              },
            },
            {
              extends: true as const,
              test: {
                name: 'postgres-isolated',
                include: ownProcessState,
                env: postgresEnv,
                globalSetup: postgresSetup,
              },
            },
            {
              // Replicas as processes, kill -9 and a PostgreSQL restart: after everything else
              // (sequence.groupOrder), alone, since it stops the database the others use.
              extends: true as const,
              test: {
                name: 'postgres-scale-out',
                include: [scaleOutSuite],
                env: postgresEnv,
                globalSetup: postgresSetup,
                sequence: { groupOrder: 1 },
                testTimeout: 180_000,
              },
            },
          ]
        : []),
    ],
  },
});
