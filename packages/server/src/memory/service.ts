import {
  type CompiledPolicySet,
  describeMemoryQuery,
  type MemoryDecision,
  type MemoryQuery,
  type MemoryUnavailable,
  type MemoryValues,
  memoryKey,
  type PolicyDecision,
  readsAgentSpend,
} from '@arden/policy';
import type { ReservedFilter } from '../budgets/repository';
import { budgetRepository } from '../budgets/repository';
import { type BudgetService, reservedAmount, toUsd } from '../budgets/service';
import type { Environment } from '../crypto';
import type { LiveEvents } from '../events/service';
import type { Logger } from '../logger';
import type { PolicyService } from '../policies/service';
import type { NewAction, Store } from '../store';
import type { Queryable, Statement } from '../store/database';
import { sessionScopeKey } from './bump';
import { argumentsHash } from './canonical';
import { KeyedMutex } from './locks';
import { type KeptSpend, type ReplicaSession, ReplicaSessionCache } from './replica-cache';
import {
  type CallGroup,
  guardedInsert,
  isMemoryConflict,
  type MemoryGuard,
  type MemoryReads,
  type MemoryScope,
  type MemorySnapshot,
  memoryRepository,
  type RecordedSpend,
  type RefusalGuard,
  refusalConflictKey,
  refusalGuarded,
} from './repository';
import {
  countCalls,
  isRefusal,
  outcomeMatches,
  refusalIn,
  SessionCache,
  type SessionCacheLimits,
  type SessionCall,
  type SessionMemory,
  toolMatches,
} from './session-cache';
import { TurnBatcher } from './turn-batch';

/** A check's call, as the memory inputs see it. */
export interface MemoryCall {
  tool: string;
  args: unknown;
  kwargs: unknown;
  sessionId: string | null;
  /** The arguments' texts as sent: numbers the values do not hold exactly are read from them. */
  argsJson?: string;
  kwargsJson?: string;
}

/** What to spend-check: an agent in an environment, optionally one session, optionally a window. */
export interface SpendQuery {
  agentId: string;
  environment: string;
  /** One session's spend; null or absent: the agent's, across sessions. */
  sessionId?: string | null;
  /** Only the last `windowMs` ms (inclusive); absent: all recorded. */
  windowMs?: number;
  now: number;
}

/**
 * What the memory inputs read before a check is decided, held until its action is committed.
 * `release()` must be called once the action is durable (or the check failed).
 */
export interface MemoryLease {
  /** The memory inputs' values for `decide` (undefined when the policy reads none). */
  readonly values: MemoryValues | undefined;
  /** The hash of the call's canonical arguments, stored with the action (calls with a session). */
  readonly argsHash: string | null;
  /** When the call repeats a refused call: the refusal it repeats, and the decision (block). */
  readonly repeat: { of: string; decision: PolicyDecision; message: string } | undefined;
  /**
   * The action's INSERT as committed: on PostgreSQL with the guards that its memory did not
   * move since it was read, in the same statement (`guardedInsert`). A commit that fails for
   * them fails with a `MemoryConflictError`. `costNanos`: the tool cost (a policy's `cost`)
   * reserved for the call's session while it was decided; the commit moves the session's
   * version for it (the reservation itself does not: it would fail this very guard).
   */
  guard(insert: Statement, costNanos?: number): Statement;
  /** Call with the action once decided, before it is submitted for commit. */
  decided(action: NewAction): void;
  /** After the commit: keeps what `decided` noted and releases the lock. Returns `result`. */
  committed<T>(result: T): T;
  /**
   * After a failed commit: takes back what `decided` noted, releases the lock, rethrows (a
   * `MemoryConflictError` when the check's memory moved: decide it again).
   */
  failed(error: unknown): never;
}

/**
 * A check's commit found that another check of its session (or agent) committed after its
 * memory was read (another replica: those of one replica wait for each other). Nothing of it
 * was written; it is to be decided again with what is committed now.
 */
export class MemoryConflictError extends Error {
  /**
   * The check repeats a refused call its INSERT's guard found (`refusalGuarded`): decide it
   * again with the refused-repeat lookup (`prepare`'s `lookupRefusals`).
   */
  readonly refusal: boolean;

  constructor(options?: { cause?: unknown; refusal?: boolean }) {
    super(
      'The memory of this check changed before it was committed; it is decided again.',
      options,
    );
    this.name = 'MemoryConflictError';
    this.refusal = options?.refusal === true;
  }
}

const noSession: MemoryUnavailable = {
  unavailable: 'the call has no session id (send metadata.session_id)',
};
/** A lease not released by then is released anyway (a bug elsewhere must not stall a session). */
const maxHoldMs = 30_000;
/**
 * PostgreSQL: how many sessions with a refusal this replica remembers (`#refusedSessions`); a
 * session forgotten costs at most one more failed guard (a group commit run again).
 */
const refusedSessionsKept = 10_000;

function isRefused(group: CallGroup): boolean {
  return group.decision === 'block' || outcomeMatches(group, 'denied');
}

function count(groups: CallGroup[], pattern: string, decision?: MemoryDecision): number {
  let total = 0;
  for (const group of groups) {
    if (outcomeMatches(group, decision) && toolMatches(pattern, group.toolName)) {
      total += group.count;
    }
  }
  return total;
}

