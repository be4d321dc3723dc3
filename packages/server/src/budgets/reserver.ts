import { bumpCte, bumpKeysJson, bumpVersions, sessionScopeKey } from '../memory/bump';
import type { Database, Queryable, SqlValue } from '../store/database';
import {
  type BudgetRecord,
  budgetRepository,
  type CounterRecord,
  counterOf,
  emptyCounter,
  insertReservationsInto,
  type ReservationRecord,
  reservationParams,
  reservationPlaceholders,
} from './repository';

// Reservations made together: those asked for in one turn of the event loop are decided in one
// round trip, as the group committer writes the tool checks of a turn in one commit. Each is
// taken against every counter it names only if all of them stay within their limits, exactly as
// if they had come one by one (in the order they were asked), on one replica or many.
//
// - PostgreSQL, far from the limits (the usual case): one statement, outside any explicit
//   transaction, locks the turn's counters (in one order: replicas never deadlock), checks that
//   all of the turn's amounts together fit, adds them and inserts the reservations — or, when
//   they do not all fit, changes nothing. Answered once that statement has committed.
// - Near a limit (the statement changed nothing), and on the embedded store: one transaction
//   reads the counters (PostgreSQL: locked), decides each reservation in turn, and writes.

/** A reservation to make: its record and the budgets (with windows) it holds, in lock order. */
export interface ReservationRequest {
  held: readonly { budget: BudgetRecord; windowKey: string }[];
  reservation: ReservationRecord;
  /** Taken past the limits (a call a budget holds for an approver). */
  force: boolean;
}

/** What became of a request: reserved (the counters just after it), or the counter that refused it. */
export type ReservationOutcome =
  | { fitted: true; counters: CounterRecord[] }
  | { fitted: false; budget: BudgetRecord; windowKey: string; counter: CounterRecord };

interface Queued {
  request: ReservationRequest;
  resolve: (outcome: ReservationOutcome) => void;
  reject: (error: unknown) => void;
}

/** The identity of a counter row. */
const keyOf = (budgetId: string, windowKey: string) => `${budgetId}\u0000${windowKey}`;

// Reservations per round trip (each binds a few parameters per counter: far below the 65 535
// parameters PostgreSQL takes in one statement).
const maxBatch = 500;
/** Counter rows remembered as existing before the set starts over. */
const maxKnown = 50_000;

/** Whether `usdNanos` and `tokens` more stay within a budget's limits on `counter`. */
function fits(budget: BudgetRecord, counter: CounterRecord, usdNanos: number, tokens: number) {
  return (
    (budget.limitUsdNanos === null ||
      counter.spentUsdNanos + counter.reservedUsdNanos + usdNanos <= budget.limitUsdNanos) &&
    (budget.limitTokens === null ||
      counter.spentTokens + counter.reservedTokens + tokens <= budget.limitTokens)
  );
}

/** Makes reservations a turn at a time (see the top of this file). */
export class Reserver {
  #queue: Queued[] = [];
  #scheduled = false;
  #running = 0;
  // Counter rows known to exist, so that a reservation does not first create its counters.
  readonly #known = new Set<string>();
  // PostgreSQL: a second batch waits for the counters' row locks while the first commits, so
  // that it starts the moment they are free; more would only wait longer.
  readonly #concurrency: number;

  constructor(private readonly database: Database) {
    this.#concurrency = database.dialect === 'postgres' ? 2 : 1;
  }

