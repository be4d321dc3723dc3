import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { createLogger, type Logger } from '../logger';
import { BackgroundCheckpointer } from './checkpointer';
import type { MultiRow } from './multi-row';
import { loadSqlite } from './sqlite-module';

/** SQL dialects the store speaks. */
export type Dialect = 'sqlite' | 'postgres';

/** A value bound to a `?` placeholder. */
export type SqlValue = string | number | bigint | null | Uint8Array;

/** One result row, column name to value. */
export type Row = Record<string, unknown>;

/** A statement with its parameters, for `batch()`. */
export interface Statement {
  sql: string;
  params?: readonly SqlValue[];
  /**
   * For the group committer: a statement that locks a shared row (an upsert of a total) names
   * it here; such statements run last in their transaction, in key order.
   */
  lockKey?: string;
  /**
   * For the group committer on PostgreSQL: how this statement merges with the statements of
   * the same kind next to it into one multi-row statement (see `multi-row.ts`). Ignored by the
   * embedded store.
   */
  rows?: MultiRow;
  /**
   * For the group committer: a statement completed only when its transaction is about to run
   * (a receipt, signed once per commit: see `StatementSealer`). Until then its parameters hold
   * a NULL where the sealer's value goes, which a NOT NULL column refuses: a statement that
   * bypasses the sealer cannot be written.
   */
  sealer?: StatementSealer;
  /**
   * For the group committer on PostgreSQL: the memory scopes this statement guards (their
   * `conflictKey`s). A commit failed by a guard names the scope; the committer then commits the
   * other requests without the ones guarding it (`memory/repository.ts`, `guardedInsert`).
   */
  conflictKeys?: readonly string[];
}

/**
 * Completes statements just before their transaction runs: the group committer calls `seal`
 * once per transaction (and again for a retry of part of it) with that transaction's statements
 * that name this sealer, in order, and runs what it returns in their place. Throwing fails the
 * transaction: nothing of it is written (fail closed).
 */
export interface StatementSealer {
  seal(statements: readonly Statement[]): Statement[];
}

/** The statements with every `sealer`'s statements completed by it (once per sealer). */
export function sealStatements(statements: readonly Statement[]): readonly Statement[] {
  let bySealer: Map<StatementSealer, number[]> | undefined;
  for (const [index, statement] of statements.entries()) {
    if (!statement.sealer) continue;
    bySealer ??= new Map();
    const positions = bySealer.get(statement.sealer) ?? [];
    positions.push(index);
    bySealer.set(statement.sealer, positions);
  }
  if (!bySealer) return statements;
  const sealed = [...statements];
  for (const [sealer, positions] of bySealer) {
    const done = sealer.seal(positions.map((position) => statements[position] as Statement));
    if (done.length !== positions.length || done.some((statement) => statement.sealer)) {
      throw new Error('A statement sealer must complete every statement it is given.');
    }
    for (const [index, position] of positions.entries())
      sealed[position] = done[index] as Statement;
  }
  return sealed;
}

/** What a write statement changed. */
export interface RunResult {
  changes: number;
  /** The sequence number of the row an INSERT added (SQLite's rowid), when known. */
  lastInsertId?: number;
}

/**
 * Something SQL can be run on: the database itself, or an open transaction. SQL uses `?`
 * placeholders in both dialects (translated to `$1…` for PostgreSQL), integer milliseconds
 * for times and text for JSON, so repository functions are written once.
 */
