import { agentOwnerSchema } from '../agents/migration';
import { approvalsMigration } from '../approvals/migration';
import { budgetsSchema } from '../budgets/migration';
import { channelsSchema } from '../channels/migration';
import { SchemaVersionError } from '../errors';
import type { Logger } from '../logger';
import {
  mcpHttpShowBlockedToolsSchema,
  mcpHttpUpstreamsSchema,
  mcpUpstreamsSchema,
} from '../mcp/migration';
import { memorySchema, memoryVersionsSchema, refusalsIndexSchema } from '../memory/migration';
import { refusedSql } from '../memory/repository';
import { receiptsSchema } from '../receipts/migration';
import { sensitiveSchema } from '../sensitive/migration';
import { sessionUsageSchema, usageReceivedSchema } from '../usage/migration';
import type { Database, Dialect, Queryable } from './database';

/** One schema change, written once per dialect. */
export interface Migration {
  version: number;
  name: string;
  /** A script per dialect; an array is run statement by statement. */
  sql: Record<Dialect, string | readonly string[]>;
  /**
   * PostgreSQL only: run the statements outside a transaction, one by one (for
   * `CREATE INDEX CONCURRENTLY`, which builds an index without blocking writes of the replicas
   * still running). Each statement must be safe to run again (`IF NOT EXISTS`): a migration
   * interrupted half-way is resumed by the next run.
   */
  concurrently?: boolean;
}

// Tables shared by both dialects, with the few type words that differ filled in.
function initialSchema(dialect: Dialect): string {
  const time = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const sequence =
    dialect === 'sqlite'
      ? 'INTEGER PRIMARY KEY'
      : 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY';
  const real = dialect === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION';
  return `
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT,
  default_action TEXT NOT NULL DEFAULT 'allow'
    CHECK (default_action IN ('allow', 'block', 'requires_approval')),
  webhook_url TEXT,
  signing_key TEXT NOT NULL,
  created_at ${time} NOT NULL,
  updated_at ${time} NOT NULL,
  deleted_at ${time}
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL REFERENCES agents (id),
  environment TEXT NOT NULL CHECK (environment IN ('test', 'live')),
  name TEXT,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at ${time} NOT NULL,
  revoked_at ${time},
  last_used_at ${time}
);
CREATE INDEX api_keys_agent ON api_keys (agent_id);

CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL REFERENCES agents (id),
  environment TEXT NOT NULL CHECK (environment IN ('test', 'live')),
  name TEXT NOT NULL,
  tool TEXT NOT NULL,
  definition TEXT NOT NULL,
  position INTEGER NOT NULL,
  version INTEGER NOT NULL,
  created_by TEXT,
  created_at ${time} NOT NULL,
  updated_at ${time} NOT NULL,
  UNIQUE (agent_id, environment, name)
);

CREATE TABLE policy_versions (
  agent_id TEXT NOT NULL REFERENCES agents (id),
  environment TEXT NOT NULL,
  version INTEGER NOT NULL,
  policies TEXT NOT NULL,
  diff TEXT NOT NULL,
  message TEXT,
  created_by TEXT,
  created_at ${time} NOT NULL,
  PRIMARY KEY (agent_id, environment, version)
);

CREATE TABLE actions (
  seq ${sequence},
  id TEXT NOT NULL UNIQUE,
  agent_id TEXT NOT NULL REFERENCES agents (id),
  environment TEXT NOT NULL,
  tool_name TEXT NOT NULL,
  args TEXT NOT NULL,
  kwargs TEXT NOT NULL,
  metadata TEXT,
  session_id TEXT,
  decision TEXT NOT NULL,
  reason TEXT,
  policy TEXT,
  status TEXT NOT NULL,
  expires_at ${time},
  on_timeout TEXT,
  decided_by TEXT,
  decided_at ${time},
  notes TEXT,
  result_status TEXT,
  duration_ms ${real},
  result_error TEXT,
  result TEXT,
  reported_at ${time},
  created_at ${time} NOT NULL
);
CREATE INDEX actions_pending ON actions (expires_at) WHERE status = 'pending';
CREATE INDEX actions_session ON actions (session_id, seq) WHERE session_id IS NOT NULL;

CREATE TABLE usage (
  seq ${sequence},
  id TEXT NOT NULL,
  agent_id TEXT NOT NULL REFERENCES agents (id),
  environment TEXT NOT NULL,
  session_id TEXT,
  model TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost_usd ${real} NOT NULL,
  rate_found INTEGER NOT NULL,
  created_at ${time} NOT NULL
);

CREATE TABLE webhook_outbox (
  id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  agent_id TEXT NOT NULL REFERENCES agents (id),
  action_id TEXT,
  event_type TEXT NOT NULL,
  url TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at ${time} NOT NULL,
  lease_owner TEXT,
  lease_until ${time},
  last_status INTEGER,
  last_error TEXT,
  created_at ${time} NOT NULL,
  delivered_at ${time}
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_outbox_agent ON webhook_outbox (agent_id, created_at);
CREATE INDEX webhook_outbox_action ON webhook_outbox (action_id);

CREATE TABLE webhook_attempts (
  id TEXT PRIMARY KEY,
  outbox_id TEXT NOT NULL REFERENCES webhook_outbox (id),
  attempt INTEGER NOT NULL,
  status_code INTEGER,
  error TEXT,
  duration_ms ${real} NOT NULL,
  at ${time} NOT NULL
);
CREATE INDEX webhook_attempts_outbox ON webhook_attempts (outbox_id);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT,
  password_hash TEXT,
  role TEXT NOT NULL CHECK (role IN ('admin', 'approver', 'viewer')),
  created_at ${time} NOT NULL,
  updated_at ${time} NOT NULL,
  last_login_at ${time},
  disabled_at ${time}
);

CREATE TABLE user_sessions (
  id_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  csrf_token TEXT,
  user_agent TEXT,
  created_at ${time} NOT NULL,
  last_seen_at ${time} NOT NULL,
  expires_at ${time} NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

CREATE TABLE admin_tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at ${time} NOT NULL,
  expires_at ${time},
  revoked_at ${time},
  last_used_at ${time}
);
`;
}

