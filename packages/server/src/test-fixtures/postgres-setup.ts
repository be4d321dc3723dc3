// Global setup of the `postgres` test project: every test server gets a schema of its own
// (arden_test_…); they are all dropped here, before and after the run, instead of one by one.
import pg from 'pg';

async function dropTestSchemas(): Promise<void> {
  const url = process.env.ARDEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: url, options: '-c synchronous_commit=off' });
  await client.connect();
  try {
    const { rows } = await client.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'arden\\_test\\_%'",
    );
    for (const row of rows) await client.query(`DROP SCHEMA IF EXISTS "${row.nspname}" CASCADE`);
  } finally {
    await client.end();
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  await dropTestSchemas();
  return dropTestSchemas;
}
