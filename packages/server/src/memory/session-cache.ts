import { type MemoryDecision, matchesToolPattern } from '@arden/policy';
import { heldOutcomeVersion } from '../actions/repository';
import type { Queryable } from '../store/database';

/** One logged call of a session, as the memory inputs read it. */
export interface SessionCall {
  id: string;
  tool: string;
  decision: string;
  reason: string | null;
  status: string;
  onTimeout: string | null;
  argsHash: string | null;
  createdAt: number;
  /**
   * When it was refused, if it was (decided, denied, or expired denied: `refusedAtSql`); absent:
   * `createdAt` (a block is decided at its check).
   */
  refusedAt?: number;
}

/** When `call` was refused (or decided): what a `repeat_window` counts from. */
export function refusedAt(call: SessionCall): number {
  return call.refusedAt ?? call.createdAt;
}

/** `refusedAt` of a logged row (`refusedAtSql`). */
function refusedAtOf(row: {
  status: string;
  created_at: number | string;
  decided_at: number | string | null;
  expires_at: number | string | null;
}): number {
  const at = row.status === 'expired' ? (row.expires_at ?? row.decided_at) : row.decided_at;
  return Number(at ?? row.created_at);
}

/** A session's calls and recorded spend, held in this process. */
export interface SessionMemory {
  calls: SessionCall[];
  /** Calls still held for approval: their outcome may change in the log, so they are re-read. */
  pending: number;
  /**
   * `heldOutcomeVersion()` when the held calls were last read: they are read again only once an
   * outcome changed somewhere in this process (absent: never kept in a cache, read every time).
   */
  outcomesRead?: number;
  costUsd: number;
  tokens: number;
  /** Calls of this session being decided (logged in memory before their commit). */
  inFlight: number;
  /**
   * The calls that are refusals (`isRefusal`), by arguments hash, in log order: a refused-repeat
   * lookup reads these, not every call (a call held for approval joins them once it is denied,
   * `refreshPending`; a session repeating an allowed or a held call thousands of times adds
   * nothing here).
   */
  byHash: Map<string, SessionCall[]>;
  /**
   * `calls(pattern, window, decision)` counts kept as calls are appended, by pattern and
   * decision (`countCalls`); absent: every count scans the calls. Cleared whenever a call is
   * taken back or changes its outcome.
   */
  counts?: Map<string, CallCount>;
}

/** The calls of a session matching one pattern and decision, kept up to date as calls are appended. */
interface CallCount {
  /** The times of the matching calls among `calls[0, scanned)`, in log order. */
  times: number[];
  scanned: number;
  /** Whether `times` never goes down: then a window's first call is found by bisection. */
  sorted: boolean;
}

/** Patterns and decisions counted per session before its counts start over. */
const maxCounts = 64;

/**
 * How many of the session's calls match `pattern` and `decision`, made at or after `since`
 * (`-Infinity`: all). A session kept here takes in only the calls appended since its last count
 * (at most a few per check) instead of reading every call at every check.
 */
export function countCalls(
  session: SessionMemory,
  pattern: string,
  decision: MemoryDecision | undefined,
  since: number,
): number {
  const matches = toolMatcher(pattern);
  const calls = session.calls;
  if (session.counts === undefined) {
    // Calls of one tool follow each other: its match is carried over.
    let lastTool: string | undefined;
    let lastMatched = false;
    let total = 0;
    for (const call of calls) {
      if (call.createdAt < since || !outcomeMatches(call, decision)) continue;
      if (call.tool !== lastTool) {
        lastTool = call.tool;
        lastMatched = matches(call.tool);
      }
      if (lastMatched) total++;
    }
    return total;
  }
  const key = `${pattern}\u0000${decision ?? ''}`;
  let count = session.counts.get(key);
  if (count === undefined) {
    if (session.counts.size >= maxCounts) session.counts.clear();
    count = { times: [], scanned: 0, sorted: true };
    session.counts.set(key, count);
  }
  const times = count.times;
  for (; count.scanned < calls.length; count.scanned++) {
    const call = calls[count.scanned] as SessionCall;
    if (!outcomeMatches(call, decision) || !matches(call.tool)) continue;
    // Checks of a session may be decided in another order than their clocks were read.
    if (times.length > 0 && call.createdAt < (times[times.length - 1] as number)) {
      count.sorted = false;
    }
    times.push(call.createdAt);
  }
  if (since === -Infinity) return times.length;
  if (!count.sorted) {
    let total = 0;
    for (const time of times) if (time >= since) total++;
    return total;
  }
  // The first matching call at or after `since`.
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((times[middle] as number) < since) low = middle + 1;
    else high = middle;
  }
  return times.length - low;
}

