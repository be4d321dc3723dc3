// The counts a kept session updates as calls are appended (`countCalls`) against a scan of its
// calls, through the cache's own changes: calls noted and committed, taken back after a failed
// commit, held calls decided in the log, clocks read out of order, windows at their edges.
import type { MemoryDecision } from '@arden/policy';
import { describe, expect, it } from 'vitest';
import { actionRepository } from '../actions/repository';
import type { Queryable } from '../store/database';
import {
  countCalls,
  isRefusal,
  refusalIn,
  SessionCache,
  type SessionCall,
  type SessionMemory,
} from './session-cache';

/**
 * A database whose log is `decided` (held calls' outcomes) and nothing else; a decision written
 * through it (`actionRepository`) changes nothing but tells the cache to read held calls again.
 */
function fakeLog(decided: Map<string, string>): Queryable {
  return {
    dialect: 'sqlite',
    async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      if (sql.includes('WHERE id IN')) {
        return params.map((id) => ({
          id,
          status: decided.get(id as string) ?? 'pending',
          on_timeout: 'deny',
        })) as T[];
      }
      return [];
    },
    async get<T>(sql: string): Promise<T | undefined> {
      return sql.includes('UPDATE actions') ? undefined : ({ cost: 0, tokens: 0 } as T);
    },
    async run() {
      return { changes: 0, lastInsertId: 0 };
    },
    async exec() {},
  };
}

describe('counts kept with a session', () => {
  it('equal a scan of its calls after every change, for every pattern, decision and window', async () => {
    let seed = 17;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const decided = new Map<string, string>();
    const db = fakeLog(decided);
    const cache = new SessionCache();
    const tools = ['stripe.refund', 'stripe.charge', 'mail.send', 'search'];
    const patterns = ['stripe.*', 'mail.send', '*', 'nothing.*'];
    const decisions: (MemoryDecision | undefined)[] = [
      undefined,
      'allowed',
      'blocked',
      'approved',
      'denied',
    ];
    let now = 1_000_000;
    const held: SessionCall[] = [];
    const inFlight: ((committed: boolean) => void)[] = [];
    // Fewer calls than a session keeps whole (500).
    for (let step = 0; step < 450; step++) {
      now += Math.floor(random() * 2_000);
      const session = await cache.get(db, 'a', 'live', 's');
      if (session?.counts === undefined) throw new Error('the session is not kept with counts');
      for (const pattern of patterns) {
        for (const decision of decisions) {
          for (const windowMs of [undefined, 1, 5_000, 60_000]) {
            const since = windowMs === undefined ? -Infinity : now - windowMs;
            expect(countCalls(session, pattern, decision, since)).toBe(
              countCalls({ ...session, counts: undefined }, pattern, decision, since),
            );
          }
        }
      }
      const roll = random();
      const decision = roll < 0.6 ? 'allow' : roll < 0.8 ? 'block' : 'requires_approval';
      const call: SessionCall = {
        id: `c-${String(step).padStart(4, '0')}`,
        tool: pick(tools),
        decision,
        reason: null,
        status: decision === 'requires_approval' ? 'pending' : 'completed',
        onTimeout: null,
        argsHash: null,
        // Now and then a check whose clock was read before the previous one's.
        createdAt: random() < 0.1 ? now - 3_000 : now,
      };
      inFlight.push(cache.add('a', 'live', 's', call));
      if (call.status === 'pending') held.push(call);
      // Commits end in any order, counted meanwhile; most succeed, a failed one takes its call
      // back.
      while (inFlight.length > 0 && random() < 0.6) {
        const settle = inFlight.splice(Math.floor(random() * inFlight.length), 1)[0];
        settle?.(random() > 0.15);
      }
      // Now and then a held call is decided in the log (read back at the next get).
      if (held.length > 0 && random() < 0.2) {
        const decidedCall = held.splice(Math.floor(random() * held.length), 1)[0] as SessionCall;
        const status = pick(['approved', 'denied'] as const);
        decided.set(decidedCall.id, status);
        await actionRepository(db).decide(
          decidedCall.id,
          { status, decidedBy: 'u', notes: null },
          now,
        );
      }
    }
  });
});