function dailyUsage(dialect: Dialect): string[] {
  const big = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const real = dialect === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION';
  return [
    `CREATE TABLE usage_daily (
  day INTEGER NOT NULL,
  agent_id TEXT NOT NULL,
  environment TEXT NOT NULL,
  model TEXT NOT NULL,
  events ${big} NOT NULL,
  prompt_tokens ${big} NOT NULL,
  completion_tokens ${big} NOT NULL,
  cost_usd ${real} NOT NULL,
  unpriced ${big} NOT NULL,
  PRIMARY KEY (day, agent_id, environment, model)
)`,
    `INSERT INTO usage_daily (day, agent_id, environment, model, events, prompt_tokens,
   completion_tokens, cost_usd, unpriced)
 SELECT created_at / 86400000, agent_id, environment, model, COUNT(*), SUM(prompt_tokens),
   SUM(completion_tokens), SUM(cost_usd), SUM(1 - rate_found)
 FROM usage GROUP BY created_at / 86400000, agent_id, environment, model`,
  ];
}

// What the action log's filters and the usage page need at millions of rows, and no more: each
// index is a cost on every insert. created_at indexes grow at their right edge (appends); the
// agent one touches one leaf per agent; the "attention" one only rows that were not simply
// allowed. The tool index touches a leaf per tool in every commit: measured (bench log-scale)
// it halves SQLite's raw insert rate, so only PostgreSQL — the store for scale — has it; on
// SQLite a tool filter reads the log newest first. PostgreSQL builds them CONCURRENTLY
// (running replicas keep writing).
function scaleIndexes(dialect: Dialect): string[] {
  const create =
    dialect === 'postgres'
      ? 'CREATE INDEX CONCURRENTLY IF NOT EXISTS'
      : 'CREATE INDEX IF NOT EXISTS';
  // Tool names are matched byte for byte (exact or prefix): a "C" collation index on PostgreSQL,
  // whatever the database's collation.
  const tool = dialect === 'postgres' ? 'tool_name COLLATE "C"' : 'tool_name';
  return [
    `${create} actions_scale_created ON actions (created_at)`,
    `${create} actions_scale_agent ON actions (agent_id, seq)`,
    ...(dialect === 'postgres' ? [`${create} actions_scale_tool ON actions (${tool}, seq)`] : []),
    `${create} actions_scale_attention ON actions (seq) WHERE decision <> 'allow'`,
    `${create} usage_scale_created ON usage (created_at)`,
    `${create} usage_scale_session ON usage (session_id) WHERE session_id IS NOT NULL`,
  ];
}