/** Indexes the calls of `calls` that are refusals by arguments hash, in log order. */
export function indexByHash(calls: readonly SessionCall[]): Map<string, SessionCall[]> {
  const byHash = new Map<string, SessionCall[]>();
  for (const call of calls) addToIndex(byHash, call);
  return byHash;
}

export function addToIndex(byHash: Map<string, SessionCall[]>, call: SessionCall): void {
  // Only refusals are looked up: a session repeating an allowed call, or one held for approval,
  // thousands of times would make every lookup walk them all.
  if (call.argsHash === null || !isRefusal(call)) return;
  const same = byHash.get(call.argsHash);
  if (same === undefined) byHash.set(call.argsHash, [call]);
  else same.push(call);
}

/**
 * The first refusal of `tool` with these arguments in a kept session (in log order), refused at
 * or after `since` when given.
 */
export function refusalIn(
  session: SessionMemory,
  tool: string,
  argsHash: string,
  since: number | undefined,
): SessionCall | undefined {
  const same = session.byHash.get(argsHash);
  if (same === undefined) return undefined;
  for (const logged of same) {
    if (
      logged.tool === tool &&
      (since === undefined || refusedAt(logged) >= since) &&
      isRefusal(logged)
    ) {
      return logged;
    }
  }
  return undefined;
}

/** Takes `call` out of a list of calls (the last time it is there), if it is there. */
function remove(calls: SessionCall[] | undefined, call: SessionCall): boolean {
  const at = calls?.lastIndexOf(call) ?? -1;
  if (calls === undefined || at < 0) return false;
  calls.splice(at, 1);
  return true;
}

const maxSessions = 1_000;
/** A large session with more calls that were not allowed than this is asked of the log. */
export const maxCandidates = 5_000;

/** The session cache's bounds (`ServerConfig.sessionCache`). */
export interface SessionCacheLimits {
  /**
   * A session with more calls than this is not kept whole: its counts are read from the log
   * (default 5 000; loading a session reads this many rows once).
   */
  callsPerSession?: number;
  /**
   * Calls kept in all sessions together (default 200 000, some 50 MiB): past it the least
   * recently used sessions are dropped (read from the log again when next used).
   */
  calls?: number;
}

/**
 * What is kept of a session too large to keep whole: its calls that were not allowed (the only
 * ones that can be refusals), by arguments hash — noted as they are decided here, and read from
 * the log on first use (`loaded`); `overflow` when there are too many to keep. Of those, the
 * refusals and the calls held for approval are kept (a held call may be denied); the others
 * (approved, cancelled, blocked by a budget) are only counted in `size`.
 */
interface LargeSession {
  byHash: Map<string, Candidates>;
  size: number;
  loaded: boolean;
  overflow: boolean;
  /**
   * `heldOutcomeVersion()` when the held calls' outcomes were last read (absent: never): while it
   * has not moved, a held call is still held, and is no refusal.
   */
  outcomesRead?: number;
}

/** A large session's calls with one arguments hash that can be refusals. */
interface Candidates {
  refusals: SessionCall[];
  held: SessionCall[];
}

/** Keeps `call` in a large session when it was not allowed; whether it was kept. */
function addCandidate(large: LargeSession, call: SessionCall): boolean {
  if (large.overflow || call.decision === 'allow' || call.argsHash === null) return false;
  if (large.size >= maxCandidates) {
    // Too many to keep: the log answers for this session from now on.
    large.overflow = true;
    large.byHash.clear();
    large.size = 0;
    return false;
  }
  large.size++;
  const refusal = isRefusal(call);
  if (!refusal && call.status !== 'pending') return true;
  let same = large.byHash.get(call.argsHash);
  if (same === undefined) {
    same = { refusals: [], held: [] };
    large.byHash.set(call.argsHash, same);
  }
  (refusal ? same.refusals : same.held).push(call);
  return true;
}

/**
 * Whether a refused call counts for refused repeats: a condition error is not a refusal, and
 * neither is a budget's block (a raised limit or a new day lifts it).
 */
