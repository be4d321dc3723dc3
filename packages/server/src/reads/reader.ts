import { availableParallelism } from 'node:os';
import { actionRepository } from '../actions/repository';
import type { ServerContext } from '../context';
import { ArdenServerError } from '../errors';
import { PostgresDatabase, type Queryable } from '../store';
import { usageRepository } from '../usage/repository';
import { ReadBudgetExceeded, SqliteReadPool } from './sqlite-pool';

// The admin side's reads (action log, sessions, usage, simulation) off the check path: on the
// embedded store, worker threads with their own read-only connections (`SqliteReadPool`); on
// PostgreSQL, a pool of its own whose statements stop at the budget (`statement_timeout`). The
// agent API keeps the main connection(s) to itself. Each admin request gets a time budget.

/** Default time budget of one admin read request, in ms (`ARDEN_ADMIN_READ_BUDGET_MS`). */
export const defaultReadBudgetMs = 15_000;

/**
 * The budget of a simulation over history: it reads page by page and may cover the whole log,
 * so it gets 20 times the request budget (5 minutes by default).
 */
export function simulationBudgetMs(budgetMs: number): number {
  return budgetMs * 20;
}

/** An admin read ran out of its time budget; the answer says what to do. */
export class ReadTimeoutError extends ArdenServerError {
  constructor(budgetMs: number) {
    super(
      503,
      'read_timeout',
      `This report took longer than its ${Math.round(budgetMs / 100) / 10} s budget and was stopped, so the agents' checks are not slowed. Narrow it: a shorter time window (from/to or since), one agent, environment or tool, or sample the simulation (sample).`,
    );
  }
}

/** The repositories an admin request reads with, bound to its budget. */
export interface AdminReads {
  readonly db: Queryable;
  readonly actions: ReturnType<typeof actionRepository>;
  readonly usage: ReturnType<typeof usageRepository>;
  /** When the budget ends (epoch ms). */
  readonly deadline: number;
  /** Throws `ReadTimeoutError` once the budget is spent (for loops that run in JS). */
  check(): void;
}

function budgetFrom(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  return Number.isInteger(number) && number >= 100 ? number : undefined;
}

/**
 * Reader threads by default: one core's worth less than the machine has, one or two — a thread
 * off the event loop still takes a core, and the checks need one.
 */
function defaultThreads(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

/** Opens the admin reader of a server: worker threads on SQLite, a separate pool on PostgreSQL. */
export class AdminReader {
  readonly budgetMs: number;
  private sqlite: SqliteReadPool | undefined;
  private postgres: Promise<PostgresDatabase | undefined> | undefined;
  private closed = false;
  private readonly inline: boolean;

  constructor(
    private readonly server: ServerContext,
    options: { budgetMs?: number; threads?: number } = {},
  ) {
    this.budgetMs =
      options.budgetMs ?? budgetFrom(process.env.ARDEN_ADMIN_READ_BUDGET_MS) ?? defaultReadBudgetMs;
    // ARDEN_ADMIN_READ_THREADS=0 reads on the main connection (as before; for comparisons).
    const threadsText = process.env.ARDEN_ADMIN_READ_THREADS;
    const threads =
      options.threads ??
      (threadsText !== undefined && /^\d{1,2}$/.test(threadsText)
        ? Number(threadsText)
        : defaultThreads());
    this.inline = threads === 0;
    const database = server.store.database;
    if (!this.inline && database.dialect === 'sqlite' && database.location !== ':memory:') {
      this.sqlite = new SqliteReadPool(
        database.location,
        server.logger,
        threads,
        // ARDEN_ADMIN_READ_LOW_PRIORITY=0 keeps the reader threads at normal priority.
        process.env.ARDEN_ADMIN_READ_LOW_PRIORITY !== '0',
      );
    }
  }

  private postgresPool(): Promise<PostgresDatabase | undefined> {
    const url = this.server.config.databaseUrl;
    this.postgres ??= PostgresDatabase.connect(url as string, this.server.logger, {
      max: 4,
      application_name: 'arden admin reads',
      statement_timeout: this.budgetMs,
    } as never).catch((error) => {
      // Without a pool of its own the admin side shares the agents' pool rather than failing.
      this.server.logger.warn(
        'The admin read pool could not connect; admin reads share the main pool',
        { error },
      );
      this.postgres = undefined;
      return undefined;
    });
    return this.postgres;
  }

  /** Reads for one request, with a budget of `budgetMs` (default: the reader's) from now. */
  async begin(budgetMs = this.budgetMs): Promise<AdminReads> {
    const deadline = Date.now() + budgetMs;
    let db: Queryable = this.server.store.database;
    if (!this.closed && this.sqlite) db = this.sqlite.queryable(deadline);
    else if (!this.closed && !this.inline && this.server.store.database.dialect === 'postgres') {
      db = (await this.postgresPool()) ?? db;
    }
    const budget = budgetMs;
    const guarded = guard(db, deadline, budget);
    return {
      db: guarded,
      actions: actionRepository(guarded),
      usage: usageRepository(guarded),
      deadline,
      check() {
        if (Date.now() >= deadline) throw new ReadTimeoutError(budget);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.sqlite?.close();
    const pool = await this.postgres;
    await pool?.close();
  }
}

function isBudgetError(error: unknown): boolean {
  if (error instanceof ReadBudgetExceeded) return true;
  // PostgreSQL's statement_timeout: 57014 query_canceled.
  return (error as { code?: unknown } | null)?.code === '57014';
}

/** Turns the pool's and PostgreSQL's timeouts into `ReadTimeoutError`; refuses past the deadline. */
function guard(db: Queryable, deadline: number, budgetMs: number): Queryable {
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (Date.now() >= deadline) throw new ReadTimeoutError(budgetMs);
      try {
        return await fn(...args);
      } catch (error) {
        const cause = (error as { cause?: unknown } | null)?.cause;
        if (isBudgetError(error) || isBudgetError(cause)) throw new ReadTimeoutError(budgetMs);
        throw error;
      }
    };
  return {
    dialect: db.dialect,
    all: wrap(db.all.bind(db)) as Queryable['all'],
    get: wrap(db.get.bind(db)) as Queryable['get'],
    run: () => Promise.reject(new Error('The admin reader is read-only.')),
    exec: () => Promise.reject(new Error('The admin reader is read-only.')),
  };
}
