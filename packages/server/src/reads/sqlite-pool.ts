import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger';
import type { Queryable, Row, RunResult, SqlValue } from '../store';

// Admin reads of the embedded store on worker threads, each with its own read-only connection
// to the database file (WAL mode lets readers run beside the writer), so a wide report never
// runs on the event loop that answers checks. A query that outlives its request's budget is
// stopped by ending its worker (SQLite cannot be interrupted from another thread otherwise);
// a new worker takes its place.

// Each reader thread lowers its own scheduling priority to the lowest (nice 19; Linux applies
// setpriority to the one thread whose id it is given): a report still uses every idle cycle,
// but when the event loop that answers checks wants a core it gets it first. Without this, on
// a 2-core machine a looping report took a core from the checks half the time (check p95 3.6×
// with heavy reads running). Elsewhere (no /proc/thread-self) the thread keeps its priority.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.nice) {
  try {
    const thread = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
    require('node:os').setPriority(thread, 19);
  } catch {}
}
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { readOnly: true });
db.exec('PRAGMA busy_timeout = 5000; PRAGMA query_only = ON; PRAGMA cache_size = -65536;');
const statements = new Map();
parentPort.on('message', (message) => {
  try {
    let statement = statements.get(message.sql);
    if (!statement) {
      statement = db.prepare(message.sql);
      if (statements.size > 500) statements.clear();
      statements.set(message.sql, statement);
    }
    const rows = message.one ? [statement.get(...message.params)] : statement.all(...message.params);
    parentPort.postMessage({ id: message.id, rows: rows[0] === undefined && message.one ? [] : rows });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.message || error) });
  }
});
`;

/** The request's time budget ran out; the query was stopped. */
export class ReadBudgetExceeded extends Error {
  constructor() {
    super('admin read budget exceeded');
  }
}

interface Job {
  id: number;
  sql: string;
  params: readonly SqlValue[];
  one: boolean;
  deadline: number;
  resolve(rows: Row[]): void;
  reject(error: unknown): void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/** A few worker threads reading one SQLite file, a queue of queries, a deadline per query. */
export class SqliteReadPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
    private readonly size = 2,
    /** Reader threads at the lowest scheduling priority (see the worker's source). */
    private readonly lowPriority = true,
  ) {}

  /** A `Queryable` whose queries run on the pool and fail after `deadline` (epoch ms). */
  queryable(deadline: number): Queryable {
    const run = (sql: string, params: readonly SqlValue[] | undefined, one: boolean) =>
      new Promise<Row[]>((resolve, reject) => {
        this.submit({
          id: this.nextId++,
          sql,
          params: params ?? [],
          one,
          deadline,
          resolve,
          reject,
        });
      });
    return {
      dialect: 'sqlite',
      all: async <T = Row>(sql: string, params?: readonly SqlValue[]) =>
        (await run(sql, params, false)) as T[],
      get: async <T = Row>(sql: string, params?: readonly SqlValue[]) =>
        (await run(sql, params, true))[0] as T | undefined,
      run: async (): Promise<RunResult> => {
        throw new Error('The admin reader is read-only.');
      },
      exec: async () => {
        throw new Error('The admin reader is read-only.');
      },
    };
  }

  private submit(job: Job): void {
    if (this.closed) {
      job.reject(new Error('The server is closing.'));
      return;
    }
    const wait = job.deadline - Date.now();
    if (wait <= 0) {
      job.reject(new ReadBudgetExceeded());
      return;
    }
    job.timer = setTimeout(() => this.expire(job), wait);
    job.timer.unref?.();
    this.queue.push(job);
    this.dispatch();
  }

  private expire(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued !== -1) this.queue.splice(queued, 1);
    const slot = this.slots.find((candidate) => candidate.job === job);
    if (slot) {
      // Stop the query where it runs: end the worker; a new one replaces it.
      this.slots.splice(this.slots.indexOf(slot), 1);
      slot.job = undefined;
      slot.worker.removeAllListeners();
      slot.worker.on('error', () => undefined);
      void slot.worker.terminate();
    }
    job.reject(new ReadBudgetExceeded());
    this.dispatch();
  }

  private spawn(): Slot {
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { path: this.path, nice: this.lowPriority },
    });
    worker.unref();
    const slot: Slot = { worker, job: undefined };
    worker.on('message', (message: { id: number; rows?: Row[]; error?: string }) => {
      const job = slot.job;
      if (!job || job.id !== message.id) return;
      slot.job = undefined;
      clearTimeout(job.timer);
      if (message.error !== undefined) job.reject(new Error(message.error));
      else job.resolve(message.rows ?? []);
      this.dispatch();
    });
    worker.on('error', (error) => {
      this.logger.warn('An admin reader thread failed; starting another', { error });
      this.slots.splice(this.slots.indexOf(slot), 1);
      const job = slot.job;
      slot.job = undefined;
      if (job) {
        clearTimeout(job.timer);
        job.reject(error);
      }
      this.dispatch();
    });
    this.slots.push(slot);
    return slot;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((candidate) => candidate.job === undefined);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift() as Job;
      slot.job = job;
      slot.worker.postMessage({ id: job.id, sql: job.sql, params: job.params, one: job.one });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      clearTimeout(job.timer);
      job.reject(new Error('The server is closing.'));
    }
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      if (slot.job) {
        clearTimeout(slot.job.timer);
        slot.job.reject(new Error('The server is closing.'));
      }
    }
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }
}