export function isRefusal(call: Pick<SessionCall, 'decision' | 'reason' | 'status' | 'onTimeout'>) {
  return (
    (call.decision === 'block' &&
      call.reason !== 'condition_error' &&
      call.reason !== 'budget_exceeded') ||
    call.status === 'denied' ||
    (call.status === 'expired' && call.onTimeout === 'deny')
  );
}

/** Whether a call's outcome matches a `calls(…, decision)` filter. */
export function outcomeMatches(
  call: { decision: string; status: string; onTimeout: string | null },
  decision: MemoryDecision | undefined,
): boolean {
  switch (decision) {
    case undefined:
      return true;
    case 'allowed':
      return (
        call.decision === 'allow' ||
        call.status === 'approved' ||
        (call.status === 'expired' && call.onTimeout === 'allow')
      );
    case 'blocked':
      return call.decision === 'block';
    case 'approved':
      return call.status === 'approved';
    case 'denied':
      return call.status === 'denied' || (call.status === 'expired' && call.onTimeout !== 'allow');
  }
}

/**
 * A session's logged calls in log order, at most `limit`; with `notAllowed`, only those that were
 * not allowed and have an arguments hash (the ones a repeat can be refused for).
 */
async function loggedCalls(
  db: Queryable,
  agentId: string,
  environment: string,
  sessionId: string,
  options: { limit: number; notAllowed?: boolean },
): Promise<SessionCall[]> {
  const rows = await db.all<SessionCallRow>(
    `SELECT id, tool_name, decision, reason, status, on_timeout, args_hash, created_at, decided_at,
       expires_at FROM actions
     WHERE session_id = ? AND agent_id = ? AND environment = ?
       ${options.notAllowed ? "AND decision <> 'allow' AND args_hash IS NOT NULL" : ''}
     ORDER BY seq LIMIT ?`,
    [sessionId, agentId, environment, options.limit],
  );
  return rows.map(toSessionCall);
}

/** The columns of a logged call that a session's memory reads (`toSessionCall`). */
export interface SessionCallRow {
  id: string;
  tool_name: string;
  decision: string;
  reason: string | null;
  status: string;
  on_timeout: string | null;
  args_hash: string | null;
  created_at: number | string;
  decided_at: number | string | null;
  expires_at: number | string | null;
}

/** A logged call's row (`loggedCalls`) as a session's call. */
export function toSessionCall(row: SessionCallRow): SessionCall {
  return {
    id: row.id,
    tool: row.tool_name,
    decision: row.decision,
    reason: row.reason,
    status: row.status,
    onTimeout: row.on_timeout,
    argsHash: row.args_hash,
    createdAt: Number(row.created_at),
    refusedAt: refusedAtOf(row),
  };
}

/**
 * Sessions' calls and spend kept in this process, for the embedded store only: one process owns
 * the SQLite file, so what it wrote is all there is, and the memory inputs of a session are read
 * here instead of from the log (a check costs no extra query). Loaded from the database on first
 * use (a restart loses nothing), appended to as checks are decided, and re-read while a call of
 * the session is held for approval (its outcome changes in the log). Bounded: the least recently
 * used sessions are dropped (at most `maxSessions` sessions and `limits.calls` calls in all), and
 * sessions over `limits.callsPerSession` calls are read from the log.
 */
export class SessionCache {
  readonly #sessions = new Map<string, SessionMemory>();
  readonly #maxCallsPerSession: number;
  readonly #maxCalls: number;
  /** Calls of the sessions in `#sessions`, together. */
  #kept = 0;

  constructor(limits: SessionCacheLimits = {}) {
    this.#maxCallsPerSession = limits.callsPerSession ?? 5_000;
    this.#maxCalls = Math.max(this.#maxCallsPerSession, limits.calls ?? 200_000);
  }
  /**
   * Sessions found over `limits.callsPerSession` calls: their counts go to the database, without
   * reading their first calls again at every check (a session only grows). Each keeps, once
   * loaded, its calls that were not allowed — the only calls that can be refusals — so that a
   * refused-repeat lookup of a large session costs no query (`refusalOf`).
   */
  readonly #tooLarge = new Map<string, LargeSession>();

  static key(agentId: string, environment: string, sessionId: string): string {
    return `${agentId}\u0000${environment}\u0000${sessionId}`;
  }

