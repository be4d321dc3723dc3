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
import type { ActionRecord } from '../store';

// The memory inputs in a simulation over the recorded log: the log is replayed in order, and
// each call is decided with the counts as they were when it was made — the calls logged before
// it (with their outcome as of that instant: an approval decided later was still pending), so a
// draft with `session.calls(…) >= 3` shows which past calls it would have held. The counts are
// of what was logged, not of what the draft would have decided. Spend (`session.cost_usd`,
// `session.tokens`, `agent.cost_usd`) is not replayed: a condition reading it cannot be
// evaluated in a simulation, which the flip shows as an evaluation error.

const noSession: MemoryUnavailable = { unavailable: 'the call has no session id' };
const noSpend: MemoryUnavailable = {
  unavailable: 'spend is not replayed by the simulation over the log',
};

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
    if (query.kind === 'cost_usd' || query.kind === 'tokens' || query.kind === 'tool_cost') {
      return noSpend;
    }
    if (query.scope === 'session' && action.sessionId === null) return noSession;
    const calls =
      query.scope === 'agent'
        ? this.#agent
        : (this.#sessions.get(action.sessionId as string) ?? []);
    return sessionValue(asOf(calls, at), query, hash, at);
  }
}

function hashOf(action: ActionRecord): string {
  return action.argsHash ?? argumentsHash(action.args, action.kwargs);
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