  /** Reserves (or refuses) one request; resolves once what it reserved is committed. */
  reserve(request: ReservationRequest): Promise<ReservationOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#running >= this.#concurrency) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#next();
    });
  }

  async #next(): Promise<void> {
    if (this.#queue.length === 0 || this.#running >= this.#concurrency) return;
    const batch = this.#queue.splice(0, maxBatch);
    this.#running++;
    if (this.#queue.length > 0) this.#schedule();
    try {
      const outcomes = await this.#run(batch.map((queued) => queued.request));
      for (const [index, queued] of batch.entries()) {
        queued.resolve(outcomes[index] as ReservationOutcome);
      }
    } catch (error) {
      // Nothing of the batch was reserved: each request fails (closed).
      for (const queued of batch) queued.reject(error);
    } finally {
      this.#running--;
      if (this.#queue.length > 0) this.#schedule();
    }
  }

  async #run(requests: readonly ReservationRequest[]): Promise<ReservationOutcome[]> {
    await this.#ensureCounters(requests);
    if (
      this.database.dialect === 'postgres' &&
      requests.every((request) => !request.force) &&
      requests.some((request) => request.held.length > 0)
    ) {
      const outcomes = await this.#allAtOnce(requests);
      if (outcomes) return outcomes;
    }
    return this.database.transaction((transaction) => this.#oneByOne(transaction, requests));
  }

  /** Creates the counter rows not known to exist (committed on their own: an empty counter is harmless). */
  async #ensureCounters(requests: readonly ReservationRequest[]): Promise<void> {
    const missing = new Map<string, [string, string]>();
    for (const { held } of requests) {
      for (const { budget, windowKey } of held) {
        const key = keyOf(budget.id, windowKey);
        if (!this.#known.has(key)) missing.set(key, [budget.id, windowKey]);
      }
    }
    if (missing.size === 0) return;
    const rows = [...missing.values()].sort(compareCounters);
    const now = requests[0]?.reservation.createdAt ?? 0;
    await this.database.run(
      `INSERT INTO budget_counters (budget_id, window_key, updated_at)
       VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}
       ON CONFLICT (budget_id, window_key) DO NOTHING`,
      rows.flatMap(([budgetId, windowKey]) => [budgetId, windowKey, now]),
    );
    if (this.#known.size + missing.size > maxKnown) this.#known.clear();
    for (const key of missing.keys()) this.#known.add(key);
  }

  /**
   * PostgreSQL: every request of the batch in one statement, if all of them together fit every
   * counter they name (then each one alone, in any order, fits too: amounts are never negative).
   * Undefined when they do not (nothing was changed).
   */
  async #allAtOnce(
    requests: readonly ReservationRequest[],
  ): Promise<ReservationOutcome[] | undefined> {
    const totals = new Map<
      string,
      { budget: BudgetRecord; windowKey: string; usdNanos: number; tokens: number }
    >();
    for (const { held, reservation } of requests) {
      for (const { budget, windowKey } of held) {
        const key = keyOf(budget.id, windowKey);
        const total = totals.get(key) ?? { budget, windowKey, usdNanos: 0, tokens: 0 };
        total.usdNanos += reservation.usdNanos;
        total.tokens += reservation.tokens;
        totals.set(key, total);
      }
    }
    // The sessions' memory versions move first (their rows before the counters', the order of
    // every transaction that takes both), in this statement: all or none.
    const bumped = bumpedSessions(requests);
    const params: SqlValue[] = bumped.length > 0 ? [bumpKeysJson(bumped)] : [];
    const counterRows: string[] = [];
    for (const total of totals.values()) {
      counterRows.push(
        '(?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))',
      );
      params.push(
        total.budget.id,
        total.windowKey,
        total.usdNanos,
        total.tokens,
        total.budget.limitUsdNanos,
        total.budget.limitTokens,
      );
    }
    params.push(totals.size);
    const now = requests[0]?.reservation.createdAt ?? 0;
    params.push(now);
    for (const { reservation } of requests) params.push(...reservationParams(reservation));
    // `locked` takes the row locks in one order (that of the group committer's `lockKey`s) and,
    // on PostgreSQL, reads each row as last committed; the update then applies to those rows.
    const rows = await this.database.all<Record<string, unknown>>(
      `WITH ${bumped.length > 0 ? `bumped AS (${bumpCte('?')}),` : ''}
       wanted (budget_id, window_key, usd, tokens, limit_usd, limit_tokens) AS (
         VALUES ${counterRows.join(', ')}),
       locked AS (
         SELECT c.* FROM budget_counters c
         JOIN wanted w ON w.budget_id = c.budget_id AND w.window_key = c.window_key
         ${bumped.length > 0 ? 'WHERE (SELECT COUNT(*) FROM bumped) >= 0' : ''}
         ORDER BY c.budget_id COLLATE "C", c.window_key COLLATE "C" FOR UPDATE OF c),
       fit AS (
         SELECT COUNT(*) = ? AND COALESCE(BOOL_AND(
           (w.limit_usd IS NULL OR l.spent_usd_nanos + l.reserved_usd_nanos + w.usd <= w.limit_usd)
           AND (w.limit_tokens IS NULL OR l.spent_tokens + l.reserved_tokens + w.tokens <= w.limit_tokens)
         ), FALSE) AS ok
         FROM locked l JOIN wanted w ON w.budget_id = l.budget_id AND w.window_key = l.window_key),
       updated AS (
         UPDATE budget_counters c SET reserved_usd_nanos = c.reserved_usd_nanos + w.usd,
           reserved_tokens = c.reserved_tokens + w.tokens, updated_at = ?
         FROM wanted w
         WHERE (SELECT ok FROM fit) AND w.budget_id = c.budget_id AND w.window_key = c.window_key
         RETURNING 1),
       inserted AS (
         ${insertReservationsInto}
         SELECT * FROM (VALUES ${requests.map(() => reservationPlaceholders).join(', ')}) AS r
         WHERE (SELECT ok FROM fit)
         RETURNING 1)
       SELECT (SELECT ok FROM fit) AS ok, (SELECT COUNT(*) FROM updated) AS updated,
         (SELECT COUNT(*) FROM inserted) AS inserted, l.* FROM locked l`,
      params,
    );
    if (rows[0]?.ok !== true) return undefined;
    if (Number(rows[0].updated) !== totals.size || Number(rows[0].inserted) !== requests.length) {
      throw new Error('A batch of budget reservations was written only in part.');
    }
    const counters = new Map<string, CounterRecord>();
    for (const row of rows) {
      const counter = counterOf(row);
      counters.set(keyOf(counter.budgetId, counter.windowKey), counter);
    }
    // Each request's answer shows the counters as they were just after it, in the order asked.
    return requests.map(({ held, reservation }) => ({
      fitted: true,
      counters: held.map(({ budget, windowKey }) => {
        const counter = counters.get(keyOf(budget.id, windowKey)) as CounterRecord;
        counter.reservedUsdNanos += reservation.usdNanos;
        counter.reservedTokens += reservation.tokens;
        return { ...counter };
      }),
    }));
  }

  /** In one transaction: reads (PostgreSQL: locks) the counters, decides each request in turn, writes. */
  async #oneByOne(
    transaction: Queryable,
    requests: readonly ReservationRequest[],
  ): Promise<ReservationOutcome[]> {
    const wanted = new Map<string, [string, string]>();
    for (const { held } of requests) {
      for (const { budget, windowKey } of held) {
        wanted.set(keyOf(budget.id, windowKey), [budget.id, windowKey]);
      }
    }
    const keys = [...wanted.values()].sort(compareCounters);
    // PostgreSQL: the sessions' memory versions first (see `#allAtOnce`).
    await bumpVersions(transaction, bumpedSessions(requests));
    const counters = new Map<string, CounterRecord>();
    if (keys.length > 0) {
      const rows = await transaction.all<Record<string, unknown>>(
        `SELECT * FROM budget_counters WHERE ${keys.map(() => '(budget_id = ? AND window_key = ?)').join(' OR ')}
         ${transaction.dialect === 'postgres' ? 'ORDER BY budget_id COLLATE "C", window_key COLLATE "C" FOR UPDATE' : ''}`,
        keys.flat(),
      );
      for (const row of rows) {
        const counter = counterOf(row);
        counters.set(keyOf(counter.budgetId, counter.windowKey), counter);
      }
    }
    const repository = budgetRepository(transaction);
    const now = requests[0]?.reservation.createdAt ?? 0;
    // What the turn adds to each counter's reserved amounts.
    const added = new Map<
      string,
      { budgetId: string; windowKey: string; usd: number; tokens: number }
    >();
    const outcomes: ReservationOutcome[] = [];
    for (const { held, reservation, force } of requests) {
      const current = held.map(({ budget, windowKey }) => {
        const key = keyOf(budget.id, windowKey);
        let counter = counters.get(key);
        if (!counter) {
          // Gone since it was created (its budget was deleted meanwhile): counted from nothing.
          counter = emptyCounter(budget.id, windowKey);
          counters.set(key, counter);
          this.#known.delete(key);
        }
        return counter;
      });
      const refusing = force
        ? -1
        : held.findIndex(
            ({ budget }, index) =>
              !fits(
                budget,
                current[index] as CounterRecord,
                reservation.usdNanos,
                reservation.tokens,
              ),
          );
      if (refusing >= 0) {
        const { budget, windowKey } = held[refusing] as (typeof held)[number];
        outcomes.push({
          fitted: false,
          budget,
          windowKey,
          counter: { ...(current[refusing] as CounterRecord) },
        });
        continue;
      }
      for (const [index, counter] of current.entries()) {
        counter.reservedUsdNanos += reservation.usdNanos;
        counter.reservedTokens += reservation.tokens;
        const { budget, windowKey } = held[index] as (typeof held)[number];
        const key = keyOf(budget.id, windowKey);
        const sum = added.get(key) ?? { budgetId: budget.id, windowKey, usd: 0, tokens: 0 };
        sum.usd += reservation.usdNanos;
        sum.tokens += reservation.tokens;
        added.set(key, sum);
      }
      await repository.insertReservation(reservation);
      outcomes.push({ fitted: true, counters: current.map((counter) => ({ ...counter })) });
    }
    for (const sum of added.values()) {
      await repository.hold(sum.budgetId, sum.windowKey, sum.usd, sum.tokens, now);
    }
    return outcomes;
  }
}

/**
 * The sessions whose memory versions a batch of reservations moves (PostgreSQL, `bump.ts`): a
 * model call's reservation adds to its session's `session.cost_usd`. (A tool call's is moved
 * by its check's own commit.)
 */
function bumpedSessions(requests: readonly ReservationRequest[]): string[] {
  const keys: string[] = [];
  for (const { reservation } of requests) {
    if (reservation.kind !== 'model' || reservation.sessionId === null) continue;
    keys.push(sessionScopeKey(reservation.agentId, reservation.environment, reservation.sessionId));
  }
  return keys;
}

/** The one order in which counters are locked: budget id, then window. */
function compareCounters(a: [string, string], b: [string, string]): number {
  return a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1;
}