/** Every migration this server knows, oldest first. Never edit one that has shipped. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: { sqlite: initialSchema('sqlite'), postgres: initialSchema('postgres') },
  },
  {
    version: 2,
    name: 'webhook endpoint health',
    // Nullable columns without a default: instant on PostgreSQL, whatever the table's size.
    sql: {
      sqlite: [
        'ALTER TABLE agents ADD COLUMN webhook_failing_since INTEGER',
        'ALTER TABLE agents ADD COLUMN webhook_disabled_at INTEGER',
        'ALTER TABLE agents ADD COLUMN webhook_disabled_reason TEXT',
      ],
      postgres: [
        'ALTER TABLE agents ADD COLUMN IF NOT EXISTS webhook_failing_since BIGINT',
        'ALTER TABLE agents ADD COLUMN IF NOT EXISTS webhook_disabled_at BIGINT',
        'ALTER TABLE agents ADD COLUMN IF NOT EXISTS webhook_disabled_reason TEXT',
      ],
    },
  },
  {
    version: 3,
    name: 'daily usage totals',
    // Kept up to date by every usage write (in the same transaction); the usage page adds up
    // days from here instead of reading every event. Filled from the events already stored.
    sql: { sqlite: dailyUsage('sqlite'), postgres: dailyUsage('postgres') },
  },
  {
    version: 4,
    name: 'indexes for a large action log',
    concurrently: true,
    sql: { sqlite: scaleIndexes('sqlite'), postgres: scaleIndexes('postgres') },
  },
  {
    version: 5,
    name: 'MCP upstreams',
    sql: { sqlite: mcpUpstreamsSchema('sqlite'), postgres: mcpUpstreamsSchema('postgres') },
  },
  {
    version: 6,
    name: 'policies with memory',
    concurrently: true,
    sql: { sqlite: memorySchema('sqlite'), postgres: memorySchema('postgres') },
  },
  {
    version: 7,
    name: 'budgets, counters and reservations',
    sql: { sqlite: budgetsSchema('sqlite'), postgres: budgetsSchema('postgres') },
  },
  {
    version: 8,
    name: 'signed receipts and the audit chain',
    sql: { sqlite: receiptsSchema('sqlite'), postgres: receiptsSchema('postgres') },
  },
  {
    version: 9,
    name: 'approvals: votes, edits, in-app decisions; user groups',
    sql: { sqlite: approvalsMigration('sqlite'), postgres: approvalsMigration('postgres') },
  },
  {
    version: 10,
    name: 'notification channels',
    sql: { sqlite: channelsSchema('sqlite'), postgres: channelsSchema('postgres') },
  },
  {
    version: 11,
    name: 'MCP HTTP upstreams',
    sql: { sqlite: mcpHttpUpstreamsSchema('sqlite'), postgres: mcpHttpUpstreamsSchema('postgres') },
  },
  {
    version: 12,
    name: 'sensitive arguments, sealed, and who read them',
    sql: { sqlite: sensitiveSchema('sqlite'), postgres: sensitiveSchema('postgres') },
  },
  {
    version: 13,
    name: 'refusals of a session found with one seek',
    concurrently: true,
    sql: {
      sqlite: refusalsIndexSchema('sqlite', refusedSql),
      postgres: refusalsIndexSchema('postgres', refusedSql),
    },
  },
  {
    version: 14,
    name: 'usage totals per session and day',
    sql: { sqlite: sessionUsageSchema('sqlite'), postgres: sessionUsageSchema('postgres') },
  },
  {
    version: 15,
    name: 'agent owners; sensitive values in webhooks by agent setting',
    sql: { sqlite: agentOwnerSchema('sqlite'), postgres: agentOwnerSchema('postgres') },
  },
  {
    version: 16,
    name: 'memory versions: checks with memory arbitrated at commit on PostgreSQL',
    sql: { sqlite: memoryVersionsSchema('sqlite'), postgres: memoryVersionsSchema('postgres') },
  },
  {
    version: 18,
    name: 'MCP HTTP upstreams: keep blocked tools in tools/list, by upstream',
    sql: {
      sqlite: mcpHttpShowBlockedToolsSchema('sqlite'),
      postgres: mcpHttpShowBlockedToolsSchema('postgres'),
    },
  },
  {
    version: 21,
    name: 'usage: the time the server received it (agent.cost_usd windows)',
    concurrently: true,
    sql: { sqlite: usageReceivedSchema('sqlite'), postgres: usageReceivedSchema('postgres') },
  },
];

/** The newest schema version this server knows. */
export const latestSchemaVersion = migrations[migrations.length - 1]?.version ?? 0;

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

// The PostgreSQL advisory lock that serialises migrating processes.
const migrationLock = 8787001;

async function readVersion(queryable: Queryable): Promise<number> {
  await queryable.exec(createMigrationsTable);
  const row = await queryable.get<{ version: number | null }>(
    'SELECT MAX(version) AS version FROM schema_migrations',
  );
  return Number(row?.version ?? 0);
}

/** The schema version of a database (0 when it is empty). */
export async function schemaVersion(database: Database): Promise<number> {
  if (database.dialect === 'postgres') {
    // CREATE TABLE IF NOT EXISTS is not safe against itself on PostgreSQL: under the lock.
    return withMigrationLock(database, readVersion);
  }
  return readVersion(database);
}