/**
 * The value of a session-scoped query from the session's memory kept in this process (also an
 * agent-scoped count, given the agent's calls: the simulation's replay).
 */
export function sessionValue(
  session: SessionMemory,
  query: MemoryQuery,
  argsHash: string | null,
  now: number,
): number | boolean {
  switch (query.kind) {
    case 'calls':
      return countCalls(
        session,
        query.pattern,
        query.decision,
        query.windowMs === undefined ? -Infinity : now - query.windowMs,
      );
    case 'approved':
      return session.calls.some(
        (call) => call.status === 'approved' && toolMatches(query.pattern, call.tool),
      );
    case 'denied':
      return session.calls.some(
        (call) =>
          (call.decision === 'block' || outcomeMatches(call, 'denied')) &&
          (!query.sameArgs || call.argsHash === argsHash) &&
          toolMatches(query.pattern, call.tool),
      );
    case 'cost_usd':
      return session.costUsd;
    case 'tokens':
      return session.tokens;
    case 'tool_cost':
      // Read from the budgets' reservations, never from a session kept in memory.
      throw new Error(`${describeMemoryQuery(query)} is not kept with the session`);
  }
}

/** A call decided and not yet committed, counted by agent-wide inputs (the embedded store). */
interface InFlightCall {
  id: string;
  toolName: string;
  decision: string;
  status: string;
  onTimeout: string | null;
  createdAt: number;
}

/** One refused-repeat lookup: the first refusal of this call in its session since `since`. */
interface RefusalLookup {
  scope: MemoryScope & { sessionId: string };
  toolName: string;
  argsHash: string;
  since: number | undefined;
}

/**
 * Policies with memory, on the server: fetches the values of the memory inputs a check's policy
 * reads (counts from the action log, spend from recorded usage), finds refused repeats, and
 * keeps concurrent checks that read memory exact.
 *
 * Exactness: a check whose policy reads memory holds an in-process lock on its session (on the
 * agent, when it reads `agent.*`, or — the embedded store — when its call is counted by another
 * policy's `agent.*` input) from before its counts are read until its action is committed (the
 * embedded store: until its call is noted in memory, in the session cache and, for agent-wide
 * counts, in the agent's calls being committed), so two checks in this process never both
 * count the same past. On PostgreSQL replicas are kept exact by the database at commit
 * (optimistically): the check reads the versions (`memory_versions`) of the scopes it reads
 * before its counts and commits its action with guards, in the action's own INSERT
 * (`guardedInsert`), that bump each only if it is still the one read, and bumps whatever their
 * version the scopes where another policy counts its call (`memoryWrites`; any call so counted,
 * whether or not its own policy reads memory); a check whose scope another check committed
 * meanwhile fails its commit and is decided again (`MemoryConflictError`). A check reading only
 * its session's memory decides on the session's calls and spend as this replica keeps them
 * (`ReplicaSessionCache`: read whole once with their version, then followed through this
 * replica's own commits) and guards that version: another replica's call in between fails the
 * guard, and the check is decided again on the session read afresh. Every write that changes a
 * session's spend (usage, a reservation made, settled or given back, a tool call's cost, usage
 * removed by retention) moves its version too, in the same transaction (`bump.ts`). No
 * connection is held while a check waits for the group commit.
 * Checks whose policy reads no memory take no lock and cost nothing more than the
 * refused-repeat lookup (one index seek, for calls with a session) — on PostgreSQL not even a
 * statement of its own: their action's INSERT makes the seek and fails for a repeat of a
 * refused call (`refusalGuarded`), which is then decided again with the lookup.
 */
export class MemoryService {
  readonly #store: Store;
  readonly #policies: PolicyService;
  readonly #logger: Logger | undefined;
  readonly #mutex = new KeyedMutex();
  /** The embedded store's sessions in this process (undefined on PostgreSQL: replicas share it). */
  readonly #sessions: SessionCache | undefined;
  /** PostgreSQL: the sessions' calls and spend this replica keeps, exact as of their versions. */
  readonly #replica: ReplicaSessionCache | undefined;
  /** Reserved amounts: the budgets' (which keep a session's in process on the embedded store). */
  readonly #reservedAmount: (filter: ReservedFilter) => Promise<{ usd: number; tokens: number }>;

  constructor(options: {
    store: Store;
    policies: PolicyService;
    events?: LiveEvents;
    logger?: Logger;
    budgets?: Pick<BudgetService, 'reservedAmount'>;
    /** The session caches' bounds (`ServerConfig.sessionCache`; PostgreSQL: and `ttlMs`). */
    sessionCache?: SessionCacheLimits & { ttlMs?: number };
  }) {
    this.#store = options.store;
    const budgets = options.budgets;
    this.#reservedAmount = budgets
      ? (filter) => budgets.reservedAmount(filter)
      : (filter) => reservedAmount(options.store, filter);
    this.#policies = options.policies;
    this.#logger = options.logger;
    this.#replica =
      options.store.database.dialect === 'postgres'
        ? new ReplicaSessionCache(options.sessionCache)
        : undefined;
    if (options.store.database.dialect === 'sqlite' && options.events) {
      const sessions = new SessionCache(options.sessionCache);
      this.#sessions = sessions;
      options.events.subscribe(
        (event) => {
          if (event.type !== 'usage.recorded') return;
          for (const usage of event.usage) {
            if (usage.sessionId === null) continue;
            sessions.addSpend(
              usage.agentId,
              usage.environment,
              usage.sessionId,
              usage.costUsd,
              usage.promptTokens + usage.completionTokens,
            );
          }
        },
        ['usage.recorded'],
      );
    }
  }

