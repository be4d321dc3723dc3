import { join, resolve } from 'node:path';
import { ValidationError } from '../errors';
import { createLogger, type Logger } from '../logger';
import { type Database, SqliteDatabase, type SqliteOptions } from './database';
import { GroupCommitter } from './group-commit';
import { migrate } from './migrations';
import { PostgresDatabase } from './postgres';
import { type Repositories, repositories } from './repositories';

/**
 * Where and how to open the store. SQLite's `backgroundCheckpoints` (off by default: the
 * server turns it on, short-lived CLI commands leave it off), `walRestartFrames` and
 * `checkpointIntervalMs` are as in `SqliteOptions`.
 */
export interface StoreOptions
  extends Pick<
    SqliteOptions,
    'backgroundCheckpoints' | 'walRestartFrames' | 'checkpointIntervalMs'
  > {
  /** Data directory of the embedded store (default `./.arden`); the file is `arden.db` in it. */
  dataDir?: string;
  /** `postgres://…` selects PostgreSQL; `file:PATH` or a path, a SQLite file. */
  databaseUrl?: string;
  /** Apply migrations on open (default true). */
  migrate?: boolean;
  logger?: Logger;
}

/**
 * The store: the database, every repository bound to it, transactions that hand out
 * repositories bound to the transaction, and the group committer of the hot path.
 */
export interface Store extends Repositories {
  readonly database: Database;
  readonly committer: GroupCommitter;
  /** The group committer of usage writes (kept apart from the checks'). */
  readonly usageCommitter: GroupCommitter;
  /** Runs `fn` in one transaction with repositories bound to it. */
  transaction<T>(fn: (repositories: Repositories) => Promise<T>): Promise<T>;
  /** Commits queued writes, then closes the database. */
  close(): Promise<void>;
}

/** Whether a database URL selects PostgreSQL. */
export function isPostgresUrl(url: string | undefined): boolean {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url);
}

/**
 * Refuses a database setting that is neither a PostgreSQL URL nor a SQLite path: a libpq
 * `key=value` string or another scheme's URL would otherwise be taken for a file name (and its
 * password shown wherever the file is named). The message never repeats the setting.
 */
export function checkDatabaseUrl(url: string | undefined): void {
  if (url === undefined || isPostgresUrl(url)) return;
  if (/^\s*[a-z_]+\s*=/i.test(url)) {
    throw new ValidationError(
      'DATABASE_URL looks like a libpq key=value string (host=… dbname=…), which Arden does not accept. Give a URL: postgres://user:password@host:5432/database.',
      'databaseUrl',
    );
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'file' && scheme !== 'sqlite') {
    throw new ValidationError(
      `DATABASE_URL uses the scheme ${scheme.slice(0, 20)}://, which Arden does not support. Use postgres://user:password@host:5432/database, or a SQLite path or file: URL.`,
      'databaseUrl',
    );
  }
}

/** Where the SQLite file of a data directory or URL is. */
export function sqlitePath(options: Pick<StoreOptions, 'dataDir' | 'databaseUrl'>): string {
  const url = options.databaseUrl;
  checkDatabaseUrl(url);
  if (url) {
    if (url === ':memory:') return url;
    if (url.startsWith('file:'))
      return resolve(url.slice('file:'.length).replace(/^\/\/(?=\/)/, ''));
    if (url.startsWith('sqlite:')) return resolve(url.slice('sqlite:'.length).replace(/^\/\//, ''));
    return resolve(url);
  }
  return join(resolve(options.dataDir ?? '.arden'), 'arden.db');
}

/** Wraps an open database as a store (no migration). */
export function storeFor(database: Database, logger: Logger): Store {
  const committer = new GroupCommitter(database, logger);
  const usageCommitter = new GroupCommitter(database, logger);
  return {
    ...repositories(database),
    database,
    committer,
    usageCommitter,
    transaction: (fn) => database.transaction((transaction) => fn(repositories(transaction))),
    close: async () => {
      await committer.drain();
      await usageCommitter.drain();
      await database.close();
    },
  };
}

/**
 * Opens the store (creating the data directory and file on first start) and migrates it. A
 * database migrated by a newer server is refused with `SchemaVersionError`.
 */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const logger = options.logger ?? createLogger('silent');
  const database: Database = isPostgresUrl(options.databaseUrl)
    ? await PostgresDatabase.connect(options.databaseUrl as string, logger)
    : new SqliteDatabase(sqlitePath(options), {
        backgroundCheckpoints: options.backgroundCheckpoints ?? false,
        walRestartFrames: options.walRestartFrames,
        checkpointIntervalMs: options.checkpointIntervalMs,
        logger,
      });
  try {
    if (options.migrate !== false) await migrate(database, logger);
    if (database.dialect === 'sqlite') {
      // Planner statistics for the log's indexes, kept fresh cheaply (SQLite's advice for
      // long-lived connections); the retention job runs `PRAGMA optimize` again later.
      await database.exec('PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;');
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  return storeFor(database, logger);
}

export {
  type Database,
  type Dialect,
  type Queryable,
  type Row,
  type RunResult,
  SqliteDatabase,
  type SqlValue,
  type Statement,
  toPostgresPlaceholders,
} from './database';
export { GroupCommitter } from './group-commit';
export {
  latestSchemaVersion,
  type Migration,
  migrate,
  migrations,
  schemaVersion,
} from './migrations';
export {
  connectionSecrets,
  type NotificationHandler,
  PostgresDatabase,
  redactUrl,
} from './postgres';
export * from './records';
export * from './repositories';
export { embeddedStoreNodeVersion, loadSqlite, UnsupportedNodeError } from './sqlite-module';
