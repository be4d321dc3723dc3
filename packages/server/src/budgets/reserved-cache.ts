// The embedded store's reserved amounts per session, kept in this process: what a check whose
// policy reads `session.cost_usd` adds to the session's recorded spend (tool costs held or
// charged, model calls reserved and not settled), without a query per check.
//
// Exact: one process owns the SQLite file, so every change to a reservation is made here, and
// each one is bracketed by `changing()` (reserve, settle by a usage record, give back, expire).
// A session's sum is read from the database on first use and kept until a change touches one of
// its reservations: dropped when the change starts and again when it ends (committed or not), and
// a read that overlapped a change of its session is answered but not kept. A restart starts
// empty. PostgreSQL does not use it (replicas change reservations too).

/** Nanodollars and tokens. */
export interface ReservedSum {
  usdNanos: number;
  tokens: number;
}

/** Whose reservations: the session of an agent in an environment (null: no session). */
export interface ReservationOwner {
  agentId: string;
  environment: string;
  sessionId: string | null;
}

interface Entry {
  sum: ReservedSum | undefined;
  /** Changes of the session's reservations begun and not yet ended. */
  changing: number;
  /** Bumped when a change begins or ends: a read that saw it move is not kept. */
  generation: number;
}

/** Sessions kept; past this the least recently used go (their next read queries again). */
const maxSessions = 10_000;

const keyOf = (owner: ReservationOwner) =>
  `${owner.agentId}\u0000${owner.environment}\u0000${owner.sessionId}`;

/** Sessions' reserved sums (with tool charges), see the top of this file. */
export class SessionReservedSums {
  readonly #entries = new Map<string, Entry>();

  /** The session's sum: kept, or read with `read` (the query) and kept if nothing changed meanwhile. */
  async get(
    owner: ReservationOwner & { sessionId: string },
    read: () => Promise<ReservedSum>,
  ): Promise<ReservedSum> {
    const key = keyOf(owner);
    let entry = this.#entries.get(key);
    if (entry?.sum !== undefined) {
      // Most recently used last.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      return { ...entry.sum };
    }
    if (entry === undefined) {
      entry = { sum: undefined, changing: 0, generation: 0 };
      this.#add(key, entry);
    }
    const generation = entry.generation;
    const sum = await read();
    if (
      this.#entries.get(key) === entry &&
      entry.changing === 0 &&
      entry.generation === generation
    ) {
      entry.sum = { ...sum };
    }
    return sum;
  }

  /**
   * Before a change to reservations of these owners is written: their sums are dropped until
   * it ends. Returns what to call once it has committed or failed (once; later calls do nothing).
   */
  changing(owners: Iterable<ReservationOwner>): () => void {
    const entries: Entry[] = [];
    const keys = new Set<string>();
    for (const owner of owners) {
      if (owner.sessionId === null) continue;
      const key = keyOf(owner);
      if (keys.has(key)) continue;
      keys.add(key);
      let entry = this.#entries.get(key);
      if (entry === undefined) {
        entry = { sum: undefined, changing: 0, generation: 0 };
        this.#add(key, entry);
      }
      entry.sum = undefined;
      entry.changing++;
      entry.generation++;
      entries.push(entry);
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      for (const entry of entries) {
        entry.sum = undefined;
        entry.changing--;
        entry.generation++;
      }
    };
  }

  #add(key: string, entry: Entry): void {
    if (this.#entries.size >= maxSessions) {
      // The least recently used that no change holds (one held stays: its end must find it).
      for (const [oldKey, old] of this.#entries) {
        if (old.changing > 0) continue;
        this.#entries.delete(oldKey);
        if (this.#entries.size < maxSessions) break;
      }
    }
    this.#entries.set(key, entry);
  }
}
