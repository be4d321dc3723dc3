import type { Logger } from '../logger';
import { type Database, type RunResult, type Statement, sealStatements } from './database';

/**
 * The scopes a failed memory guard names in its error (`memory/repository.ts`,
 * `guardedInsert`): the marker followed by the scope's `conflictKey`.
 */
function movedScopes(error: unknown): Set<string> {
  const message = error instanceof Error ? error.message : '';
  return new Set(
    [...message.matchAll(/arden_memory_version_moved ([0-9a-f]{32})/g)].map(
      (match) => match[1] as string,
    ),
  );
}

interface Queued {
  statements: readonly Statement[];
  resolve: (results: RunResult[]) => void;
  reject: (error: unknown) => void;
}

/** A statement of a batch: which request it came from, and its place in that request. */
interface Entry {
  item: number;
  index: number;
  statement: Statement;
}

/**
 * The requests' statements interleaved so that statements of one multi-row kind (`rows.key`)
 * of different requests are side by side and merge (PostgreSQL): a check writes its `actions`
 * row, then its receipt, so request after request (A1 R1 A2 R2 …) nothing merged; interleaved
 * (A1 A2 … R1 R2 …) a commit of N checks is two statements, not 2N. Each request's own
 * statements keep their order; across requests any interleaving is one concurrent requests could
 * have run in (each statement sees every statement before it in the transaction, as under READ
 * COMMITTED it would see the other requests' committed ones), and the group commit's retry path
 * runs a failing request alone as before.
 *
 * In rounds: the statements that merge with nothing go as soon as they are first in their
 * request; then one kind is chosen and every request whose next statements are of that kind
 * gives them, in request order. The kind chosen is, first, one with nothing left behind another
 * kind in any request (all of it goes in this round: one statement), else the kind first in the
 * most requests. Requests of the same shape take one round per statement, whatever their number.
 */
function interleaveByKind(requests: readonly (readonly Entry[])[]): Entry[] {
  const kind = (entry: Entry | undefined) => entry?.statement.rows?.key;
  const ordered: Entry[] = [];
  const next = requests.map(() => 0);
  // Statements of each kind not yet placed.
  const left = new Map<string, number>();
  for (const request of requests) {
    for (const entry of request) {
      const key = kind(entry);
      if (key !== undefined) left.set(key, (left.get(key) ?? 0) + 1);
    }
  }
  // Places the request's statements, from its next one, while they are of `key` (undefined: the
  // ones that merge with nothing).
  const take = (item: number, key: string | undefined) => {
    const request = requests[item] as readonly Entry[];
    let position = next[item] as number;
    while (position < request.length && kind(request[position]) === key) {
      ordered.push(request[position] as Entry);
      position++;
    }
    next[item] = position;
  };
  let active = [...requests.keys()].filter((item) => (requests[item]?.length ?? 0) > 0);
  while (active.length > 0) {
    // Statements of each kind first in their request (with the same kind right after them).
    const first = new Map<string, number>();
    for (const item of active) {
      take(item, undefined);
      const request = requests[item] as readonly Entry[];
      const position = next[item] as number;
      const key = kind(request[position]);
      if (key === undefined) continue;
      let end = position;
      while (end < request.length && kind(request[end]) === key) end++;
      first.set(key, (first.get(key) ?? 0) + end - position);
    }
    active = active.filter((item) => (next[item] as number) < (requests[item]?.length ?? 0));
    if (active.length === 0) break;
    let chosen: string | undefined;
    let most = 0;
    for (const item of active) {
      const key = kind(requests[item]?.[next[item] as number]) as string;
      const count = first.get(key) ?? 0;
      if (count === left.get(key)) {
        chosen = key;
        break;
      }
      if (count > most) {
        most = count;
        chosen = key;
      }
    }
    // Unreachable (every request left has a statement of some kind first); never drop one.
    if (chosen === undefined) throw new Error('The group commit could not order its statements.');
    for (const item of active) take(item, chosen);
    left.set(chosen, (left.get(chosen) ?? 0) - (first.get(chosen) ?? 0));
  }
  return ordered;
}