describe('the cache bounds', () => {
  const call = (id: number): SessionCall => ({
    id: `c-${id}`,
    tool: 'ping',
    decision: 'allow',
    reason: null,
    status: 'completed',
    onTimeout: null,
    argsHash: null,
    createdAt: id,
  });

  it('drops the least recently used sessions past its total, but not one with calls in flight', async () => {
    const db = fakeLog(new Map());
    const cache = new SessionCache({ callsPerSession: 10, calls: 15 });
    await cache.get(db, 'a', 'live', 'one');
    const inFlight = Array.from({ length: 8 }, (_, index) =>
      cache.add('a', 'live', 'one', call(index)),
    );
    await cache.get(db, 'a', 'live', 'two');
    for (let index = 0; index < 8; index++) cache.add('a', 'live', 'two', call(100 + index))(true);
    // Over the total (16 calls), but the first session's calls are not in the log yet: it stays.
    expect((await cache.get(db, 'a', 'live', 'one'))?.calls).toHaveLength(8);
    for (const settle of inFlight) settle(true);
    // Once they are committed, the least recently used session goes (here the second), and is
    // read from the log again when next used (the fake log is empty).
    expect((await cache.get(db, 'a', 'live', 'one'))?.calls).toHaveLength(8);
    expect((await cache.get(db, 'a', 'live', 'two'))?.calls).toHaveLength(0);
  });
});

/**
 * A log of one session's committed calls (`log`) with the outcomes decided since (`decided`):
 * answers the cache's reads of the session, its calls that were not allowed, and held outcomes.
 */
function sessionLog(log: SessionCall[], decided: Map<string, { status: string; at: number }>) {
  const row = (call: SessionCall) => {
    const outcome = decided.get(call.id);
    return {
      id: call.id,
      tool_name: call.tool,
      decision: call.decision,
      reason: call.reason,
      status: outcome?.status ?? call.status,
      on_timeout: call.onTimeout,
      args_hash: call.argsHash,
      created_at: call.createdAt,
      decided_at: outcome?.at ?? (call.status === 'pending' ? null : call.createdAt),
      expires_at: null,
    };
  };
  const db: Queryable = {
    dialect: 'sqlite',
    async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      if (sql.includes('WHERE id IN')) {
        const ids = new Set(params);
        return log.filter((call) => ids.has(call.id)).map(row) as T[];
      }
      const limit = params[params.length - 1] as number;
      const notAllowed = sql.includes("decision <> 'allow'");
      return log
        .filter((call) => !notAllowed || (call.decision !== 'allow' && call.argsHash !== null))
        .slice(0, limit)
        .map(row) as T[];
    },
    async get<T>(sql: string): Promise<T | undefined> {
      return sql.includes('UPDATE actions') ? undefined : ({ cost: 0, tokens: 0 } as T);
    },
    async run() {
      return { changes: 0, lastInsertId: 0 };
    },
    async exec() {},
  };
  /** The first refusal in the log, as `firstRefusalSql` finds it. */
  const firstRefusal = (tool: string, argsHash: string, since: number | undefined) =>
    log.find((call) => {
      const logged = row(call);
      const refusedAt =
        logged.status === 'expired' ? logged.decided_at : (logged.decided_at ?? call.createdAt);
      return (
        call.tool === tool &&
        call.argsHash === argsHash &&
        isRefusal({ ...call, status: logged.status }) &&
        (since === undefined || (refusedAt ?? call.createdAt) >= since)
      );
    });
  return { db, firstRefusal };
}

/** The cache's answer to a refused-repeat lookup, as the memory service asks it. */
async function cachedRefusal(
  cache: SessionCache,
  db: Queryable,
  tool: string,
  argsHash: string,
  since: number | undefined,
) {
  const session = await cache.get(db, 'a', 'live', 's');
  return session
    ? refusalIn(session, tool, argsHash, since)
    : cache.refusalOf(db, 'a', 'live', 's', tool, argsHash, since);
}