  /** The session's memory (loaded or re-read when needed), or undefined when it is too large. */
  async get(
    db: Queryable,
    agentId: string,
    environment: string,
    sessionId: string,
  ): Promise<SessionMemory | undefined> {
    const key = SessionCache.key(agentId, environment, sessionId);
    if (this.#tooLarge.has(key)) return undefined;
    const cached = this.#sessions.get(key);
    if (cached !== undefined) {
      // Most recently used last.
      this.#sessions.delete(key);
      this.#sessions.set(key, cached);
      if (cached.pending === 0 || cached.inFlight > 0) return cached;
      // Calls held for approval may have been decided since: re-read their outcomes only, and
      // only when some held call's outcome changed in this process since they were last read.
      const version = heldOutcomeVersion();
      if (cached.outcomesRead === version) return cached;
      await this.#refreshPending(db, cached);
      // A change during the read is read at the next check (the version read before it).
      cached.outcomesRead = version;
      return cached;
    }
    const version = heldOutcomeVersion();
    const calls = await loggedCalls(db, agentId, environment, sessionId, {
      limit: this.#maxCallsPerSession + 1,
    });
    if (calls.length > this.#maxCallsPerSession) {
      this.#drop(key);
      this.#markTooLarge(key);
      return undefined;
    }
    const spend = await db.get<{ cost: number | null; tokens: number | null }>(
      `SELECT SUM(cost_usd) AS cost, SUM(prompt_tokens + completion_tokens) AS tokens FROM usage
       WHERE session_id = ? AND agent_id = ? AND environment = ?`,
      [sessionId, agentId, environment],
    );
    const memory: SessionMemory = {
      calls,
      pending: calls.filter((call) => call.status === 'pending').length,
      outcomesRead: version,
      costUsd: Number(spend?.cost ?? 0),
      tokens: Number(spend?.tokens ?? 0),
      inFlight: 0,
      byHash: indexByHash(calls),
      counts: new Map(),
    };
    // Another check of the session may have loaded it meanwhile (and noted calls in it since):
    // that copy is the one kept.
    const loaded = this.#sessions.get(key);
    if (loaded !== undefined) return loaded;
    this.#sessions.set(key, memory);
    this.#kept += calls.length;
    this.#evict(key);
    return memory;
  }

  /** Drops a kept session (if kept). */
  #drop(key: string): void {
    const memory = this.#sessions.get(key);
    if (memory === undefined) return;
    this.#sessions.delete(key);
    this.#kept -= memory.calls.length;
  }

  /**
   * Drops the least recently used sessions, but `keep` and those with calls being decided
   * (noted here before their commit, not yet in the log), while over the bounds.
   */
  #evict(keep: string): void {
    if (this.#sessions.size <= maxSessions && this.#kept <= this.#maxCalls) return;
    for (const [key, memory] of this.#sessions) {
      if (this.#sessions.size <= maxSessions && this.#kept <= this.#maxCalls) return;
      if (key === keep || memory.inFlight > 0) continue;
      this.#drop(key);
    }
  }

  /**
   * Adds a decided call to its session (if kept) before its commit; `settle(committed)` after
   * the commit keeps it, or takes it back when the commit failed.
   */
  add(
    agentId: string,
    environment: string,
    sessionId: string,
    call: SessionCall,
  ): (committed: boolean) => void {
    const key = SessionCache.key(agentId, environment, sessionId);
    const memory = this.#sessions.get(key);
    if (memory === undefined) return this.#addLarge(key, call);
    memory.calls.push(call);
    this.#kept++;
    addToIndex(memory.byHash, call);
    if (call.status === 'pending') memory.pending++;
    memory.inFlight++;
    let settled = false;
    return (committed) => {
      if (settled) return;
      settled = true;
      memory.inFlight--;
      if (
        memory.inFlight === 0 &&
        memory.calls.length > this.#maxCallsPerSession &&
        this.#sessions.get(key) === memory
      ) {
        // Grown past what is kept, and nothing of it is only here: its counts go to the
        // database; its possible refusals stay here.
        this.#drop(key);
        this.#markTooLarge(key, memory.calls, memory.outcomesRead);
      }
      if (committed) {
        if (memory.inFlight === 0) this.#evict(key);
        return;
      }
      const index = memory.calls.lastIndexOf(call);
      if (index >= 0) {
        memory.calls.splice(index, 1);
        if (this.#sessions.get(key) === memory) this.#kept--;
      }
      // Counts were kept of the calls as they were appended.
      memory.counts?.clear();
      if (call.argsHash !== null) remove(memory.byHash.get(call.argsHash), call);
      if (call.status === 'pending') memory.pending--;
    };
  }

  /**
   * Marks a session too large to keep whole; `calls`: all of it, when known here, with the
   * held calls' outcomes as of `outcomesRead`.
   */
  #markTooLarge(key: string, calls?: readonly SessionCall[], outcomesRead?: number): void {
    this.#tooLarge.delete(key);
    if (this.#tooLarge.size >= maxSessions) {
      // The least recently marked one goes (its reads go to the log again until marked anew).
      const oldest = this.#tooLarge.keys().next().value;
      if (oldest !== undefined) this.#tooLarge.delete(oldest);
    }
    const large: LargeSession = { byHash: new Map(), size: 0, loaded: false, overflow: false };
    if (calls !== undefined) {
      for (const call of calls) addCandidate(large, call);
      large.loaded = true;
      if (outcomesRead !== undefined) large.outcomesRead = outcomesRead;
    }
    this.#tooLarge.set(key, large);
  }

  /** A call of a large session noted before its commit (kept only when it was not allowed). */
  #addLarge(key: string, call: SessionCall): (committed: boolean) => void {
    const large = this.#tooLarge.get(key);
    if (large === undefined || !addCandidate(large, call)) return () => undefined;
    return (committed) => {
      if (committed || large.overflow) return;
      const same = large.byHash.get(call.argsHash as string);
      // (A call only counted, neither refusal nor held, stays counted: `size` only bounds.)
      if (remove(same?.refusals, call) || remove(same?.held, call)) large.size--;
    };
  }