function statementsOf(sql: string | readonly string[]): string[] {
  return typeof sql === 'string' ? [sql] : [...sql];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` on one PostgreSQL connection holding the migration lock (a session-level advisory
 * lock). Waiting is done by polling `pg_try_advisory_lock` from here, never inside a statement:
 * a session blocked in a statement holds a snapshot, and CREATE INDEX CONCURRENTLY in the
 * migrating session would wait for it — a deadlock.
 */
async function withMigrationLock<T>(
  database: Database,
  fn: (connection: Queryable) => Promise<T>,
  logger?: Logger,
): Promise<T> {
  if (!database.dedicated) throw new Error('This database has no dedicated connections.');
  return database.dedicated(async (connection) => {
    let waitingSince: number | undefined;
    for (;;) {
      const row = await connection.get<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(?) AS locked',
        [migrationLock],
      );
      if (row?.locked) break;
      const now = Date.now();
      if (waitingSince === undefined) {
        waitingSince = now;
        logger?.info('Another process is migrating the database; waiting for it');
      }
      await sleep(Math.min(1_000, 50 + (now - waitingSince) / 10));
    }
    try {
      return await fn(connection);
    } finally {
      await connection.get('SELECT pg_advisory_unlock(?) AS unlocked', [migrationLock]);
    }
  });
}

async function applyPostgres(
  connection: Queryable,
  migration: Migration,
  logger?: Logger,
): Promise<void> {
  const statements = statementsOf(migration.sql.postgres);
  const record = async () =>
    connection.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
      migration.version,
      migration.name,
      Date.now(),
    ]);
  if (migration.concurrently) {
    for (const statement of statements) {
      const index = /CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+(\w+)/i.exec(
        statement,
      )?.[1];
      if (index) {
        // A concurrent build that was interrupted leaves an INVALID index behind, which
        // IF NOT EXISTS would keep: drop it and build again.
        const invalid = await connection.get(
          `SELECT 1 AS invalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE c.relname = ? AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
             AND NOT i.indisvalid`,
          [index],
        );
        if (invalid) {
          logger?.warn('Rebuilding an index left invalid by an interrupted migration', { index });
          await connection.exec(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
        }
      }
      if (index) logger?.info('Building an index (concurrently)', { index });
      await connection.exec(statement);
    }
    await record();
    return;
  }
  await connection.exec('BEGIN');
  try {
    for (const statement of statements) await connection.exec(statement);
    await record();
    await connection.exec('COMMIT');
  } catch (error) {
    await connection.exec('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Brings the schema up to date: applies each missing migration (in its own transaction, except
 * PostgreSQL's concurrent index builds) and records it in `schema_migrations`. Refuses (with
 * `SchemaVersionError`) a database migrated by a newer server, before changing anything. Safe to
 * run from several processes at once: on PostgreSQL they take turns on an advisory lock, on
 * SQLite on the write lock.
 */
export async function migrate(
  database: Database,
  logger?: Logger,
): Promise<{ from: number; to: number; applied: number[] }> {
  const applied: number[] = [];
  const announce = (migration: Migration) => {
    applied.push(migration.version);
    logger?.info('Applied a database migration', {
      version: migration.version,
      name: migration.name,
    });
  };
  if (database.dialect === 'postgres') {
    const from = await withMigrationLock(
      database,
      async (connection) => {
        const version = await readVersion(connection);
        if (version > latestSchemaVersion) {
          throw new SchemaVersionError(version, latestSchemaVersion, database.location);
        }
        for (const migration of migrations) {
          if (migration.version <= version) continue;
          await applyPostgres(connection, migration, logger);
          announce(migration);
        }
        return version;
      },
      logger,
    );
    return { from, to: Math.max(from, latestSchemaVersion), applied };
  }
  const from = await readVersion(database);
  if (from > latestSchemaVersion) {
    throw new SchemaVersionError(from, latestSchemaVersion, database.location);
  }
  for (const migration of migrations) {
    if (migration.version <= from) continue;
    const done = await database.transaction(async (transaction) => {
      // Re-read inside the transaction (it holds the write lock): another process may have
      // applied it meanwhile.
      const already = await transaction.get(
        'SELECT version FROM schema_migrations WHERE version = ?',
        [migration.version],
      );
      if (already) return false;
      for (const statement of statementsOf(migration.sql.sqlite)) await transaction.exec(statement);
      await transaction.run(
        'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
        [migration.version, migration.name, Date.now()],
      );
      return true;
    });
    if (done) announce(migration);
  }
  return { from, to: Math.max(from, latestSchemaVersion), applied };
}