  /**
   * Spend recorded so far (dollars and tokens) for an agent, or one of its sessions, optionally
   * in a window: what `session.cost_usd`, `agent.cost_usd(window)` and `session.tokens` read.
   */
  async spendSoFar(
    query: SpendQuery,
    db: Queryable = this.#store.database,
  ): Promise<RecordedSpend> {
    const scope: MemoryScope = {
      agentId: query.agentId,
      environment: query.environment,
      sessionId: query.sessionId ?? null,
    };
    const since = query.windowMs === undefined ? undefined : query.now - query.windowMs;
    const recorded = await memoryRepository(db).recordedSpend(scope, since);
    // What is reserved for model calls and not yet settled is already committed to be spent:
    // a rule on spend sees it too (budgets/).
    const reserved = await this.reserved(query);
    return { costUsd: recorded.costUsd + reserved.usd, tokens: recorded.tokens + reserved.tokens };
  }

  /**
   * Dollars and tokens reserved for model calls of the scope and window, not yet settled, and
   * the costs of tool calls (held or charged).
   */
  private reserved(query: SpendQuery): Promise<{ usd: number; tokens: number }> {
    return this.#reservedAmount({
      agentId: query.agentId,
      environment: query.environment as Environment,
      ...(query.sessionId ? { sessionId: query.sessionId } : {}),
      ...(query.windowMs === undefined ? {} : { from: query.now - query.windowMs }),
      // The costs of tool calls (a policy's `cost`) are spend too.
      withToolCharges: true,
    });
  }

  /**
   * Reads what the check of `call` needs from memory and, when its policy reads memory, locks
   * its session (or agent). Then `decided(action)`, and `committed`/`failed` after the commit.
   */
  async prepare(
    agent: { id: string },
    environment: Environment,
    call: MemoryCall,
    now: number,
    options: {
      /**
       * Look up the call's refused repeats before it is decided, whatever its policy reads
       * (its INSERT's guard found one: `MemoryConflictError.refusal`).
       */
      lookupRefusals?: boolean;
    } = {},
  ): Promise<MemoryLease> {
    const found = await this.#policies.memoryNeeds(agent.id, environment, call.tool, now);
    const needs = found?.needs;
    const sessionId = call.sessionId;
    const argsHash =
      sessionId === null
        ? null
        : argumentsHash(
            call.args,
            call.kwargs,
            call.argsJson !== undefined && call.kwargsJson !== undefined
              ? { argsJson: call.argsJson, kwargsJson: call.kwargsJson }
              : undefined,
          );
    const queries = needs?.queries ?? [];
    const db = this.#store.database;
    const postgres = db.dialect === 'postgres';
    const agentKey = `agent|${agent.id}|${environment}`;
    const sessionKey =
      sessionId === null ? undefined : sessionScopeKey(agent.id, environment, sessionId);
    // The scopes this check reads, and those its call changes for any policy's memory inputs
    // (another policy may count its calls at the other scope: both must stay exact).
    const readsAgent = queries.some((query) => query.scope === 'agent');
    const readsSession =
      sessionKey !== undefined && queries.some((query) => query.scope === 'session');
    const writesAgent = found?.writes.agent === true;
    const writesSession = sessionKey !== undefined && found?.writes.session === true;
    // The in-process locks, agent before session (one order: no deadlock). PostgreSQL: the
    // scope read (the agent's when it reads both; the guards keep the rest exact). The embedded
    // store: the session when it reads it, and the agent when it reads it or its call counts
    // there (so of a check reading the agent and one reading the session whose calls each count
    // for the other, one decides after the other: they cannot both miss each other).
    // The embedded store, a set reading the agent's spend: a check reading its session waits
    // for one reading the agent (whose cost is reserved before its call is noted), and the
    // other way round, as a tool cost moves the agent's version on PostgreSQL (`guard`).
    const agentSpend =
      !postgres &&
      readsSession &&
      found !== undefined &&
      readsAgentSpend(found.set as CompiledPolicySet);
    const lockKeys: string[] = [];
    if (queries.length > 0) {
      if (readsAgent || (!postgres && writesAgent) || agentSpend) lockKeys.push(agentKey);
      if (readsSession && (!postgres || !readsAgent)) lockKeys.push(sessionKey as string);
    }
    const locks: { release: () => void }[] = [];
    try {
      for (const key of lockKeys) locks.push(await this.#lock(key));
      // PostgreSQL, a check reading only its session's memory: the session's calls and spend as
      // this replica keeps them (read whole once, with their version: `ReplicaSessionCache`),
      // its commit guarding that version; nothing else is read but, for a tool its session does
      // not count, the refused-repeat lookup (with the other checks of the turn).
      const replica =
        postgres &&
        readsSession &&
        !readsAgent &&
        found !== undefined &&
        sessionId !== null &&
        this.#replica !== undefined &&
        !this.#replica.tooLarge(sessionKey as string)
          ? this.#replica
          : undefined;
      const sessionScope =
        sessionId === null ? undefined : { agentId: agent.id, environment, sessionId };
      const kept = replica?.get(sessionKey as string, found?.set as object, now);
      const loading =
        replica !== undefined && kept === undefined
          ? replica.load(
              db,
              sessionKey as string,
              sessionScope as { agentId: string; environment: string; sessionId: string },
              found?.set as object,
              now,
            )
          : undefined;
      // Awaited below, unless the check stops before (a refused repeat, an error): not unhandled.
      loading?.catch(() => undefined);
      // PostgreSQL otherwise: the versions of the scopes read and the session's counts and
      // spend the policy reads, in one statement (one snapshot: the commit's guards expect those
      // versions), sent at once with the reservations and the refused-repeat lookup.
      let guarded: string[] = [];
      if (postgres && queries.length > 0 && replica === undefined) {
        if (readsAgent) guarded.push(agentKey);
        if (readsSession) guarded.push(sessionKey as string);
      }
      const readSnapshot = (scopeKeys: string[], reads: MemoryReads) => {
        const read = this.#snapshots.add({ scopeKeys, reads });
        // Awaited below, unless the check stops before (a refused repeat, an error).
        read.catch(() => undefined);
        return read;
      };
      let snapshot: Promise<MemorySnapshot> | undefined;
      if (guarded.length > 0) {
        snapshot = readSnapshot(
          guarded,
          snapshotReads(queries, { agentId: agent.id, environment, sessionId }, now),
        );
      }
      const refusalSince =
        needs?.repeatWindowMs === undefined ? undefined : now - needs.repeatWindowMs;
      const refuseRepeats =
        needs?.refuseRepeats !== false && sessionId !== null && argsHash !== null;
      // PostgreSQL, a check whose policy reads no memory, in a session where this replica knows
      // of no refusal: no lookup before it is decided; its INSERT makes the same seek and fails
      // should the call repeat a refusal (`refusalGuarded`: rare), and it is decided again with
      // the lookup. A session with a refusal known here looks up first, as do checks reading
      // memory (their reads go first anyway) and the embedded store (its session cache answers).
      const refusalGuard: Pick<RefusalGuard, 'since'> | undefined =
        postgres &&
        refuseRepeats &&
        queries.length === 0 &&
        options.lookupRefusals !== true &&
        !this.#refusedSessions.has(sessionKey as string)
          ? { since: refusalSince }
          : undefined;
      const lookupRefusal = refuseRepeats && refusalGuard === undefined;
      // A call whose tool its session's memory counts moves the session's version (its commit
      // guards or bumps it), so the session kept here, exact as of the version the commit
      // guards, holds every earlier call of the tool: its refusals are read there.
      const refusalKept = replica !== undefined && writesSession;
      // The replica's other read: the refused-repeat lookup of a tool the session does not
      // count, with the other checks of the turn. (The session's spend is kept with its calls:
      // every change to it moves the version the commit guards, `bump.ts`.)
      const readsRefusal = lookupRefusal && replica !== undefined && !refusalKept;
      const earlyRefusal = readsRefusal
        ? this.#refusals.add({
            scope: { agentId: agent.id, environment, sessionId: sessionId as string },
            toolName: call.tool,
            argsHash: argsHash as string,
            since: refusalSince,
          })
        : undefined;
      earlyRefusal?.catch(() => undefined);
      const session =
        this.#sessions && sessionId !== null
          ? await this.#sessions.get(db, agent.id, environment, sessionId)
          : undefined;
      // The session as this replica keeps it, or read whole now (with its version); one too
      // large to keep is read as above instead (its counts, in a statement of their own).
      let replicaRead:
        | { version: number; memory: SessionMemory; spend: KeptSpend; kept?: ReplicaSession }
        | undefined;
      if (replica !== undefined) {
        const loaded = kept === undefined ? await loading : { kept };
        if (loaded === 'too large' || loaded === undefined) {
          guarded = [sessionKey as string];
          snapshot = readSnapshot(
            guarded,
            snapshotReads(queries, { agentId: agent.id, environment, sessionId }, now),
          );
        } else if ('kept' in loaded) {
          replicaRead = {
            version: loaded.kept.version,
            memory: loaded.kept.memory,
            spend: loaded.kept.spend,
            kept: loaded.kept,
          };
        } else replicaRead = loaded.once;
      }
      let repeat: MemoryLease['repeat'];
      if (lookupRefusal && sessionId !== null && argsHash !== null) {
        const since = refusalSince;
        // The embedded store: a session kept here, or the calls that were not allowed of one
        // too large to keep; PostgreSQL: the session this replica keeps, for a tool it counts;
        // else (or when those cannot tell) the log.
        const inMemory = session ?? (refusalKept ? replicaRead?.memory : undefined);
        const known = inMemory
          ? refusalIn(inMemory, call.tool, argsHash, since)
          : this.#sessions
            ? await this.#sessions.refusalOf(
                db,
                agent.id,
                environment,
                sessionId,
                call.tool,
                argsHash,
                since,
              )
            : 'ask the log';
        const refusal =
          known !== 'ask the log'
            ? known
            : earlyRefusal !== undefined
              ? await earlyRefusal
              : db.dialect === 'postgres'
                ? await this.#refusals.add({
                    scope: { agentId: agent.id, environment, sessionId },
                    toolName: call.tool,
                    argsHash,
                    since,
                  })
                : await memoryRepository(db).firstRefusal(
                    { agentId: agent.id, environment, sessionId },
                    call.tool,
                    argsHash,
                    since,
                  );
        if (refusal !== undefined) repeat = repeatRefusal(call.tool, refusal.id);
      }
      const values =
        queries.length === 0 || repeat !== undefined
          ? undefined
          : await this.#values(
              db,
              agent.id,
              environment,
              call,
              argsHash,
              queries,
              now,
              session ?? replicaRead?.memory,
              snapshot
                ? await snapshot
                : replicaRead && {
                    versions: [],
                    groups: new Map(),
                    // Copied: a commit of this replica may add to the kept spend meanwhile.
                    spend: { costUsd: replicaRead.spend.costUsd, tokens: replicaRead.spend.tokens },
                    reserved: {
                      usdNanos: replicaRead.spend.reservedNanos,
                      tokens: replicaRead.spend.reservedTokens,
                    },
                  },
            );
      // A refused repeat reads no memory: its commit needs no guard. A check that read memory
      // guards the scopes it read. Any call counted at a scope it does not guard bumps it (a
      // check of it guarding what it read then fails and is decided again, seeing this call): a
      // session's calls kept by a replica are exact as of its version only because every call
      // they count moves it.
      const guards: MemoryGuard[] = [];
      if (postgres && repeat === undefined) {
        if (snapshot && guarded.length > 0) {
          const versions = (await snapshot).versions;
          for (const [index, key] of guarded.entries()) guards.push([key, versions[index] ?? 0]);
        }
        if (replicaRead !== undefined) guards.push([sessionKey as string, replicaRead.version]);
      }
      if (postgres) {
        const guardedKeys = new Set(guards.map(([key]) => key));
        if (writesAgent && !guardedKeys.has(agentKey)) guards.push([agentKey, null]);
        if (writesSession && !guardedKeys.has(sessionKey as string)) {
          guards.push([sessionKey as string, null]);
        }
      }
      // The embedded store: a call counted across the agent is counted from memory until it is
      // committed (agent-wide counts read the log, which has only what is committed).
      const agentCalls =
        !postgres && writesAgent ? { key: agentKey, calls: this.#agentCalls(agentKey) } : undefined;
      // The locks may go once the call is noted in memory (`decided`), unless the session is
      // read from the log (one too large to keep): then at the commit.
      const early = !postgres && (!readsSession || session !== undefined);
      // What this replica keeps of the session follows a commit that moved its version from the
      // one it was decided on; any other commit guarding or bumping a session drops it there.
      const replicaCommit =
        postgres && this.#replica !== undefined && guards.length > 0
          ? {
              cache: this.#replica,
              // A refused repeat bumps the session unguarded: what it moved is not followed.
              kept: repeat === undefined ? replicaRead?.kept : undefined,
              expected: replicaRead?.version ?? 0,
              sessionKey: replicaRead?.kept === undefined ? undefined : (sessionKey as string),
              keys: guards.map(([key]) => key),
            }
          : undefined;
      return this.#lease(
        values,
        argsHash,
        repeat,
        locks,
        early,
        guards,
        agentCalls,
        postgres
          ? {
              guard: refusalGuard,
              sessionKey: refuseRepeats ? (sessionKey as string) : undefined,
              refusals: this.#refusedSessions,
            }
          : undefined,
        replicaCommit,
        postgres && sessionKey !== undefined && this.#replica !== undefined
          ? {
              cache: this.#replica,
              sessionKey,
              // A policy of the set reads the agent's spend (fresh, guarding the agent): a tool
              // cost moves the agent's version too.
              agentKey:
                found !== undefined && readsAgentSpend(found.set as CompiledPolicySet)
                  ? agentKey
                  : undefined,
            }
          : undefined,
      );
    } catch (error) {
      for (const lock of locks) lock.release();
      throw error;
    }
  }

  /**
   * The embedded store: calls of each agent decided and not yet committed, whose tool an
   * agent-wide memory input counts (`agent.calls`): the log has them only once committed.
   */
  readonly #inFlight = new Map<string, Set<InFlightCall>>();

  /**
   * PostgreSQL: sessions (`sessionScopeKey`) with a refusal this replica committed, or whose
   * check's INSERT found one (`refusalGuarded`), most recent last: their checks look up refused
   * repeats before they are decided, so that a model retrying a refused call does not fail a
   * group commit at each retry. At most `refusedSessionsKept`.
   */
  readonly #refusedSessions = new RefusedSessions(refusedSessionsKept);

  #agentCalls(agentKey: string): Set<InFlightCall> {
    let calls = this.#inFlight.get(agentKey);
    if (calls === undefined) {
      calls = new Set();
      this.#inFlight.set(agentKey, calls);
    }
    return calls;
  }

  /**
   * The refused-repeat lookups of the checks of one event-loop turn, on PostgreSQL, as one
   * statement (`firstRefusals`): under load one round trip for many checks instead of one each.
   * A lookup reads what was committed when the statement runs, as a lookup of its own would a
   * moment earlier.
   */
  readonly #refusals = new TurnBatcher<
    RefusalLookup,
    { id: string; createdAt: number } | undefined
  >((lookups) => memoryRepository(this.#store.database).firstRefusals(lookups), 500);

  /**
   * The snapshots (`snapshots`) of the checks with memory of one event-loop turn, on
   * PostgreSQL, as one statement: under load one round trip for many checks. At most 200 a
   * statement: PostgreSQL takes at most 65,535 parameters in one.
   */
  readonly #snapshots = new TurnBatcher<
    { scopeKeys: readonly string[]; reads: MemoryReads },
    MemorySnapshot
  >((requests) => memoryRepository(this.#store.database).snapshots(requests), 200);

  #lease(
    values: MemoryValues | undefined,
    argsHash: string | null,
    repeat: MemoryLease['repeat'],
    locks: readonly { release: () => void }[],
    early: boolean,
    guards: readonly MemoryGuard[],
    agentCalls: { key: string; calls: Set<InFlightCall> } | undefined,
    /**
     * PostgreSQL: the guard against a refused repeat its INSERT carries (none: it was looked
     * up, or the call has no session or refuses no repeats), its session's key when repeats of
     * its calls are refused, and the sessions known here to hold a refusal.
     */
    refusals:
      | {
          guard: Pick<RefusalGuard, 'since'> | undefined;
          sessionKey: string | undefined;
          refusals: RefusedSessions;
        }
      | undefined,
    replicaCommit?: {
      cache: ReplicaSessionCache;
      /** The session kept here that the check was decided on, if any. */
      kept: ReplicaSession | undefined;
      expected: number;
      sessionKey: string | undefined;
      /** Every scope the commit guards or bumps. */
      keys: readonly string[];
    },
    /**
     * PostgreSQL, a call with a session: where a tool cost moves the session's version, and the
     * agent's when a policy of the set reads the agent's spend (`readsAgentSpend`).
     */
    costScope?: { cache: ReplicaSessionCache; sessionKey: string; agentKey: string | undefined },
  ): MemoryLease {
    const sessions = this.#sessions;
    const inFlight = this.#inFlight;
    let settle: ((committed: boolean) => void) | undefined;
    let noted: InFlightCall | undefined;
    // The action as decided (`decided`): its id names its refusal guard.
    let decidedAction: NewAction | undefined;
    let refusalGuard: RefusalGuard | undefined;
    let committedCall: SessionCall | undefined;
    // A tool cost reserved for the session: bumped by the commit unless it guards or bumps it.
    let cost = 0;
    let costBump = false;
    const replicaSettle = (committed: boolean) => {
      if (costBump && costScope !== undefined) costScope.cache.drop(costScope.sessionKey);
      if (replicaCommit === undefined) return;
      const { cache, kept, expected, sessionKey, keys } = replicaCommit;
      for (const key of keys) {
        if (committed && key === sessionKey && kept !== undefined && committedCall !== undefined) {
          cache.committed(kept, committedCall, expected, cost);
        } else cache.drop(key);
      }
    };
    const release = () => {
      for (const lock of locks) lock.release();
    };
    const done = () => {
      if (noted === undefined || agentCalls === undefined) return;
      agentCalls.calls.delete(noted);
      noted = undefined;
      if (agentCalls.calls.size === 0 && inFlight.get(agentCalls.key) === agentCalls.calls) {
        inFlight.delete(agentCalls.key);
      }
    };
    return {
      values,
      argsHash,
      repeat,
      guard: (unguarded, costNanos = 0) => {
        let insert = unguarded;
        if (refusals !== undefined) {
          // Every check's INSERT of the kind, guarded or not: they merge into one statement.
          if (refusals.guard !== undefined) {
            if (decidedAction === undefined) {
              throw new Error('A refusal guard needs the decided action (`decided` first).');
            }
            refusalGuard = { actionId: decidedAction.id, since: refusals.guard.since };
          }
          insert = refusalGuarded(insert, refusalGuard);
        }
        if (costScope === undefined || !(costNanos > 0)) return guardedInsert(insert, guards);
        cost = costNanos;
        const bumps: MemoryGuard[] = [];
        if (!guards.some(([key]) => key === costScope.sessionKey)) {
          costBump = true;
          bumps.push([costScope.sessionKey, null]);
        }
        // The agent's spend grew too: a check that read it (fresh, guarding the agent) before
        // this commit fails its guard, rather than decide on a spend without this cost while
        // this check, having read the session's without its own, commits too.
        const { agentKey } = costScope;
        if (agentKey !== undefined && !guards.some(([key]) => key === agentKey)) {
          bumps.push([agentKey, null]);
        }
        return guardedInsert(insert, bumps.length > 0 ? [...guards, ...bumps] : guards);
      },
      decided(action) {
        decidedAction = action;
        const call: SessionCall = {
          id: action.id,
          tool: action.toolName,
          decision: action.decision,
          reason: action.reason,
          status: action.status,
          onTimeout: action.onTimeout,
          argsHash,
          createdAt: action.createdAt,
          refusedAt: action.decidedAt ?? action.createdAt,
        };
        // Each cache its own copy (a cache may update a held call's outcome in place).
        if (replicaCommit?.kept !== undefined) committedCall = { ...call };
        if (agentCalls !== undefined) {
          noted = {
            id: action.id,
            toolName: action.toolName,
            decision: action.decision,
            status: action.status,
            onTimeout: action.onTimeout,
            createdAt: action.createdAt,
          };
          agentCalls.calls.add(noted);
        }
        if (sessions !== undefined && action.sessionId !== null) {
          // A session kept here takes the call whole; one too large to keep, when it was not
          // allowed (for refused repeats).
          settle = sessions.add(action.agentId, action.environment, action.sessionId, call);
        }
        // The embedded store: the call is in this process's memory of the session (and of the
        // agent's calls being committed) already, so the next check may be decided while this
        // one commits. (A large session's counts are read from the log: its lock is held until
        // the commit.)
        if (early) release();
      },
      committed(result) {
        // A refusal committed here: this replica's checks of its session look up first.
        if (
          refusals?.sessionKey !== undefined &&
          decidedAction !== undefined &&
          isRefusal(decidedAction)
        ) {
          refusals.refusals.add(refusals.sessionKey);
        }
        replicaSettle(true);
        settle?.(true);
        done();
        release();
        return result;
      },
      failed(error): never {
        replicaSettle(false);
        settle?.(false);
        done();
        release();
        // The INSERT's refusal guard found a refusal of this call (the message names the
        // action): decided again, with the lookup.
        const repeated =
          refusalGuard !== undefined &&
          isMemoryConflict(error) &&
          (error as Error).message.includes(refusalConflictKey(refusalGuard.actionId));
        if (repeated && refusals?.sessionKey !== undefined) {
          refusals.refusals.add(refusals.sessionKey);
        }
        if ((guards.length > 0 || refusalGuard !== undefined) && isMemoryConflict(error)) {
          throw new MemoryConflictError({ cause: error, refusal: repeated });
        }
        throw error;
      },
    };
  }

  async #values(
    db: Queryable,
    agentId: string,
    environment: string,
    call: MemoryCall,
    argsHash: string | null,
    queries: readonly MemoryQuery[],
    now: number,
    session: SessionMemory | undefined,
    /** PostgreSQL: what was read with the scope's version (`snapshots`). */
    snapshot?: MemorySnapshot,
  ): Promise<MemoryValues> {
    const repository = memoryRepository(db);
    const values = new Map<string, number | boolean | MemoryUnavailable>();
    const groups = new Map<string, Promise<CallGroup[]>>();
    const groupsOf = (scope: 'session' | 'agent', windowMs: number | undefined) => {
      const key = `${scope}|${windowMs ?? ''}`;
      let found = groups.get(key);
      const read =
        scope === 'session'
          ? snapshot?.groups.get(windowMs === undefined ? '' : String(now - windowMs))
          : undefined;
      if (found === undefined && read !== undefined) {
        found = Promise.resolve(read);
        groups.set(key, found);
      }
      if (found === undefined) {
        const since = windowMs === undefined ? undefined : now - windowMs;
        // The embedded store: the agent's calls being committed are counted from memory (and
        // not again from the log, should one be committed meanwhile).
        const pending =
          scope === 'agent'
            ? [...(this.#inFlight.get(`agent|${agentId}|${environment}`) ?? [])]
            : [];
        found = repository
          .callGroups(
            { agentId, environment, sessionId: scope === 'session' ? call.sessionId : null },
            since,
            pending.map((pendingCall) => pendingCall.id),
          )
          .then((logged) => {
            for (const pendingCall of pending) {
              if (since === undefined || pendingCall.createdAt >= since) {
                logged.push({ ...pendingCall, count: 1 });
              }
            }
            return logged;
          });
        groups.set(key, found);
      }
      return found;
    };
    let sessionSpend: Promise<RecordedSpend> | undefined;
    for (const query of queries) {
      const key = memoryKey(query);
      if (query.scope === 'session' && call.sessionId === null) {
        values.set(key, noSession);
        continue;
      }
      if (query.kind === 'tool_cost') {
        // A policy's budget: the costs of its tools so far (budgets/tool-cost.ts counts them).
        const costs = await budgetRepository(db).toolCosts({
          agentId,
          environment,
          ...(query.scope === 'session' ? { sessionId: call.sessionId as string } : {}),
          ...(query.windowMs === undefined ? {} : { from: now - query.windowMs }),
        });
        let nanos = 0;
        for (const cost of costs) if (toolMatches(query.pattern, cost.tool)) nanos += cost.usdNanos;
        values.set(key, toUsd(nanos));
        continue;
      }
      if (query.scope === 'session' && session !== undefined) {
        let value = sessionValue(session, query, argsHash, now);
        if (
          (query.kind === 'cost_usd' || query.kind === 'tokens') &&
          snapshot?.spend !== undefined &&
          snapshot.reserved !== undefined
        ) {
          // PostgreSQL: recorded and reserved spend as of the version the check guards (read
          // with the session's calls, or with the other reads of a session too large to keep).
          value =
            query.kind === 'tokens'
              ? snapshot.spend.tokens + snapshot.reserved.tokens
              : snapshot.spend.costUsd + toUsd(snapshot.reserved.usdNanos);
        } else if (
          (query.kind === 'cost_usd' || query.kind === 'tokens') &&
          call.sessionId !== null
        ) {
          // Reservations of model calls are not in the session's in-process spend.
          const reserved = await this.reserved({
            agentId,
            environment,
            sessionId: call.sessionId,
            now,
          });
          value = (value as number) + (query.kind === 'tokens' ? reserved.tokens : reserved.usd);
        }
        values.set(key, value);
        continue;
      }
      switch (query.kind) {
        case 'calls':
          values.set(
            key,
            count(await groupsOf(query.scope, query.windowMs), query.pattern, query.decision),
          );
          break;
        case 'approved':
          values.set(
            key,
            count(await groupsOf('session', undefined), query.pattern, 'approved') > 0,
          );
          break;
        case 'denied': {
          if (query.sameArgs) {
            const tools = await repository.refusedToolsWithArguments(
              { agentId, environment, sessionId: call.sessionId },
              argsHash as string,
            );
            values.set(
              key,
              tools.some((tool) => toolMatches(query.pattern, tool)),
            );
          } else {
            const groups = await groupsOf('session', undefined);
            values.set(
              key,
              groups.some(
                (group) => isRefused(group) && toolMatches(query.pattern, group.toolName),
              ),
            );
          }
          break;
        }
        case 'cost_usd':
        case 'tokens': {
          if (query.scope === 'session') {
            const recorded = snapshot?.spend;
            const reserved = snapshot?.reserved;
            // What is reserved is spend too (`spendSoFar`); PostgreSQL read both with the version.
            sessionSpend ??=
              recorded && reserved
                ? Promise.resolve({
                    costUsd: recorded.costUsd + toUsd(reserved.usdNanos),
                    tokens: recorded.tokens + reserved.tokens,
                  })
                : this.spendSoFar({ agentId, environment, sessionId: call.sessionId, now }, db);
            const spend = await sessionSpend;
            values.set(key, query.kind === 'tokens' ? spend.tokens : spend.costUsd);
          } else {
            const spend = await this.spendSoFar(
              { agentId, environment, windowMs: query.windowMs, now },
              db,
            );
            values.set(key, spend.costUsd);
          }
          break;
        }
      }
    }
    if (this.#logger && values.size !== queries.length) {
      this.#logger.warn('A memory input was not fetched', {
        missing: queries.filter((query) => !values.has(memoryKey(query))).map(describeMemoryQuery),
      });
    }
    return values;
  }

  /** The in-process lock of `key` (replicas are kept exact at commit: `guardedInsert`). */
  async #lock(key: string): Promise<{ release: () => void }> {
    return this.#timed(key, await this.#mutex.acquire(key));
  }

  #timed(key: string, release: () => void): { release: () => void } {
    let released = false;
    const timer = setTimeout(() => {
      this.#logger?.warn('A memory lock was held too long; released', { key: key.split('|')[0] });
      done();
    }, maxHoldMs);
    timer.unref?.();
    const done = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      release();
    };
    return { release: done };
  }
}

