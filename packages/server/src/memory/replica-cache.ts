import { reservedCondition, reservedSumColumns } from '../budgets/repository';
import type { Queryable } from '../store/database';
import {
  addToIndex,
  indexByHash,
  type SessionCacheLimits,
  type SessionCall,
  type SessionCallRow,
  type SessionMemory,
  toSessionCall,
} from './session-cache';

/**
 * A session's spend as `session.cost_usd` and `session.tokens` read it: recorded usage, and
 * what is reserved for it (model calls in flight, tool calls' costs: as budgets/ sums them).
 */
export interface KeptSpend {
  costUsd: number;
  tokens: number;
  reservedNanos: number;
  reservedTokens: number;
}

/**
 * One session's calls and spend as this replica last knew them, exact as of the session's
 * memory version (`memory_versions`): every call of the log and the session's spend at
 * `version`, read in one statement with it, plus the calls (and tool costs) this replica
 * committed since, each of which moved the version by exactly one. Every other change to the
 * session's spend moves the version too (`bump.ts`).
 */
export interface ReplicaSession {
  readonly key: string;
  /** The version the calls are exact as of: what the next check's guard expects. */
  version: number;
  readonly memory: SessionMemory;
  readonly spend: KeptSpend;
  /** The compiled policy set it was read under (a new set drops it: what bumps may differ). */
  readonly set: object;
  readonly loadedAt: number;
}

/** A session read whole from the log with its version (`ReplicaSessionCache.load`). */
export type LoadedSession =
  | { kept: ReplicaSession }
  /** Exact as of `version`, for this check only: it holds calls still held for approval. */
  | { once: { version: number; memory: SessionMemory; spend: KeptSpend } }
  | 'too large';

const maxSessions = 1_000;
/** Sessions found too large, remembered so that they are not read whole again (bounded). */
const maxTooLarge = 10_000;

/**
 * The sessions' calls and spend of this replica, on PostgreSQL (issue #17: the read of a
 * session's calls, then of its spend, at every check was what a memory check cost; the spend is
 * kept since 2026-12-07: every write that changes it moves the session's version, `bump.ts`).
 * Replicas share the log, so what one replica holds
 * is only trusted as of a version: the check's commit guards the version it was decided on
 * (`guardedInsert`), and a call of a tool any session input counts moves it (a check reading the
 * session guards it, any other such call bumps it). Another replica's commit in between fails the
 * guard: nothing is written, the session is dropped here, and the check is decided again on the
 * session read afresh. So a session kept here saves the read, never the arbiter.
 *
 * What the version does not cover is not kept: a session with a call held for approval (its
 * outcome changes in the log without a version), and sessions read under another policy set (a
 * set that counts other tools bumps for other calls). `ttlMs` bounds how long a session is kept
 * unread (calls logged by a replica still deciding on an older set, for the moment before it
 * hears of the new one; actions removed by retention).
 */
export class ReplicaSessionCache {
  readonly #entries = new Map<string, ReplicaSession>();
  readonly #tooLarge = new Set<string>();
  #kept = 0;
  readonly #maxCallsPerSession: number;
  readonly #maxCalls: number;
  readonly #ttlMs: number;

  constructor(limits: SessionCacheLimits & { ttlMs?: number } = {}) {
    this.#maxCallsPerSession = limits.callsPerSession ?? 5_000;
    this.#maxCalls = limits.calls ?? 200_000;
    this.#ttlMs = limits.ttlMs ?? 30_000;
  }

  /** Whether the session was found too large to keep (its checks read the log). */
  tooLarge(key: string): boolean {
    return this.#tooLarge.has(key);
  }

