import { connect } from 'node:net';
import { defineConfig } from 'vitest/config';

// The suite runs against the embedded SQLite store, and again against PostgreSQL when one is
// reachable: ARDEN_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test, the
// server on this project's machines); set it to `off` to skip.
const postgresUrl =
  process.env.ARDEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function reachable(url: string): Promise<boolean> {
  if (url === 'off') return Promise.resolve(false);
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port || 5432) });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const withPostgres = await reachable(postgresUrl);

export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    testTimeout: 30_000,
    // Most tests wait on sockets and timers, not the CPU: two files at once even on two cores.
    maxWorkers: 2,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['src/**/*.test.ts'] } },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['src/**/*.test.ts'],
                // What does not touch the store runs once, in the sqlite project.
                exclude: ['src/cli/**', 'src/config.test.ts'],
                env: { ARDEN_TEST_DATABASE_URL: postgresUrl },
                globalSetup: ['src/test-fixtures/postgres-setup.ts'],
              },
            },
          ]
        : []),
    ],
  },
});