/**
 * What of `queries` the PostgreSQL snapshot reads with the version: the session's call groups
 * (in each window) and its recorded spend. The rest (an agent's calls or spend, tool costs)
 * `#values` reads after it: later than the version, so a commit in between fails the guard.
 */
function snapshotReads(
  queries: readonly MemoryQuery[],
  scope: { agentId: string; environment: string; sessionId: string | null },
  now: number,
): MemoryReads {
  const sessionId = scope.sessionId;
  const reads: MemoryReads = {
    session: sessionId === null ? undefined : { ...scope, sessionId },
    since: [],
    spend: false,
  };
  if (sessionId === null) return reads;
  const window = (windowMs: number | undefined) => {
    const since = windowMs === undefined ? undefined : now - windowMs;
    if (!reads.since.includes(since)) reads.since.push(since);
  };
  for (const query of queries) {
    if (query.scope !== 'session') continue;
    if (query.kind === 'calls') window(query.windowMs);
    else if (query.kind === 'approved' || (query.kind === 'denied' && !query.sameArgs)) {
      window(undefined);
    } else if (query.kind === 'cost_usd' || query.kind === 'tokens') reads.spend = true;
  }
  return reads;
}

/** The reason of a check refused as a repeat of a refused call. */
export const repeatRefusedReason = 'repeat_refused';

function repeatRefusal(tool: string, originalId: string): NonNullable<MemoryLease['repeat']> {
  const message = `Tool '${tool}' was already refused in this session with these same arguments (action ${originalId}), so this repeat is refused at once. Do not retry this call: it will be refused again; change the approach or tell the user it was refused.`;
  return {
    of: originalId,
    message,
    decision: {
      effect: 'block',
      reason: repeatRefusedReason as PolicyDecision['reason'],
      errors: [],
      explanation: `A repeat of refused action ${originalId} (same tool, same arguments by canonical JSON, same session): refused at once without deciding again (refuse_repeats).`,
    },
  };
}

/** Keys remembered in the order last added, at most `max`: the oldest goes first. */
class RefusedSessions {
  readonly #keys = new Set<string>();

  constructor(private readonly max: number) {}

  has(key: string | undefined): boolean {
    return key !== undefined && this.#keys.has(key);
  }

  add(key: string): void {
    this.#keys.delete(key);
    this.#keys.add(key);
    if (this.#keys.size > this.max) {
      const oldest = this.#keys.values().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
  }
}
