import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger';

// The worker's code (CommonJS, evaluated): its own connection to the database file, running a
// PASSIVE checkpoint on a timer and when asked. A PASSIVE checkpoint copies committed pages from
// the WAL into the database file without blocking the server's writers or readers. When the WAL
// has grown past `restartFrames` and is not starting over by itself (it grew since the last
// checkpoint, or a reader kept a checkpoint from copying it all), it first lets PASSIVE
// checkpoints catch up with the commits (\`settle\`), then asks the server to pause its statements
// ('pause') and, once they are paused ('paused'), runs a RESTART checkpoint, so that the next
// commit writes the WAL from its start ('restarted'). A RESTART that another process's reader
// kept from finishing ('busy') is retried after 1, 2, 4 … 32 more checkpoints.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const { statSync } = require('node:fs');
const database = new DatabaseSync(workerData.path, { timeout: workerData.busyTimeoutMs });
const passive = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = database.prepare('PRAGMA wal_checkpoint(RESTART)');
let failures = 0;
let restarting = false;
let busyInARow = 0;
let skip = 0;
let lastLog = 0;
// Whether the WAL grew between the last two PASSIVE checkpoints: commits keep coming.
let streaming = false;
let lastSeen = 0;
const copy = () => {
  const result = passive.get();
  streaming = result.log !== lastSeen;
  lastSeen = result.log;
  return result;
};
// A pause lasts as long as its RESTART has frames left to copy (plus two file syncs): under load,
// a RESTART asked for right after a PASSIVE that took tens of milliseconds had all the frames
// committed meanwhile to copy, and lasted 12-35 ms (the throughput benchmark's load). So while
// commits keep coming, a PASSIVE runs at every look at the file (below), and before the pause is
// asked for PASSIVE checkpoints run again while each finds more than \`settleFrames\` frames
// committed since the previous one (each copies less: copying is faster than committing), at
// most \`settleRounds\` times. Returns undefined when no RESTART is needed: the WAL started over
// meanwhile (a commit found it copied whole), or it is copied whole and no commit came since
// (the next commit starts it over by itself; a PASSIVE just after a RESTART, before any commit,
// still reports the old WAL's frames).
const settleFrames = workerData.settleFrames;
const settleRounds = 8;
// What the last PASSIVE had copied when the pause was asked for: the RESTART copies the rest.
let settledCopied = 0;
const settle = (result) => {
  for (let round = 0; round < settleRounds; round++) {
    if (result.checkpointed < result.log) return result; // a reader holds frames: only RESTART waits
    const next = copy();
    if (next.log < result.log) return undefined;
    const fresh = next.log - result.log;
    result = next;
    if (fresh === 0 && next.checkpointed === next.log) return undefined;
    if (fresh <= settleFrames) break;
  }
  return result;
};
const askPause = (result) => {
  const settled = settle(result);
  if (!settled) return;
  settledCopied = settled.checkpointed;
  restarting = true;
  parentPort.postMessage({ type: 'pause', log: settled.log });
};
const failed = (error) => {
  failures++;
  parentPort.postMessage({ type: 'error', message: String((error && error.message) || error), failures });
};
const checkpoint = () => {
  if (restarting) return;
  try {
    const result = copy();
    failures = 0;
    parentPort.postMessage({ type: 'checkpoint', log: result.log, checkpointed: result.checkpointed, busy: result.busy });
    // The WAL grew since the last checkpoint without starting over (commits keep coming), or a
    // reader kept this one from copying it all. An idle WAL that was copied whole starts over
    // at the next commit by itself.
    const stuck = result.log !== lastLog || result.checkpointed < result.log;
    lastLog = result.log;
    if (result.log >= workerData.restartFrames && stuck) {
      if (skip > 0) {
        skip--;
      } else {
        askPause(result);
      }
    }
  } catch (error) {
    failed(error);
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
// The WAL file is truncated to the restart size whenever it starts over, so a file past that
// size holds more frames than the restart size. Its size is looked at ten times per checkpoint
// interval (every 25 ms by default): at thousands of commits a second, waiting for the next
// checkpoint would carry the WAL far past the restart size before the RESTART is asked for.
let lastSize = 0;
const watch = setInterval(() => {
  if (restarting || skip > 0) return;
  try {
    const latest = streaming ? copy() : undefined;
    let size = 0;
    try {
      size = statSync(workerData.walPath).size;
    } catch {
      return;
    }
    const growing = size > lastSize;
    lastSize = size;
    if (size > workerData.restartBytes && growing) askPause(latest ?? copy());
  } catch (error) {
    failed(error);
  }
}, Math.max(5, workerData.intervalMs / 10));
parentPort.on('message', (message) => {
  if (message === 'checkpoint') checkpoint();
  if (message === 'paused') {
    let result;
    try {
      result = restart.get();
    } catch (error) {
      result = { busy: 1, log: -1, checkpointed: -1, error: String((error && error.message) || error) };
    }
    restarting = false;
    // The file grew while the pause was asked for and is truncated back only by the first
    // commit after the RESTART: measured from now on, or that growth would ask for a second
    // RESTART at once (it did, every time, with a hundred frames in the WAL).
    try {
      lastSize = statSync(workerData.walPath).size;
    } catch {}
    busyInARow = result.busy ? busyInARow + 1 : 0;
    skip = result.busy ? Math.min(32, 2 ** (busyInARow - 1)) : 0;
    const copied = Math.max(0, result.log - settledCopied);
    parentPort.postMessage({ type: 'restarted', log: result.log, checkpointed: result.checkpointed, copied, busy: result.busy, busyInARow, error: result.error });
  }
  if (message === 'close') {
    clearInterval(timer);
    clearInterval(watch);
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

/** What a RESTART checkpoint did. */
export interface RestartStatus extends CheckpointStatus {
  /** Whether another connection (a reader in another process) kept it from finishing. */
  busy: boolean;
  /** How long the server's writes were paused, in milliseconds. */
  pausedMs: number;
  /**
   * WAL frames the RESTART itself copied, in the pause: what the PASSIVE checkpoints before it
   * had not (those committed while the last of them ran).
   */
  copiedFrames: number;
}

export interface CheckpointerOptions {
  /** How often the worker checkpoints. */
  intervalMs?: number;
  /**
   * WAL frames (pages) after which the worker restarts the WAL in a short pause of the server's
   * writes. Under a steady stream of commits a PASSIVE checkpoint never finds the WAL idle, and
   * the WAL would otherwise grow as long as the stream lasts.
   */
  restartFrames?: number;
  /** The database's page size in bytes (default 4 096): with `restartFrames`, the WAL's size. */
  pageSize?: number;
  /**
   * Runs `whilePaused` while no statement uses the server's connection (the database supplies
   * it); without it the worker never restarts the WAL.
   */
  pauseWrites?: (whilePaused: () => Promise<void>) => Promise<void>;
}

/** A RESTART that holds the server's statements longer than this is logged. */
const slowRestartMs = 1_000;

/**
 * Checkpoints of the embedded store's WAL, on a worker thread. SQLite otherwise checkpoints
 * inside the commit that crosses 1 000 WAL pages — copying them into the database file and
 * syncing it, on the event loop, in the middle of a request (about 1 ms every few hundred
 * commits). With this, the server's connection sets `wal_autocheckpoint = 0` and its commits
 * only append to the WAL; the worker copies them over every `intervalMs`.
 *
 * A PASSIVE checkpoint lets the next commit start the WAL over only when it has copied every
 * frame, which never happens while commits keep coming faster than it copies: the WAL would
 * grow for as long as the load lasts, and every commit would pay for extending the file. So once
 * the WAL holds `restartFrames` frames and keeps growing, the server's connection pauses (its
 * statements wait, the event loop does not) while the worker runs a RESTART checkpoint — a
 * millisecond or two, as the PASSIVE ones have already copied nearly everything — and the WAL is
 * reused from its start. A reader in another process can keep a RESTART from finishing (it then
 * gives up after 50 ms and is retried less and less often). If the worker fails, the connection
 * goes back to checkpointing itself (`onFailure`).
 */
export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private closed = false;
  private waiters: ((status: CheckpointStatus) => void)[] = [];
  private restartWaiters: ((status: RestartStatus) => void)[] = [];
  private pauseWaiters: (() => void)[] = [];
  private onRestarted: ((status: Omit<RestartStatus, 'pausedMs'>) => void) | undefined;
  private readonly pauseWrites: CheckpointerOptions['pauseWrites'];
  /** RESTART checkpoints that finished (not kept from it by another process's reader). */
  restarts = 0;
  /** Resolves when the worker has opened its connection (or has exited). */
  readonly ready: Promise<void>;

  constructor(
    path: string,
    private readonly logger: Logger,
    private readonly onFailure: () => void,
    options: CheckpointerOptions = {},
  ) {
    this.pauseWrites = options.pauseWrites;
    this.worker = new Worker(workerSource, {
      eval: true,
      workerData: {
        path,
        intervalMs: options.intervalMs ?? 250,
        restartFrames: options.pauseWrites ? (options.restartFrames ?? 4_096) : Infinity,
        // PASSIVE checkpoints run again before a RESTART while each finds more frames than this.
        settleFrames: Math.max(8, Math.floor((options.restartFrames ?? 4_096) / 16)),
        walPath: `${path}-wal`,
        restartBytes: options.pauseWrites
          ? 32 + (options.restartFrames ?? 4_096) * ((options.pageSize ?? 4_096) + 24)
          : Infinity,
        // A RESTART waits this long for readers in other processes, then gives up for now.
        busyTimeoutMs: 50,
      },
    });
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
      if (message.type === 'pause') void this.restart();
      if (message.type === 'restarted') {
        if (typeof message.error === 'string') {
          this.logger.warn('A RESTART checkpoint of the SQLite WAL failed', {
            error: message.error,
          });
        } else if (message.busyInARow === 3) {
          this.logger.warn(
            'Another process keeps reading the database, so the WAL cannot start over and grows meanwhile; retrying less and less often',
            { wal_pages: message.log },
          );
        }
        const status = { log: message.log as number, checkpointed: message.checkpointed as number };
        // A checkpoint asked for during the RESTART is answered by it.
        for (const waiter of this.waiters.splice(0)) waiter(status);
        this.onRestarted?.({
          ...status,
          copiedFrames: Number(message.copied ?? 0),
          busy: message.busy === 1,
        });
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
      this.onRestarted?.({ log: -1, checkpointed: -1, copiedFrames: 0, busy: true });
      if (!this.closed) this.fail(new Error(`the checkpoint worker exited with code ${code}`));
    });
  }

  // Pauses the server's statements until the worker has run its RESTART (or has stopped): once
  // they run again, a commit never waits on the worker's lock, which would block the event loop.
  private async restart(): Promise<void> {
    const pauseWrites = this.pauseWrites;
    if (!pauseWrites) return;
    let status: Omit<RestartStatus, 'pausedMs'> = {
      log: -1,
      checkpointed: -1,
      copiedFrames: 0,
      busy: true,
    };
    let pausedMs = 0;
    await pauseWrites(async () => {
      const started = performance.now();
      for (const waiter of this.pauseWaiters.splice(0)) waiter();
      const slow = setTimeout(() => {
        this.logger.warn(
          'A RESTART checkpoint of the SQLite WAL is taking over a second; writes wait for it',
        );
      }, slowRestartMs);
      status = await new Promise<Omit<RestartStatus, 'pausedMs'>>((resolve) => {
        this.onRestarted = resolve;
        if (this.closed) resolve(status);
        else this.worker.postMessage('paused');
      });
      clearTimeout(slow);
      this.onRestarted = undefined;
      pausedMs = performance.now() - started;
    });
    if (!status.busy) this.restarts++;
    const result = { ...status, pausedMs };
    for (const waiter of this.restartWaiters.splice(0)) waiter(result);
  }

  /** Resolves with the next RESTART checkpoint's result. */
  nextRestart(): Promise<RestartStatus> {
    return new Promise((resolve) => this.restartWaiters.push(resolve));
  }

  /** Resolves when the server's statements are next paused for a RESTART. */
  nextPause(): Promise<void> {
    return new Promise((resolve) => this.pauseWaiters.push(resolve));
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