/**
 * Group commit: statements submitted during one turn of the event loop are written in one
 * transaction, and each submitter's promise resolves only after that COMMIT — so a reply sent
 * when it resolves is never about data that could still be lost, and a burst of requests pays
 * for one commit instead of one each.
 *
 * On SQLite, whose commits are synchronous, a lone write (nothing queued, nothing committed yet
 * in this turn, no `lockKey`) commits within `submit` rather than at the end of the turn: a
 * request on a quiet server does not wait for the event loop to go round. A second write in the
 * same turn is the sign of concurrent requests, and it and the rest of the turn's writes share
 * one commit as above. Under such load (the last queued commit held several requests) the first
 * write of a turn queues too, so that a busy turn pays one commit and one receipt signature, not
 * two; the first queued commit of a single request ends it.
 *
 * A database with `commitConcurrency` > 1 (PostgreSQL) has up to that many commits in flight,
 * each on its own connection: writes queued while one commits start the next at once instead of
 * waiting for it. Answers still go out in order: a commit's submitters are answered only after
 * every earlier commit's were (and, as always, after their own commit).
 *
 * Statements with a `sealer` (receipts) are completed by it just before their transaction runs,
 * once per transaction: the receipts of one commit share one signature.
 */
export class GroupCommitter {
  private queue: Queued[] = [];
  private scheduled = false;
  private turnHadCommit = false;
  // The last commit of the queue held several requests: concurrent load. While it lasts, a
  // would-be lone write joins its turn's commit instead (one commit and one receipt signature
  // per turn, not two); a commit of one request ends it.
  private concurrent = false;
  private readonly running = new Set<Promise<void>>();
  // Settles when the submitters of the latest commit started have been answered.
  private answered: Promise<void> = Promise.resolve();
  private readonly concurrency: number;
  // PostgreSQL merges neighbouring statements of one multi-row kind (`planBatch`); the embedded
  // store runs each statement alone, where merging would gain nothing (see `run`).
  private readonly mergesRows: boolean;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    private readonly maxBatch = 2_000,
  ) {
    this.concurrency = Math.max(1, database.commitConcurrency ?? 1);
    this.mergesRows = database.dialect === 'postgres';
  }

  /** Queues a write; resolves after the transaction holding it has committed. */
  async submit(statement: Statement): Promise<RunResult> {
    return (await this.submitAll([statement]))[0] ?? { changes: 0 };
  }

  /**
   * Queues writes that must commit together (all or none); resolves with what each changed,
   * after the transaction holding them has committed. Statements with a `lockKey` run after the
   * others of the transaction, ordered by that key: transactions of several replicas then take
   * the row locks of shared rows (daily usage totals) in one order and never deadlock, and hold
   * them only for the commit.
   */
  submitAll(statements: readonly Statement[]): Promise<RunResult[]> {
    // Only a database that commits synchronously (`tryBatchNow`) may skip the wait: an
    // asynchronous commit (PostgreSQL) would make the rest of its turn wait for it.
    if (
      this.database.tryBatchNow &&
      !this.turnHadCommit &&
      !this.concurrent &&
      !this.scheduled &&
      this.running.size === 0 &&
      this.queue.length === 0 &&
      statements.every((statement) => statement.lockKey === undefined)
    ) {
      this.turnHadCommit = true;
      setImmediate(() => {
        this.turnHadCommit = false;
      });
      try {
        const results = this.database.tryBatchNow(sealStatements(statements));
        // Undefined: a transaction holds the connection; the write queues up below.
        if (results) return Promise.resolve(results);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise<RunResult[]>((resolve, reject) => {
      this.queue.push({ statements, resolve, reject });
      this.schedule();
    });
  }

  /** Requests waiting for the next commit. */
  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Commits everything queued now; resolves when it (and every commit in flight) is durable. */
  async flush(): Promise<void> {
    while (this.queue.length > 0) {
      // At most `concurrency` commits at a time: writes queued meanwhile wait for a free slot
      // and then go together.
      while (this.running.size >= this.concurrency) await Promise.race(this.running);
      if (this.queue.length === 0) break;
      const batch = this.queue.splice(0, this.maxBatch);
      this.concurrent = batch.length > 1;
      const outcomes = this.execute(batch);
      // The connection is free once the commit is done; its submitters are answered once
      // the earlier commits' are.
      const done: Promise<void> = outcomes.then(() => {
        this.running.delete(done);
      });
      this.running.add(done);
      const previous = this.answered;
      this.answered = (async () => {
        const settled = await outcomes;
        await previous;
        for (const [index, item] of batch.entries()) {
          const outcome = settled[index] as { results: RunResult[] } | { error: unknown };
          if ('error' in outcome) item.reject(outcome.error);
          else item.resolve(outcome.results);
        }
      })();
    }
    await Promise.all(this.running);
    await this.answered;
    if (this.queue.length > 0) this.schedule();
  }

  private async run(batch: readonly Queued[]): Promise<RunResult[][]> {
    // Requests of one kind (multi-row statements, see `multi-row.ts`) side by side, so that
    // they merge; requests of the same turn are concurrent, any order of them is one they
    // could have come in. Each request's own statements keep their order.
    const order = [...batch.keys()];
    const kind = (item: number) => batch[item]?.statements[0]?.rows?.key ?? '';
    if (batch.length > 1)
      order.sort((a, b) => (kind(a) < kind(b) ? -1 : kind(a) > kind(b) ? 1 : a - b));
    const keyed: Entry[] = [];
    const requests = order.map((item) => {
      const plain: Entry[] = [];
      for (const [index, statement] of (batch[item] as Queued).statements.entries()) {
        (statement.lockKey === undefined ? plain : keyed).push({ item, index, statement });
      }
      return plain;
    });
    // On PostgreSQL, requests of several statements (a check: its action, then its receipt)
    // interleaved, so that each kind merges across them too. The embedded store runs each
    // statement alone, where merging gains nothing (measured): request after request, as is.
    const plain =
      this.mergesRows && batch.length > 1 ? interleaveByKind(requests) : requests.flat();
    keyed.sort((a, b) =>
      (a.statement.lockKey as string) < (b.statement.lockKey as string)
        ? -1
        : (a.statement.lockKey as string) > (b.statement.lockKey as string)
          ? 1
          : 0,
    );
    const ordered = [...plain, ...keyed];
    // Completed now, once for the whole transaction (a receipt batch: one signature).
    const results = await this.database.batch(
      sealStatements(ordered.map((entry) => entry.statement)),
    );
    const byItem = batch.map((queued) => new Array<RunResult>(queued.statements.length));
    for (const [position, entry] of ordered.entries()) {
      (byItem[entry.item] as RunResult[])[entry.index] = results[position] ?? { changes: 0 };
    }
    return byItem;
  }

  /** What became of one request: its results, or why it failed. */
  private async execute(
    batch: readonly Queued[],
  ): Promise<({ results: RunResult[] } | { error: unknown })[]> {
    try {
      const results = await this.run(batch);
      return batch.map((_, index) => ({ results: results[index] ?? [] }));
    } catch (error) {
      if (batch.length === 1 || (error as { code?: unknown }).code === 'store_unavailable') {
        // One statement, or the database is unreachable: retrying one by one would not help.
        return batch.map(() => ({ error }));
      }
      // A memory guard failed (another check of its scope committed first): the request that
      // guards the scope it names fails (its check is decided again) and the others commit
      // together without it. (Several guarding it, of which one may hold: each alone.)
      const moved = movedScopes(error);
      const guarding = batch.map((queued) =>
        queued.statements.some((statement) =>
          statement.conflictKeys?.some((key) => moved.has(key)),
        ),
      );
      const count = guarding.filter(Boolean).length;
      if (count > 0) {
        const others = batch.filter((_, index) => !guarding[index]);
        const rest = others.length > 0 ? await this.execute(others) : [];
        const outcomes: ({ results: RunResult[] } | { error: unknown })[] = [];
        for (const [index, guards] of guarding.entries()) {
          if (!guards) outcomes.push(rest.shift() as (typeof rest)[number]);
          else if (count === 1) outcomes.push({ error });
          else outcomes.push(await this.alone(batch[index] as Queued));
        }
        return outcomes;
      }
      this.logger.warn('A group commit failed; retrying its statements one by one', {
        statements: batch.length,
        error,
      });
    }
    // One bad request must not fail the others: retry each in its own transaction.
    const outcomes: ({ results: RunResult[] } | { error: unknown })[] = [];
    for (const item of batch) outcomes.push(await this.alone(item));
    return outcomes;
  }

  /** One request in a transaction of its own. */
  private async alone(item: Queued): Promise<{ results: RunResult[] } | { error: unknown }> {
    try {
      const [results] = await this.run([item]);
      return { results: results ?? [] };
    } catch (error) {
      return { error };
    }
  }

  /** Waits until every queued statement has been committed (or failed). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running.size > 0) await this.flush();
  }
}