describe('refused-repeat lookups', () => {
  it('answer as the log does, kept whole or too large, through held calls decided later', async () => {
    let seed = 41;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const log: SessionCall[] = [];
    const decided = new Map<string, { status: string; at: number }>();
    const { db, firstRefusal } = sessionLog(log, decided);
    const cache = new SessionCache({ callsPerSession: 300 });
    const tools = ['refund', 'mail'];
    const hashes = ['h1', 'h2', 'h3'];
    let now = 1_000_000;
    let large = 0;
    let asked = 0;
    for (let step = 0; step < 900; step++) {
      now += Math.floor(random() * 1_000);
      await cache.get(db, 'a', 'live', 's');
      const roll = random();
      const decision = roll < 0.55 ? 'allow' : roll < 0.8 ? 'requires_approval' : 'block';
      const call: SessionCall = {
        id: `c-${String(step).padStart(4, '0')}`,
        tool: pick(tools),
        decision,
        reason: decision === 'block' && random() < 0.3 ? 'budget_exceeded' : 'rule_matched',
        status: decision === 'requires_approval' ? 'pending' : 'completed',
        onTimeout: pick(['deny', 'allow']),
        argsHash: pick(hashes),
        createdAt: now,
        refusedAt: now,
      };
      const settle = cache.add('a', 'live', 's', call);
      // Now and then a commit fails: the call is taken back.
      const committed = random() > 0.1;
      if (committed) log.push(call);
      settle(committed);
      // Now and then a held call is decided in the log (read back by the cache after a change).
      const held = log.filter((logged) => logged.status === 'pending' && !decided.has(logged.id));
      if (held.length > 0 && random() < 0.15) {
        const heldCall = pick(held);
        const status = pick(['approved', 'denied', 'expired'] as const);
        decided.set(heldCall.id, { status, at: now });
        await actionRepository(db).decide(
          heldCall.id,
          { status: 'denied', decidedBy: 'u', notes: null },
          now,
        );
      }
      for (const tool of tools) {
        for (const hash of hashes) {
          for (const windowMs of [undefined, 1, 20_000, 200_000]) {
            const since = windowMs === undefined ? undefined : now - windowMs;
            const answer = await cachedRefusal(cache, db, tool, hash, since);
            if (answer === 'ask the log') {
              asked++;
              continue;
            }
            expect(answer?.id, `${step} ${tool} ${hash} ${windowMs}`).toBe(
              firstRefusal(tool, hash, since)?.id,
            );
          }
        }
      }
      if ((await cache.get(db, 'a', 'live', 's')) === undefined) large++;
    }
    // Both paths were taken, and the large one answered without the log.
    expect(large).toBeGreaterThan(300);
    expect(asked).toBe(0);
  });

  it('finds a refusal after 5 000 allowed and held calls with the same arguments, reading only refusals', async () => {
    const log: SessionCall[] = [];
    const decided = new Map<string, { status: string; at: number }>();
    const { db } = sessionLog(log, decided);
    const cache = new SessionCache();
    const call = (index: number, decision: string): SessionCall => ({
      id: `c-${String(index).padStart(5, '0')}`,
      tool: 'refund',
      decision,
      reason: 'rule_matched',
      status: decision === 'requires_approval' ? 'pending' : 'completed',
      onTimeout: 'deny',
      argsHash: 'h',
      createdAt: 1_000 + index,
      refusedAt: 1_000 + index,
    });
    const note = async (added: SessionCall) => {
      await cache.get(db, 'a', 'live', 's');
      log.push(added);
      cache.add('a', 'live', 's', added)(true);
    };
    await note(call(0, 'block'));
    for (let index = 1; index <= 4_999; index++) {
      await note(call(index, index % 10 === 0 ? 'requires_approval' : 'allow'));
    }
    const kept = await cache.get(db, 'a', 'live', 's');
    expect(kept?.calls).toHaveLength(5_000);
    // Only the refusal is looked at: not the 4 999 calls after it.
    expect(kept?.byHash.get('h')).toHaveLength(1);
    expect(refusalIn(kept as SessionMemory, 'refund', 'h', undefined)?.id).toBe('c-00000');
    expect(refusalIn(kept as SessionMemory, 'refund', 'h', 1_000)?.id).toBe('c-00000');
    expect(refusalIn(kept as SessionMemory, 'refund', 'h', 1_001)).toBeUndefined();
    expect(refusalIn(kept as SessionMemory, 'mail', 'h', undefined)).toBeUndefined();
    // Past the calls a session keeps whole: the same answers, without the log.
    await note(call(5_000, 'allow'));
    await note(call(5_001, 'allow'));
    expect(await cache.get(db, 'a', 'live', 's')).toBeUndefined();
    const ask = (since: number | undefined, tool = 'refund') =>
      cache.refusalOf(db, 'a', 'live', 's', tool, 'h', since);
    expect((await ask(undefined)) as SessionCall).toMatchObject({ id: 'c-00000' });
    expect(await ask(1_001)).toBeUndefined();
    expect(await ask(undefined, 'mail')).toBeUndefined();
    // A held call denied later is a refusal from its denial.
    decided.set('c-04990', { status: 'denied', at: 9_000 });
    await actionRepository(db).decide(
      'c-04990',
      { status: 'denied', decidedBy: 'u', notes: null },
      9_000,
    );
    expect((await ask(1_001)) as SessionCall).toMatchObject({ id: 'c-04990' });
    expect((await ask(9_000)) as SessionCall).toMatchObject({ id: 'c-04990' });
    expect(await ask(9_001)).toBeUndefined();
    expect((await ask(undefined)) as SessionCall).toMatchObject({ id: 'c-00000' });
  });
});
