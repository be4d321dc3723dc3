// The counts a kept session updates as calls are appended (`countCalls`) against a scan of its
// calls, through the cache's own changes: calls noted and committed, taken back after a failed
// commit, held calls decided in the log, clocks read out of order, windows at their edges.
import type { MemoryDecision } from '@arden/policy';
import { describe, expect, it } from 'vitest';
import { actionRepository } from '../actions/repository';
import type { Queryable } from '../store/database';
import { countCalls, SessionCache, type SessionCall } from './session-cache';

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
