import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL the benchmarks use: ARDEN_BENCH_POSTGRES_URL, else the machine's local one. */
export const benchPostgresUrl =
  process.env.ARDEN_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A PostgreSQL URL with a fresh schema of its own (through `search_path`), and a function that
 * drops it. Commits stay durable (`synchronous_commit` is left at its default, on).
 */
export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `arden_bench_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: benchPostgresUrl });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
  const url = new URL(benchPostgresUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async drop() {
      const dropper = new pg.Client({ connectionString: benchPostgresUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await dropper.end();
      }
    },
  };
}
