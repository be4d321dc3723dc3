import {
  type CompiledPolicySet,
  type MemoryQuery,
  type MemoryUnavailable,
  type MemoryValues,
  memoryKey,
  memoryNeeds,
} from '@arden/policy';
import { argumentsHash } from '../memory/canonical';
import { sessionValue } from '../memory/service';
import { indexByHash, type SessionCall, type SessionMemory } from '../memory/session-cache';
import type { ActionRecord, Page, UsageRecord } from '../store';

// The memory inputs in a simulation over the recorded log: the log is replayed in order, and
// each call is decided with the counts as they were when it was made — the calls logged before
// it (with their outcome as of that instant: an approval decided later was still pending), so a
// draft with `session.calls(…) >= 3` shows which past calls it would have held. The counts are
// of what was logged, not of what the draft would have decided. Spend (`session.cost_usd`,
// `session.tokens`, `agent.cost_usd(window)`) is replayed from the recorded usage in the same
// order: each call sees the usage recorded up to its time (at or before it). What was reserved
// for model calls in flight at that instant, and the tools' own costs (`cost`), are not kept in
// the log as they stood then: a check counted them, the replay does not, and a policy's own
// `budget` (of its tools' costs) cannot be evaluated (the flip shows an error).

const noSession: MemoryUnavailable = { unavailable: 'the call has no session id' };
const noToolCost: MemoryUnavailable = {
  unavailable: "the tools' costs are not replayed by the simulation over the log",
};

/** Whether either set reads spend (`session.cost_usd`, `session.tokens`, `agent.cost_usd`). */
export function readsSpend(...sets: (CompiledPolicySet | undefined)[]): boolean {
  return sets.some((set) =>
    set?.policies.some((policy) =>
      memoryNeeds(set, policy.tool).queries.some(
        (query) => query.kind === 'cost_usd' || query.kind === 'tokens',
      ),
    ),
  );
}

/** The next page of the agent's usage, oldest first (`list` of the usage repository, `order: 'asc'`). */
export type UsagePages = (cursor: string | undefined) => Promise<Page<UsageRecord>>;

// Usage is replayed by when the server received it, as checks counted it.
const receivedAt = (usage: UsageRecord) => usage.receivedAt ?? usage.createdAt;

/**
 * The agent's recorded usage replayed in order, alongside the log: `advance(at)` takes in the
 * usage recorded at or before `at`; then the spend of a session, or of the agent in a window, is
 * what had been recorded by then.
 */
export class SpendReplay {
  readonly #pages: UsagePages;
  #page: UsageRecord[] = [];
  #index = 0;
  #cursor: string | undefined;
  #done = false;
  readonly #sessions = new Map<string, { costUsd: number; tokens: number }>();
  /** The agent's usage times and running dollar totals, in order (for windows). */
  readonly #times: number[] = [];
  readonly #totals: number[] = [];

  constructor(pages: UsagePages) {
    this.#pages = pages;
  }

  /** Takes in every usage event recorded at or before `at`. */
  async advance(at: number): Promise<void> {
    for (;;) {
      if (this.#index >= this.#page.length) {
        if (this.#done) return;
        const next = await this.#pages(this.#cursor);
        this.#page = next.items;
        this.#index = 0;
        this.#cursor = next.nextCursor;
        this.#done = next.nextCursor === undefined;
        continue;
      }
      const usage = this.#page[this.#index] as UsageRecord;
      // By when the server received it, as a check counted it (not the client's occurred_at).
      if (receivedAt(usage) > at) return;
      this.#index++;
      this.#add(usage);
    }
  }

  #add(usage: UsageRecord): void {
    const tokens = usage.promptTokens + usage.completionTokens;
    this.#times.push(receivedAt(usage));
    this.#totals.push((this.#totals.at(-1) ?? 0) + usage.costUsd);
    if (usage.sessionId === null) return;
    const session = this.#sessions.get(usage.sessionId);
    if (session) {
      session.costUsd += usage.costUsd;
      session.tokens += tokens;
    } else this.#sessions.set(usage.sessionId, { costUsd: usage.costUsd, tokens });
  }

  /** A session's dollars and tokens recorded so far. */
  session(sessionId: string): { costUsd: number; tokens: number } {
    return this.#sessions.get(sessionId) ?? { costUsd: 0, tokens: 0 };
  }