export interface Queryable {
  readonly dialect: Dialect;
  /** All rows of a query. */
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row of a query, or undefined. */
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a write statement. */
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
  /** Runs a script of statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** A database connection (SQLite) or pool (PostgreSQL). */
export interface Database extends Queryable {
  /** Where the data lives, for messages (a path or a URL without its password). */
  readonly location: string;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * Inside, use only `transaction` (the argument), never the database itself.
   */
  transaction<T>(fn: (transaction: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs the statements in one transaction, in order, and returns what each changed. The group
   * committer uses it to make many requests durable with a single commit.
   */
  batch(statements: readonly Statement[]): Promise<RunResult[]>;
  /**
   * Databases that commit synchronously (the embedded store): `batch` done now, or undefined
   * when a transaction holds the connection. Throws what `batch` would reject with.
   */
  tryBatchNow?(statements: readonly Statement[]): RunResult[] | undefined;
  /**
   * How many group commits may be in flight at once, each on its own connection (default 1).
   * PostgreSQL overlaps them: one commit's round trips and fsync no longer hold up the next.
   */
  readonly commitConcurrency?: number;
  /**
   * Runs `fn` on one dedicated connection outside any transaction (PostgreSQL: for statements
   * that cannot run in a transaction, such as CREATE INDEX CONCURRENTLY, and session locks).
   * Absent on the embedded store.
   */
  dedicated?<T>(fn: (connection: Queryable) => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Closes the connection(s). */
  close(): Promise<void>;
  /**
   * Sends a notification to every process listening on `channel` (PostgreSQL NOTIFY). Absent
   * on the embedded store, where one process owns the database.
   */
  notify?(channel: string, payload: string): Promise<void>;
  /** Calls `handler` for each notification on `channel` (PostgreSQL LISTEN). */
  listen?(channel: string, handler: (payload: string) => void): Promise<() => void>;
  /** Calls `handler` when listening resumes after the connection was lost (PostgreSQL). */
  onReconnect?(handler: () => void): () => void;
}

/** WAL frames after which the checkpointer restarts the WAL (16 MiB of 4 KiB pages). */
export const defaultWalRestartFrames = 4_096;

/** The size of a WAL file of `frames` frames: a 32-byte header, each frame a page and 24 bytes. */
export function walBytesFor(frames: number, pageSize: number): number {
  return 32 + frames * (pageSize + 24);
}

/** Options of the SQLite store. */
export interface SqliteOptions {
  /** How long a statement waits for another process's write lock, in ms (default 5 000). */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL on a worker thread instead of inside commits (the server does; short
   * CLI commands do not). Ignored for `:memory:`.
   */
  backgroundCheckpoints?: boolean;
  /**
   * With background checkpoints: the WAL size, in frames (pages), past which the checkpointer
   * restarts the WAL in a short pause of this connection's statements. Default 4 096 (16 MiB).
   */
  walRestartFrames?: number;
  /** With background checkpoints: how often the worker checkpoints (default 250 ms). */
  checkpointIntervalMs?: number;
  /** Where the checkpointer reports trouble. */
  logger?: Logger;
}

/**
 * The embedded store: one `node:sqlite` connection in WAL mode with `synchronous=NORMAL` (a
 * commit is durable against a process crash; an OS crash can lose the last few commits, never
 * corrupt the file), foreign keys on and a busy timeout for other processes such as
 * `arden migrate`. In the server, the WAL is checkpointed on a worker thread
 * (`BackgroundCheckpointer`), so a commit only appends to the WAL.
 */
export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  private readonly connection: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  // The connection is shared by every request. An async transaction yields between its
  // statements, so while one is open every other use of the connection waits its turn here;
  // otherwise another request's statements would run inside (and roll back with) it.
  private lockTail: Promise<void> = Promise.resolve();
  private lockHolders = 0;
  private readonly direct: Queryable;
  /** The WAL checkpointer, when checkpoints run in the background. */
  readonly checkpointer: BackgroundCheckpointer | undefined;

  constructor(path: string, options: SqliteOptions = {}) {
    this.location = path;
    const { DatabaseSync: Connection } = loadSqlite();
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.connection = new Connection(path, {
      timeout: options.busyTimeoutMs ?? 5_000,
      enableForeignKeyConstraints: true,
    });
    this.connection.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;',
    );
    if (options.backgroundCheckpoints && path !== ':memory:') {
      // Commits only append to the WAL; the worker copies it into the database file. When the
      // WAL starts over, a file that load grew past the restart size is truncated back to it, so
      // the file on disk is reused at that size instead of staying at its largest.
      const pageSize = (this.connection.prepare('PRAGMA page_size').get() as { page_size: number })
        .page_size;
      const walLimitBytes = walBytesFor(
        options.walRestartFrames ?? defaultWalRestartFrames,
        pageSize,
      );
      this.connection.exec(
        `PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = ${walLimitBytes};`,
      );
      const logger = options.logger ?? createLogger('silent');
      this.checkpointer = new BackgroundCheckpointer(
        path,
        logger,
        () => {
          if (this.connection.isOpen) this.connection.exec('PRAGMA wal_autocheckpoint = 1000;');
        },
        {
          restartFrames: options.walRestartFrames ?? defaultWalRestartFrames,
          pageSize,
          intervalMs: options.checkpointIntervalMs,
          // Holding the connection's turn: statements wait meanwhile, the event loop does not.
          pauseWrites: async (whilePaused) => {
            const release = await this.acquire();
            try {
              if (this.connection.isOpen) await whilePaused();
            } finally {
              release();
            }
          },
        },
      );
    }
    this.direct = {
      dialect: 'sqlite',
      all: async <T>(sql: string, params: readonly SqlValue[] = []) => this.allNow<T>(sql, params),
      get: async <T>(sql: string, params: readonly SqlValue[] = []) => this.getNow<T>(sql, params),
      run: async (sql: string, params: readonly SqlValue[] = []) => this.runNow(sql, params),
      exec: async (sql: string) => this.connection.exec(sql),
    };
  }

  private prepare(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.connection.prepare(sql);
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private allNow<T>(sql: string, params: readonly SqlValue[]): T[] {
    return this.prepare(sql).all(...(params as SqlValue[])) as T[];
  }

  private getNow<T>(sql: string, params: readonly SqlValue[]): T | undefined {
    return this.prepare(sql).get(...(params as SqlValue[])) as T | undefined;
  }

  private runNow(sql: string, params: readonly SqlValue[]): RunResult {
    const result = this.prepare(sql).run(...(params as SqlValue[]));
    return { changes: Number(result.changes), lastInsertId: Number(result.lastInsertRowid) };
  }

  private async acquire(): Promise<() => void> {
    this.lockHolders++;
    const previous = this.lockTail;
    let release!: () => void;
    this.lockTail = new Promise<void>((resolve) => {
      release = () => {
        this.lockHolders--;
        resolve();
      };
    });
    await previous;
    return release;
  }

  // Runs a synchronous section: at once when no transaction is open, else after it.
  private async exclusive<T>(section: () => T): Promise<T> {
    if (this.lockHolders === 0) return section();
    const release = await this.acquire();
    try {
      return section();
    } finally {
      release();
    }
  }

  all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.exclusive(() => this.allNow<T>(sql, params));
  }

  get<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.exclusive(() => this.getNow<T>(sql, params));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    return this.exclusive(() => this.runNow(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.exclusive(() => this.connection.exec(sql));
  }

  async transaction<T>(fn: (transaction: Queryable) => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      this.connection.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.direct);
        this.connection.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.connection.isTransaction) this.connection.exec('ROLLBACK');
        throw error;
      }
    } finally {
      release();
    }
  }

  batch(statements: readonly Statement[]): Promise<RunResult[]> {
    return this.exclusive(() => this.batchNow(statements));
  }

  tryBatchNow(statements: readonly Statement[]): RunResult[] | undefined {
    return this.lockHolders === 0 ? this.batchNow(statements) : undefined;
  }

  private batchNow(statements: readonly Statement[]): RunResult[] {
    if (statements.length === 1) {
      // One statement is a transaction of its own (waiting for the write lock like BEGIN
      // IMMEDIATE does): no BEGIN and COMMIT to run around it.
      const [only] = statements as [Statement];
      return [this.runNow(only.sql, only.params ?? [])];
    }
    this.prepare('BEGIN IMMEDIATE').run();
    try {
      const results = statements.map((statement) =>
        this.runNow(statement.sql, statement.params ?? []),
      );
      this.prepare('COMMIT').run();
      return results;
    } catch (error) {
      if (this.connection.isTransaction) this.connection.exec('ROLLBACK');
      throw error;
    }
  }

  async ping(): Promise<void> {
    await this.get('SELECT 1 AS ok');
  }

  async close(): Promise<void> {
    await this.checkpointer?.close();
    const release = await this.acquire();
    try {
      if (this.connection.isOpen) {
        this.statements.clear();
        this.connection.close();
      }
    } finally {
      release();
    }
  }
}

/**
 * Rewrites `?` placeholders as PostgreSQL's `$1, $2, …`, leaving string literals, quoted
 * identifiers and comments alone.
 */
export function toPostgresPlaceholders(sql: string): string {
  let out = '';
  let index = 0;
  let quote: string | undefined;
  for (let position = 0; position < sql.length; position++) {
    const character = sql[position] as string;
    if (quote) {
      out += character;
      if (character === quote) quote = undefined;
      continue;
    }
    if (character === "'" || character === '"') {
      quote = character;
      out += character;
    } else if (character === '-' && sql[position + 1] === '-') {
      const end = sql.indexOf('\n', position);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(position, stop);
      position = stop - 1;
    } else if (character === '?') {
      out += `$${++index}`;
    } else {
      out += character;
    }
  }
  return out;
}
