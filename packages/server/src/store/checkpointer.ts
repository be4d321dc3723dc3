import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger';

// The worker's code (CommonJS, evaluated): its own connection to the database file, running a
// PASSIVE checkpoint on a timer and when asked. A PASSIVE checkpoint copies committed pages from
// the WAL into the database file without blocking the server's writers or readers.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const database = new DatabaseSync(workerData.path);
const statement = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let failures = 0;
const checkpoint = () => {
  try {
    const result = statement.get();
    failures = 0;
    parentPort.postMessage({ type: 'checkpoint', log: result.log, checkpointed: result.checkpointed, busy: result.busy });
  } catch (error) {
    failures++;
    parentPort.postMessage({ type: 'error', message: String((error && error.message) || error), failures });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'checkpoint') checkpoint();
  if (message === 'close') {
    clearInterval(timer);
    database.close();
    parentPort.close();
  }
});
parentPort.postMessage({ type: 'ready' });
`;

/** What the checkpointer reported last. */
export interface CheckpointStatus {
  /** Frames in the WAL, and how many of them are in the database file. */
  log: number;
  checkpointed: number;
}

/**
 * Checkpoints of the embedded store's WAL, on a worker thread. SQLite otherwise checkpoints
 * inside the commit that crosses 1 000 WAL pages — copying them into the database file and
 * syncing it, on the event loop, in the middle of a request (about 1 ms every few hundred
 * commits). With this, the server's connection sets `wal_autocheckpoint = 0` and its commits
 * only append to the WAL; the worker copies them over every `intervalMs`. If the worker fails,
 * the connection goes back to checkpointing itself (`onFailure`).
 */
export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private closed = false;
  private waiters: ((status: CheckpointStatus) => void)[] = [];
  /** Resolves when the worker has opened its connection (or has exited). */
  readonly ready: Promise<void>;

  constructor(
    path: string,
    private readonly logger: Logger,
    private readonly onFailure: () => void,
    intervalMs = 250,
  ) {
    this.worker = new Worker(workerSource, { eval: true, workerData: { path, intervalMs } });
    this.worker.unref();
    let markReady!: () => void;
    this.ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    this.worker.on('message', (message: { type: string } & Record<string, unknown>) => {
      if (message.type === 'ready') markReady();
      if (message.type === 'checkpoint') {
        const status = { log: message.log as number, checkpointed: message.checkpointed as number };
        for (const waiter of this.waiters.splice(0)) waiter(status);
      }
      if (message.type === 'error' && (message.failures as number) >= 20) {
        this.fail(new Error(String(message.message)));
      } else if (message.type === 'error' && message.failures === 1) {
        this.logger.warn('A background checkpoint of the SQLite WAL failed; retrying', {
          error: message.message,
        });
      }
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      markReady();
      if (!this.closed) this.fail(new Error(`the checkpoint worker exited with code ${code}`));
    });
  }

  /** Runs a checkpoint now; resolves with its result. */
  checkpoint(): Promise<CheckpointStatus> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.worker.postMessage('checkpoint');
    });
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.logger.warn(
      'The SQLite checkpoint worker stopped; the server checkpoints its WAL itself from now on',
      { error: String(error) },
    );
    void this.worker.terminate();
    this.onFailure();
  }

  /** Stops the worker (its connection closes; the server's connection checkpoints on close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('close');
    const timeout = setTimeout(() => void this.worker.terminate(), 2_000);
    await exited;
    clearTimeout(timeout);
  }

  /** For tests: ends the worker as if it had crashed. */
  async crashForTest(): Promise<void> {
    await this.worker.terminate();
  }
}