  /** The agent's dollars recorded so far, only those at or after `since` when given. */
  agentUsd(since: number | undefined): number {
    const total = this.#totals.at(-1) ?? 0;
    if (since === undefined) return total;
    // The first usage at or after `since` (times are in the order recorded: nearly sorted).
    let low = 0;
    let high = this.#times.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#times[middle] as number) < since) low = middle + 1;
      else high = middle;
    }
    return total - (low === 0 ? 0 : (this.#totals[low - 1] as number));
  }
}

/** Whether either set reads memory for any tool (then the log is replayed from its start). */
export function readsMemory(...sets: (CompiledPolicySet | undefined)[]): boolean {
  return sets.some((set) =>
    set?.policies.some((policy) => memoryNeeds(set, policy.tool).queries.length > 0),
  );
}

/** A logged call as replayed: with when it was decided. */
interface ReplayedCall extends SessionCall {
  decidedAt: number | null;
}

/** The calls of the log so far, by session and for the agent, replayed in log order. */
export class MemoryReplay {
  readonly #sessions = new Map<string, ReplayedCall[]>();
  readonly #agent: ReplayedCall[] = [];
  readonly #spend: SpendReplay | undefined;

  /** `spend`: the usage replayed alongside, when a set reads spend. */
  constructor(spend?: SpendReplay) {
    this.#spend = spend;
  }

  /** Before `values()` of a call made at `at`: takes in the usage recorded by then. */
  async advance(at: number): Promise<void> {
    await this.#spend?.advance(at);
  }

  /** The values of the memory inputs `set` reads for `action`, as they were when it was made. */
  values(set: CompiledPolicySet | undefined, action: ActionRecord): MemoryValues | undefined {
    if (!set) return undefined;
    const queries = memoryNeeds(set, action.toolName).queries;
    if (queries.length === 0) return undefined;
    const at = action.createdAt;
    const hash = action.sessionId === null ? null : hashOf(action);
    const values = new Map<string, number | boolean | MemoryUnavailable>();
    for (const query of queries) values.set(memoryKey(query), this.#value(query, action, hash, at));
    return values;
  }

  /** Adds a logged call, after it was decided. */
  record(action: ActionRecord): void {
    const call: ReplayedCall = {
      id: action.id,
      tool: action.toolName,
      decision: action.decision,
      reason: action.reason,
      status: action.status,
      onTimeout: action.onTimeout,
      argsHash: action.sessionId === null ? null : hashOf(action),
      createdAt: action.createdAt,
      decidedAt: action.decidedAt,
    };
    this.#agent.push(call);
    if (action.sessionId === null) return;
    let calls = this.#sessions.get(action.sessionId);
    if (calls === undefined) {
      calls = [];
      this.#sessions.set(action.sessionId, calls);
    }
    calls.push(call);
  }

  #value(
    query: MemoryQuery,
    action: ActionRecord,
    hash: string | null,
    at: number,
  ): number | boolean | MemoryUnavailable {
    if (query.kind === 'tool_cost') return noToolCost;
    if (query.scope === 'session' && action.sessionId === null) return noSession;
    if (query.kind === 'cost_usd' || query.kind === 'tokens') {
      const spend = this.#spend;
      if (!spend) throw new Error('MemoryReplay reads spend without a SpendReplay');
      if (query.scope === 'agent') {
        return spend.agentUsd(query.windowMs === undefined ? undefined : at - query.windowMs);
      }
      const session = spend.session(action.sessionId as string);
      return query.kind === 'tokens' ? session.tokens : session.costUsd;
    }
    const calls =
      query.scope === 'agent'
        ? this.#agent
        : (this.#sessions.get(action.sessionId as string) ?? []);
    return sessionValue(asOf(calls, at), query, hash, at);
  }
}

function hashOf(action: ActionRecord): string {
  return action.argsHash ?? argumentsHash(action.args, action.kwargs, action);
}

/** The calls with their outcome at `at`: one decided after it was still pending then. */
function asOf(calls: readonly ReplayedCall[], at: number): SessionMemory {
  const seen = calls.map((call) => {
    const decidedAt = call.decidedAt;
    return call.status !== 'completed' && decidedAt !== null && decidedAt > at
      ? { ...call, status: 'pending' }
      : call;
  });
  return { calls: seen, pending: 0, costUsd: 0, tokens: 0, inFlight: 0, byHash: indexByHash(seen) };
}