  /**
   * The first refusal of `tool` with these arguments in a session too large to keep, since
   * `since`, from the calls of it that were not allowed — `undefined` when there is none, and
   * `'ask the log'` when this process cannot tell: the session is not known to be large here,
   * has too many such calls to keep, or one of them was held for approval when last seen (its
   * outcome is in the log).
   */
  async refusalOf(
    db: Queryable,
    agentId: string,
    environment: string,
    sessionId: string,
    tool: string,
    argsHash: string,
    since: number | undefined,
  ): Promise<SessionCall | undefined | 'ask the log'> {
    const key = SessionCache.key(agentId, environment, sessionId);
    const large = this.#tooLarge.get(key);
    if (large === undefined || large.overflow) return 'ask the log';
    if (!large.loaded) await this.#loadLarge(db, large, agentId, environment, sessionId);
    if (large.overflow) return 'ask the log';
    let same = large.byHash.get(argsHash);
    if (same === undefined) return undefined;
    if (same.held.length > 0 && large.outcomesRead !== heldOutcomeVersion()) {
      // A held call may have been decided since its outcome was read: read the outcomes again.
      await this.#refreshLarge(db, large);
      if (large.overflow) return 'ask the log';
      same = large.byHash.get(argsHash);
      if (same === undefined) return undefined;
    }
    // The held calls are held still (no outcome changed in this process since they were read):
    // none is a refusal.
    let first: SessionCall | undefined;
    for (const call of same.refusals) {
      if (
        call.tool === tool &&
        isRefusal(call) &&
        (since === undefined || refusedAt(call) >= since) &&
        (first === undefined || call.id < first.id)
      ) {
        first = call;
      }
    }
    return first;
  }