  /** The session kept for `key`, if it was read under `set` less than `ttlMs` ago. */
  get(key: string, set: object, now: number): ReplicaSession | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.set !== set || now - entry.loadedAt >= this.#ttlMs || now < entry.loadedAt) {
      this.drop(key);
      return undefined;
    }
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  /**
   * Reads the session's calls and its version in one statement (one snapshot) and keeps them
   * (through the session's index behind an `OFFSET 0` fence: without fresh statistics the
   * planner otherwise takes the agent's index and filters every call of the agent),
   * unless the session holds a call awaiting approval (`once`: exact for this check) or has more
   * calls than a session is kept with.
   */
  async load(
    db: Queryable,
    key: string,
    session: { agentId: string; environment: string; sessionId: string },
    set: object,
    now: number,
  ): Promise<LoadedSession> {
    const rows = await db.all<
      Omit<SessionCallRow, 'id'> & {
        version: number | string | null;
        id: string | null;
        cost: number | string | null;
        tokens: number | string | null;
        r_usd: number | string | null;
        r_tokens: number | string | null;
      }
    >(
      `SELECT v.version, v.cost, v.tokens, v.r_usd, v.r_tokens, a.id, a.tool_name, a.decision,
         a.reason, a.status, a.on_timeout, a.args_hash, a.created_at, a.decided_at, a.expires_at
       FROM (SELECT (SELECT version FROM memory_versions WHERE scope_key = $1) AS version,
           u.cost, u.tokens, r.usd AS r_usd, r.tokens AS r_tokens
         FROM (SELECT SUM(u.cost_usd) AS cost, SUM(u.prompt_tokens + u.completion_tokens) AS tokens
           FROM (SELECT cost_usd, prompt_tokens, completion_tokens, agent_id, environment
             FROM usage WHERE session_id = $2 OFFSET 0) u
           WHERE u.agent_id = $3 AND u.environment = $4) u,
         (SELECT ${reservedSumColumns} FROM budget_reservations
           WHERE ${reservedCondition(true)} AND environment = $4 AND agent_id = $3
             AND session_id = $2) r) v
       LEFT JOIN LATERAL (
         SELECT seq, id, tool_name, decision, reason, status, on_timeout, args_hash, created_at,
           decided_at, expires_at
         FROM (SELECT seq, id, tool_name, decision, reason, status, on_timeout, args_hash,
             created_at, decided_at, expires_at, agent_id, environment
           FROM actions WHERE session_id = $2 OFFSET 0) s
         WHERE agent_id = $3 AND environment = $4
         ORDER BY seq LIMIT $5) a ON true
       ORDER BY a.seq`,
      [key, session.sessionId, session.agentId, session.environment, this.#maxCallsPerSession + 1],
    );
    const first = rows[0];
    const version = Number(first?.version ?? 0);
    // One snapshot with the version: usage or a reservation committed after it moved it.
    const spend: KeptSpend = {
      costUsd: Number(first?.cost ?? 0),
      tokens: Number(first?.tokens ?? 0),
      reservedNanos: Number(first?.r_usd ?? 0),
      reservedTokens: Number(first?.r_tokens ?? 0),
    };
    const calls: SessionCall[] = [];
    for (const row of rows) if (row.id !== null) calls.push(toSessionCall({ ...row, id: row.id }));
    if (calls.length > this.#maxCallsPerSession) {
      if (this.#tooLarge.size >= maxTooLarge) this.#tooLarge.clear();
      this.#tooLarge.add(key);
      this.drop(key);
      return 'too large';
    }
    const pending = calls.filter((call) => call.status === 'pending').length;
    const memory: SessionMemory = {
      calls,
      pending,
      costUsd: 0,
      tokens: 0,
      inFlight: 0,
      byHash: indexByHash(calls),
      counts: new Map(),
    };
    if (pending > 0) {
      this.drop(key);
      return { once: { version, memory, spend } };
    }
    const entry: ReplicaSession = { key, version, memory, spend, set, loadedAt: now };
    this.drop(key);
    this.#entries.set(key, entry);
    this.#kept += calls.length;
    this.#evict(key);
    return { kept: entry };
  }

  /**
   * `call` was committed with a guard that moved `entry`'s version from `expected` to the next:
   * it is the session's next call, and `costNanos` (its tool cost, reserved while it was
   * decided and spent by that commit) the session's spend more. (Anything else, or a call held
   * for approval, drops it.)
   */
  committed(entry: ReplicaSession, call: SessionCall, expected: number, costNanos = 0): void {
    // A copy read meanwhile may predate this commit: read it again.
    if (this.#entries.get(entry.key) !== entry) {
      this.drop(entry.key);
      return;
    }
    if (entry.version !== expected || call.status === 'pending') {
      this.drop(entry.key);
      return;
    }
    entry.memory.calls.push(call);
    addToIndex(entry.memory.byHash, call);
    entry.spend.reservedNanos += costNanos;
    entry.version = expected + 1;
    this.#kept++;
    if (entry.memory.calls.length > this.#maxCallsPerSession) this.drop(entry.key);
    else this.#evict(entry.key);
  }

  /** Drops the session kept for `key` (its version moved in a way this replica did not follow). */
  drop(key: string, only?: ReplicaSession): void {
    const entry = this.#entries.get(key);
    if (entry === undefined || (only !== undefined && entry !== only)) return;
    this.#entries.delete(key);
    this.#kept -= entry.memory.calls.length;
  }

  /** Drops the least recently used sessions but `keep` while over the bounds. */
  #evict(keep: string): void {
    for (const [key] of this.#entries) {
      if (this.#entries.size <= maxSessions && this.#kept <= this.#maxCalls) return;
      if (key !== keep) this.drop(key);
    }
  }
}