  /**
   * Reads the calls of a large session that were not allowed from the log, beside those noted
   * here meanwhile (a call noted and committed is in both: kept once).
   */
  async #loadLarge(
    db: Queryable,
    large: LargeSession,
    agentId: string,
    environment: string,
    sessionId: string,
  ): Promise<void> {
    const version = heldOutcomeVersion();
    const calls = await loggedCalls(db, agentId, environment, sessionId, {
      limit: maxCandidates + 1,
      notAllowed: true,
    });
    // Another lookup may have loaded it meanwhile.
    if (large.loaded) return;
    large.loaded = true;
    // (Held calls noted here meanwhile were held when decided: their outcomes are as current.)
    large.outcomesRead = version;
    const noted = new Set<string>();
    for (const same of large.byHash.values()) {
      for (const call of same.refusals) noted.add(call.id);
      for (const call of same.held) noted.add(call.id);
    }
    for (const call of calls) {
      if (!noted.has(call.id)) addCandidate(large, call);
    }
  }

  /**
   * Re-reads the outcomes of a large session's held calls: those decided leave the held ones,
   * and join its refusals when they are.
   */
  async #refreshLarge(db: Queryable, large: LargeSession): Promise<void> {
    const version = heldOutcomeVersion();
    const held: SessionCall[] = [];
    for (const same of large.byHash.values()) held.push(...same.held);
    await readOutcomes(db, held, (call) => {
      const same = large.byHash.get(call.argsHash as string);
      if (same === undefined || !remove(same.held, call)) return;
      if (isRefusal(call)) same.refusals.push(call);
    });
    // A change during the read is read at the next lookup (the version read before it).
    large.outcomesRead = version;
  }

  /** Re-reads the outcome of the session's calls still held when last seen. */
  async #refreshPending(db: Queryable, memory: SessionMemory): Promise<void> {
    const held = memory.calls.filter((call) => call.status === 'pending');
    const refused = new Set<string>();
    await readOutcomes(db, held, (call) => {
      memory.pending--;
      // Its outcome changed: counts by decision start over.
      memory.counts?.clear();
      if (call.argsHash !== null && isRefusal(call)) refused.add(call.argsHash);
    });
    // Calls denied since join the refusals of their arguments, in log order.
    if (refused.size === 0) return;
    for (const hash of refused) memory.byHash.delete(hash);
    for (const call of memory.calls) {
      if (call.argsHash !== null && refused.has(call.argsHash)) addToIndex(memory.byHash, call);
    }
  }

  /** Records usage written by this process. */
  addSpend(
    agentId: string,
    environment: string,
    sessionId: string,
    costUsd: number,
    tokens: number,
  ): void {
    const memory = this.#sessions.get(SessionCache.key(agentId, environment, sessionId));
    if (memory === undefined) return;
    memory.costUsd += costUsd;
    memory.tokens += tokens;
  }

  /** Drops a session (its log changed in a way this process did not see). */
  forget(agentId: string, environment: string, sessionId: string): void {
    const key = SessionCache.key(agentId, environment, sessionId);
    this.#drop(key);
    this.#tooLarge.delete(key);
  }
}

/**
 * Reads the outcomes of held calls from the log: each decided since (and not seen so by another
 * read meanwhile) takes its outcome, then `decided(call)`.
 */
async function readOutcomes(
  db: Queryable,
  held: readonly SessionCall[],
  decided: (call: SessionCall) => void,
): Promise<void> {
  for (let start = 0; start < held.length; start += 200) {
    const chunk = held.slice(start, start + 200);
    const rows = await db.all<{
      id: string;
      status: string;
      on_timeout: string | null;
      created_at: number;
      decided_at: number | null;
      expires_at: number | null;
    }>(
      `SELECT id, status, on_timeout, created_at, decided_at, expires_at FROM actions
       WHERE id IN (${chunk.map(() => '?').join(', ')})`,
      chunk.map((call) => call.id),
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const call of chunk) {
      const row = byId.get(call.id);
      // Another check of the session may have refreshed it meanwhile.
      if (row === undefined || row.status === 'pending' || call.status !== 'pending') continue;
      call.status = row.status;
      call.onTimeout = row.on_timeout;
      call.refusedAt = refusedAtOf(row);
      decided(call);
    }
  }
}

// Agents call a few tools, and policies name a few patterns: whether a tool matches a pattern is
// worked out once (bounded), not for every logged call at every check.
const matchers = new Map<string, Map<string, boolean>>();

/** Whether `tool` matches the tool pattern `pattern`, remembered. */
export function toolMatches(pattern: string, tool: string): boolean {
  return toolMatcher(pattern)(tool);
}

/**
 * `toolMatches` for one pattern, for a loop over many calls: the pattern's remembered results
 * are looked up once.
 */
export function toolMatcher(pattern: string): (tool: string) => boolean {
  let results = matchers.get(pattern);
  if (results === undefined) {
    if (matchers.size >= 1_000) matchers.clear();
    results = new Map();
    matchers.set(pattern, results);
  }
  const known = results;
  return (tool) => {
    let matched = known.get(tool);
    if (matched === undefined) {
      matched = matchesToolPattern(pattern, tool);
      if (known.size >= 1_000) known.clear();
      known.set(tool, matched);
    }
    return matched;
  };
}
