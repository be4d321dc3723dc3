// Counts are exact across replicas (issue #17): two servers on one PostgreSQL check the 3rd and
// 4th refund of a session at the same instant, many times over; the limit holds every time.
import pg from 'pg';
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { ServerConfig } from '../config';
import type { SqlValue } from '../store/database';
import { pauseFirstCall } from '../test-fixtures/pause';
import { action } from '../test-fixtures/store';
import { sessionScopeKey } from './bump';
import {
  guardedInsert,
  isMemoryConflict,
  type MemoryGuard,
  memoryRepository,
  refusalConflictKey,
  refusalGuarded,
} from './repository';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

/** Another replica on `a`'s PostgreSQL database (no workers, no port), closed after the test. */
async function replicaOf(a: AdminTestServer, config: ServerConfig = {}): Promise<AdminTestServer> {
  const replica = await startAdminTestServer(
    { workers: false, ...config, databaseUrl: a.databaseUrl },
    { listen: false },
  );
  servers.push(replica);
  return replica;
}

/** Two replicas on one PostgreSQL database, closed after the test. */
async function twoReplicas(config: ServerConfig = {}) {
  const a = await startAdminTestServer({ workers: false, ...config }, { listen: false });
  servers.push(a);
  expect(a.databaseUrl).toBeDefined();
  return { a, b: await replicaOf(a, config) };
}

describe('memory inputs on replicas (PostgreSQL)', () => {
  test('"at most 3 refunds per session": concurrent checks on two replicas never both pass', async () => {
    const { a, b } = await twoReplicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'stripe.issue_refund',
        rules: [{ if: 'session.calls("stripe.issue_refund", "allowed") >= 3', then: 'block' }],
        default: 'allow',
      },
    ]);
    const check = (t: AdminTestServer, session: string, amount: number) =>
      t.request('POST', '/policy/check', {
        key: a.liveKey,
        body: {
          tool_name: 'stripe.issue_refund',
          kwargs: { amount },
          metadata: { session_id: session },
        },
      });
    for (let round = 0; round < 10; round++) {
      const session = `race-${round}`;
      // Two refunds first, alternating replicas.
      expect((await check(a, session, 1)).json.decision).toBe('allow');
      expect((await check(b, session, 2)).json.decision).toBe('allow');
      // The 3rd and 4th at once, one on each replica, and a 5th and 6th too.
      const answers = await Promise.all([
        check(a, session, 3),
        check(b, session, 4),
        check(a, session, 5),
        check(b, session, 6),
      ]);
      const decisions = answers.map((answer) => answer.json.decision);
      expect(decisions.filter((decision) => decision === 'allow')).toHaveLength(1);
      expect(decisions.filter((decision) => decision === 'block')).toHaveLength(3);
    }
    // What the log says agrees: exactly 3 allowed per session.
    const allowed = await a.server.store.database.all<{ session_id: string; count: string }>(
      `SELECT session_id, COUNT(*) AS count FROM actions WHERE decision = 'allow' GROUP BY session_id`,
    );
    expect(allowed).toHaveLength(10);
    for (const row of allowed) expect(Number(row.count)).toBe(3);
  });
});

describe('policies reading memory at different scopes on replicas (PostgreSQL)', () => {
  test('an agent-wide and a session limit over the same calls hold together', async () => {
    let now = Date.UTC(2026, 11, 6, 12);
    const clock = () => now;
    const { a, b } = await twoReplicas({ clock });
    await a.server.policies.saveSet(a.agent.id, 'live', [
      {
        name: 'Refund',
        tool: 'stripe.refund',
        rules: [{ if: 'agent.calls("stripe.*", duration("1h")) >= 3', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
      {
        name: 'Charge',
        tool: 'stripe.charge',
        rules: [{ if: 'session.calls("stripe.*") >= 3', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    const check = (t: AdminTestServer, tool: string, session: string, n: number) =>
      t
        .request('POST', '/policy/check', {
          key: a.liveKey,
          body: { tool_name: tool, kwargs: { n }, metadata: { session_id: session } },
        })
        .then((response) => response.json.decision);
    for (let round = 0; round < 6; round++) {
      // A new hour (the agent's window starts over) and a new session each round.
      now += 3_600_001;
      const session = `mixed-${round}`;
      expect(await check(a, 'stripe.charge', session, 1)).toBe('allow');
      expect(await check(b, 'stripe.charge', session, 2)).toBe('allow');
      const decisions = await Promise.all([
        check(a, 'stripe.refund', session, 3),
        check(b, 'stripe.charge', session, 4),
        check(b, 'stripe.refund', session, 5),
        check(a, 'stripe.charge', session, 6),
      ]);
      expect(decisions.filter((decision) => decision === 'allow')).toHaveLength(1);
    }
  });
});

describe('memory version guard (PostgreSQL)', () => {
  /** A guarded action INSERT, as a check with memory commits it (one statement). */
  const guarded = (t: AdminTestServer, guards: MemoryGuard[]) =>
    guardedInsert(t.server.store.actions.insertStatement(action(t.agent.id)), guards);
  const logged = async (t: AdminTestServer) =>
    Number(
      (await t.server.store.database.get<{ n: number }>('SELECT COUNT(*) AS n FROM actions'))?.n,
    );

  test("a bump moves a scope's version: a check that read it before fails, in one commit too", async () => {
    const a = await startAdminTestServer({ workers: false }, { listen: false });
    servers.push(a);
    const committer = a.server.store.committer;
    const repository = memoryRepository(a.server.store.database);
    const key = 'agent|bump-test|live';
    const before = await logged(a);
    // A bump creates the row: a check that read "no row" (0) no longer commits.
    await committer.submit(guarded(a, [[key, null]]));
    expect(isMemoryConflict(await committer.submit(guarded(a, [[key, 0]])).catch((e) => e))).toBe(
      true,
    );
    expect(await logged(a)).toBe(before + 1);
    const read = await repository.version(key);
    // A guard and a bump of its scope in one commit: the guard sees the bump and fails, and
    // with it the request holding the guard, not the other one.
    const together = await Promise.all([
      committer.submit(guarded(a, [[key, read]])).catch((error) => error),
      committer.submit(guarded(a, [[key, null]])),
    ]);
    expect(isMemoryConflict(together[0])).toBe(true);
    expect(together[1]).toMatchObject({ changes: 1 });
    expect(await repository.version(key)).toBe(read + 1);
    expect(await logged(a)).toBe(before + 2);
    await committer.submit(guarded(a, [[key, read + 1]]));
    await committer.submit(guarded(a, [[key, null]]));
    expect(await repository.version(key)).toBe(read + 3);
    expect(await logged(a)).toBe(before + 4);
  });

  test('of two commits that read the same version only the first goes through', async () => {
    const a = await startAdminTestServer({ workers: false }, { listen: false });
    servers.push(a);
    const committer = a.server.store.committer;
    const key = 'session|guard-test|live|s-1';
    const read = await memoryRepository(a.server.store.database).version(key);
    expect(read).toBe(0);
    await committer.submit(guarded(a, [[key, read]]));
    // A second check that read the same version (another replica) is refused at commit.
    const late = await committer.submit(guarded(a, [[key, read]])).catch((error) => error);
    expect(isMemoryConflict(late)).toBe(true);
    expect(await memoryRepository(a.server.store.database).version(key)).toBe(1);
    // One that read the committed version goes through.
    await committer.submit(guarded(a, [[key, 1]]));
    expect(await memoryRepository(a.server.store.database).version(key)).toBe(2);
  });

  test('a failed guard fails only its own check: the others of its group commit are written', async () => {
    const a = await startAdminTestServer({ workers: false }, { listen: false });
    servers.push(a);
    const committer = a.server.store.committer;
    const repository = memoryRepository(a.server.store.database);
    await committer.submit(guarded(a, [['session|group|live|moved', 0]]));
    const before = await logged(a);
    // One turn: one group commit, one merged statement, whose second guard read a stale version.
    const outcomes = await Promise.all([
      committer.submit(guarded(a, [['session|group|live|s-1', 0]])).catch((error) => error),
      committer.submit(guarded(a, [['session|group|live|moved', 0]])).catch((error) => error),
      committer.submit(
        guarded(a, [
          ['session|group|live|s-2', 0],
          ['agent|group|live', null],
        ]),
      ),
      committer.submit(a.server.store.actions.insertStatement(action(a.agent.id))),
    ]);
    expect(outcomes.map((outcome) => isMemoryConflict(outcome))).toEqual([
      false,
      true,
      false,
      false,
    ]);
    expect(await logged(a)).toBe(before + 3);
    expect(await repository.version('session|group|live|s-1')).toBe(1);
    expect(await repository.version('session|group|live|moved')).toBe(1);
    expect(await repository.version('session|group|live|s-2')).toBe(1);
    // Two guards of one scope in one statement: one of them (each alone) goes through.
    const both = await Promise.all([
      committer.submit(guarded(a, [['session|group|live|s-1', 1]])).catch((error) => error),
      committer.submit(guarded(a, [['session|group|live|s-1', 1]])).catch((error) => error),
    ]);
    expect(both.filter((outcome) => isMemoryConflict(outcome))).toHaveLength(1);
    expect(await repository.version('session|group|live|s-1')).toBe(2);
  });

  test('a limit holds exactly under many concurrent checks on two replicas, none failing', async () => {
    const { a, b } = await twoReplicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'stripe.issue_refund',
        rules: [{ if: 'session.calls("stripe.*", "allowed") >= 5', then: 'block' }],
        default: 'allow',
      },
    ]);
    const check = (t: AdminTestServer, session: string, amount: number) =>
      t.request('POST', '/policy/check', {
        key: a.liveKey,
        body: {
          tool_name: 'stripe.issue_refund',
          kwargs: { amount },
          metadata: { session_id: session },
        },
      });
    for (let round = 0; round < 3; round++) {
      const session = `many-${round}`;
      const answers = await Promise.all(
        Array.from({ length: 24 }, (_, index) => check(index % 2 === 0 ? a : b, session, index)),
      );
      // Every check answered (a moved memory is decided again, not failed)…
      expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
      const decisions = answers.map((answer) => answer.json.decision);
      // …and exactly the limit allowed.
      expect(decisions.filter((decision) => decision === 'allow')).toHaveLength(5);
      expect(decisions.filter((decision) => decision === 'block')).toHaveLength(19);
    }
  });

  test('a restarted replica counts every call the other committed (nothing kept only in memory)', async () => {
    const a = await startAdminTestServer({ workers: false }, { listen: false });
    servers.push(a);
    await a.server.policies.saveSet(a.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'stripe.issue_refund',
        rules: [{ if: 'session.calls("stripe.issue_refund", "allowed") >= 2', then: 'block' }],
        default: 'allow',
      },
    ]);
    const check = (t: AdminTestServer, amount: number) =>
      t.request('POST', '/policy/check', {
        key: a.liveKey,
        body: {
          tool_name: 'stripe.issue_refund',
          kwargs: { amount },
          metadata: { session_id: 'restart' },
        },
      });
    expect((await check(a, 1)).json.decision).toBe('allow');
    expect((await check(a, 2)).json.decision).toBe('allow');
    const b = await replicaOf(a);
    // The first replica goes away; the new one knows both calls from the database.
    await servers.shift()?.close();
    expect((await check(b, 3)).json.decision).toBe('block');
  });
});

describe("sessions' calls kept by a replica (PostgreSQL)", () => {
  const replicas = () => twoReplicas();
  const checker = (key: string) => (t: AdminTestServer, tool: string, session: string, n: number) =>
    t
      .request('POST', '/policy/check', {
        key,
        body: { tool_name: tool, kwargs: { n }, metadata: { session_id: session } },
      })
      .then((response) => response.json.decision as string);

  test("another replica's call after the session was kept fails the guard: the check is decided again on it", async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'stripe.refund',
        rules: [{ if: 'session.calls("stripe.refund", "allowed") >= 2', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    const check = checker(a.liveKey);
    for (let round = 0; round < 5; round++) {
      const session = `kept-${round}`;
      // Replica a reads the session whole and keeps it (one call, its version).
      expect(await check(a, 'stripe.refund', session, 1)).toBe('allow');
      // Replica b's call moves the version a kept.
      expect(await check(b, 'stripe.refund', session, 2)).toBe('allow');
      // a's kept copy says one call: its guard fails, and decided again it sees two.
      expect(await check(a, 'stripe.refund', session, 3)).toBe('block');
      expect(await check(a, 'stripe.refund', session, 4)).toBe('block');
      expect(await check(b, 'stripe.refund', session, 5)).toBe('block');
    }
    const allowed = await a.server.store.database.all<{ count: string }>(
      `SELECT COUNT(*) AS count FROM actions WHERE decision = 'allow' GROUP BY session_id`,
    );
    expect(allowed.map((row) => Number(row.count))).toEqual([2, 2, 2, 2, 2]);
  });

  test('a call of a tool whose own policy reads no memory still moves the session a replica keeps', async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'stripe.refund',
        rules: [{ if: 'session.calls("stripe.*") >= 2', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
      { name: 'Charges', tool: 'stripe.charge', rules: [], default: 'allow' },
    ]);
    const check = checker(a.liveKey);
    for (const [round, other] of [a, b].entries()) {
      const session = `memoryless-${round}`;
      expect(await check(a, 'stripe.refund', session, 1)).toBe('allow');
      // A charge is counted by the refunds' rule: on either replica its commit bumps the
      // session, so a's kept copy (one call) is not trusted past it.
      expect(await check(other, 'stripe.charge', session, 2)).toBe('allow');
      expect(await check(a, 'stripe.refund', session, 3)).toBe('block');
    }
  });

  test('a refusal on another replica is found by a replica deciding on the session it kept', async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'stripe.refund',
        rules: [
          { if: 'args.n > 100', then: 'block' },
          { if: 'session.calls("stripe.refund") >= 10', then: 'block' },
        ],
        default: 'allow',
      },
    ]);
    const check = (t: AdminTestServer, n: number) =>
      t
        .request('POST', '/policy/check', {
          key: a.liveKey,
          body: { tool_name: 'stripe.refund', kwargs: { n }, metadata: { session_id: 'refused' } },
        })
        .then((response) => response.json);
    expect((await check(a, 1)).decision).toBe('allow');
    const refused = await check(b, 500);
    expect(refused).toMatchObject({ decision: 'block' });
    expect(refused.repeat_of).toBeUndefined();
    // a kept the session before the refusal: the repeat is still refused as one, linked to it.
    const repeat = await check(a, 500);
    expect(repeat).toMatchObject({ decision: 'block', repeat_of: refused.action_id });
    // And a repeat of a refusal a made itself, from its kept copy.
    const own = await check(a, 700);
    expect(await check(a, 700)).toMatchObject({ decision: 'block', repeat_of: own.action_id });
  });

  test('a new policy set drops the sessions kept under the old one', async () => {
    const { a, b } = await replicas();
    const refunds = (pattern: string, limit: number) => ({
      name: 'Refunds',
      tool: 'stripe.refund',
      rules: [{ if: `session.calls("${pattern}") >= ${limit}`, then: 'block' as const }],
      default: 'allow' as const,
      refuse_repeats: false,
    });
    const charges = {
      name: 'Charges',
      tool: 'stripe.charge',
      rules: [],
      default: 'allow' as const,
    };
    await a.server.policies.saveSet(a.agent.id, 'live', [refunds('stripe.refund', 3), charges]);
    const check = checker(a.liveKey);
    expect(await check(a, 'stripe.refund', 'new-set', 1)).toBe('allow');
    // Charges are counted by no policy yet: they do not move the session's version.
    expect(await check(b, 'stripe.charge', 'new-set', 2)).toBe('allow');
    expect(await check(b, 'stripe.charge', 'new-set', 3)).toBe('allow');
    // Now they are: a must not count from the copy it kept (one refund, same version).
    await a.server.policies.saveSet(a.agent.id, 'live', [refunds('stripe.*', 3), charges]);
    expect(await check(a, 'stripe.refund', 'new-set', 4)).toBe('block');
  });
});

describe("sessions' spend kept by a replica (PostgreSQL)", () => {
  let now = Date.UTC(2026, 11, 7, 10);
  const clock = () => now;
  const replicas = () => twoReplicas({ clock });
  const spendLimit = (extra: Record<string, unknown> = {}) => ({
    name: 'Refunds',
    tool: 'stripe.refund',
    rules: [{ if: 'session.cost_usd >= 2.0', then: 'block' as const }],
    default: 'allow' as const,
    refuse_repeats: false,
    ...extra,
  });
  const checker =
    (key: string) =>
    (t: AdminTestServer, session: string, amount: number, tool = 'stripe.refund') =>
      t
        .request('POST', '/policy/check', {
          key,
          body: { tool_name: tool, kwargs: { amount }, metadata: { session_id: session } },
        })
        .then((response) => {
          expect(response.status, response.text).toBe(200);
          return response.json.decision as string;
        });
  const version = (t: AdminTestServer, session: string) =>
    memoryRepository(t.server.store.database).version(sessionScopeKey(t.agent.id, 'live', session));

  test('usage recorded through another replica moves the session a replica keeps: its next check sees it', async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [spendLimit()]);
    const check = checker(a.liveKey);
    for (let round = 0; round < 3; round++) {
      const session = `usage-${round}`;
      // a reads the session whole (no spend yet) and keeps it.
      expect(await check(a, session, 1)).toBe('allow');
      expect(await check(a, session, 2)).toBe('allow');
      const kept = await version(a, session);
      // $2.50 of usage recorded on b: it moves the version in its own commit.
      await b.server.usage.record(a.agent.id, 'live', [
        { model: 'gpt-4o', promptTokens: 1_000_000, completionTokens: 0, sessionId: session },
      ]);
      expect(await version(a, session)).not.toBe(kept);
      // a's copy (spend $0) fails its guard; decided again, the check sees $2.50.
      expect(await check(a, session, 3)).toBe('block');
      expect(await check(a, session, 4)).toBe('block');
    }
    // Usage of a session no replica has read yet creates its version below any read one.
    await b.server.usage.record(a.agent.id, 'live', [
      { model: 'gpt-4o', promptTokens: 1_000_000, completionTokens: 0, sessionId: 'fresh' },
    ]);
    expect(await version(a, 'fresh')).toBe(-(2 ** 52));
    expect(await check(a, 'fresh', 1)).toBe('block');
  });

  test('a reservation made, settled and expired on another replica moves the session a replica keeps', async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [spendLimit()]);
    const budget = await a.admin('POST', '/api/v1/budgets', {
      body: { agent: a.agent.id, environment: 'live', scope: 'session', limit_usd: 1000 },
    });
    expect(budget.status, budget.text).toBe(201);
    const check = checker(a.liveKey);
    const session = 'reserved';
    const modelCall = async (ttl: number) => {
      const response = await b.request('POST', '/v1/model-calls/check', {
        key: a.liveKey,
        body: {
          model: 'gpt-4o',
          estimated_input_tokens: 1_000_000,
          max_output_tokens: 0,
          session_id: session,
          ttl_seconds: ttl,
        },
      });
      expect(response.status, response.text).toBe(200);
      return response.json.reservation_id as string;
    };
    expect(await check(a, session, 1)).toBe('allow');
    // b reserves $2.50 for a model call of the session: a's copy must not decide without it.
    const reservation = await modelCall(600);
    expect(await check(a, session, 2)).toBe('block');
    // Settled on b by its usage ($0.0025): the reserved amount leaves the spend.
    const usage = await b.request('POST', '/token-usage', {
      key: a.liveKey,
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1000,
        completion_tokens: 0,
        session_id: session,
        reservation_id: reservation,
      },
    });
    expect(usage.status, usage.text).toBe(200);
    expect(await check(a, session, 3)).toBe('allow');
    // Reserved again, then expired by b's sweep: given back, and a sees that too.
    await modelCall(60);
    expect(await check(a, session, 4)).toBe('block');
    now += 60_000;
    expect(await b.server.budgets.sweep()).toBe(1);
    expect(await check(a, session, 5)).toBe('allow');
  });

  test("tool costs: a replica's own commits add to the spend it keeps, another replica's move it", async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [
      spendLimit({ cost: 'args.amount', rules: [{ if: 'session.cost_usd >= 5', then: 'block' }] }),
      // A costed tool whose policy reads no memory, and whose calls no input counts.
      { name: 'Charges', tool: 'stripe.charge', cost: 'args.amount', rules: [], default: 'allow' },
    ]);
    const check = checker(a.liveKey);
    // One replica: $3, $3 (spend $3), then $6 spent: blocked.
    expect(await check(a, 'own', 3)).toBe('allow');
    expect(await check(a, 'own', 3)).toBe('allow');
    expect(await check(a, 'own', 3)).toBe('block');
    // Across replicas: b's refund moves the version a kept.
    expect(await check(a, 'across', 3)).toBe('allow');
    expect(await check(b, 'across', 3)).toBe('allow');
    expect(await check(a, 'across', 3)).toBe('block');
    // A charge's cost (its commit bumps the session), on the other replica and on the same one.
    for (const [round, other] of [b, a].entries()) {
      const session = `charge-${round}`;
      expect(await check(a, session, 1)).toBe('allow');
      expect(await check(other, session, 10, 'stripe.charge')).toBe('allow');
      expect(await check(a, session, 1)).toBe('block');
    }
    // The log agrees: what was allowed is what was spent.
    const spent = await a.server.store.database.all<{ session_id: string; usd: string }>(
      `SELECT session_id, SUM(COALESCE(actual_usd_nanos, usd_nanos)) AS usd FROM budget_reservations
       WHERE kind = 'tool' AND status = 'settled' GROUP BY session_id ORDER BY session_id`,
    );
    expect(spent.map((row) => [row.session_id, Number(row.usd) / 1e9])).toEqual([
      ['across', 6],
      ['charge-0', 11],
      ['charge-1', 11],
      ['own', 6],
    ]);
  });

  test("an agent-wide spend limit and a session's, each read by a costed call on its own replica: not both pass", async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [
      // Reads the session's spend only (b keeps the session; its commit guards the session).
      spendLimit({ cost: 'args.amount', rules: [{ if: 'session.cost_usd >= 8', then: 'block' }] }),
      // Reads the agent's spend only (its commit guards the agent, and bumps the session).
      {
        name: 'Payouts',
        tool: 'stripe.payout',
        cost: 'args.amount',
        rules: [{ if: 'agent.cost_usd(duration("24h")) >= 8', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    const check = checker(a.liveKey);
    // $6 spent in the session (and so by the agent); b keeps the session.
    expect(await check(b, 'both', 6)).toBe('allow');
    // a's payout has read the agent's spend ($6) and waits before its cost is reserved; b's
    // refund reads the session's ($6, without the payout's cost) and commits meanwhile.
    const { reached, release } = pauseFirstCall(a.server.budgets, 'reserve');
    const payout = check(a, 'both', 2, 'stripe.payout');
    await reached;
    const refund = await check(b, 'both', 2);
    release();
    const decisions = [await payout, refund];
    // In either order the first spends $2 ($8 in all) and the second, reading $8, is blocked:
    // both allowed would mean one decided on a spend without the other's.
    expect(decisions.sort()).toEqual(['allow', 'block']);
    const spent = await a.server.store.database.get<{ usd: string }>(
      `SELECT SUM(COALESCE(actual_usd_nanos, usd_nanos)) AS usd FROM budget_reservations
       WHERE kind = 'tool' AND status IN ('reserved', 'settled') AND session_id = 'both'`,
    );
    expect(Number(spent?.usd) / 1e9).toBe(8);
  });

  test('a policy reading only spend: a refusal on another replica is still found (its lookup is not kept)', async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [
      spendLimit({
        refuse_repeats: true,
        rules: [
          { if: 'args.amount > 100', then: 'block' },
          { if: 'session.cost_usd >= 2.0', then: 'block' },
        ],
      }),
    ]);
    const check = (t: AdminTestServer, amount: number) =>
      t
        .request('POST', '/policy/check', {
          key: a.liveKey,
          body: {
            tool_name: 'stripe.refund',
            kwargs: { amount },
            metadata: { session_id: 'spent' },
          },
        })
        .then((response) => response.json);
    expect((await check(a, 1)).decision).toBe('allow');
    const refused = await check(b, 500);
    expect(refused).toMatchObject({ decision: 'block' });
    // No input counts refunds: b's refusal moved no version, and a's copy does not hold it.
    expect(await check(a, 500)).toMatchObject({ decision: 'block', repeat_of: refused.action_id });
    expect((await check(a, 2)).decision).toBe('allow');
  });

  test('a restarted replica sees every spend the other committed (nothing kept only in memory)', async () => {
    const { a, b } = await replicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [spendLimit()]);
    const check = checker(a.liveKey);
    expect(await check(a, 'restart', 1)).toBe('allow');
    expect(await check(b, 'restart', 2)).toBe('allow');
    await a.server.usage.record(a.agent.id, 'live', [
      { model: 'gpt-4o', promptTokens: 1_000_000, completionTokens: 0, sessionId: 'restart' },
    ]);
    // The replica that kept the session goes away; a new one decides on what the database holds.
    await servers.shift()?.close();
    const c = await replicaOf(a, { clock });
    expect(await check(c, 'restart', 3)).toBe('block');
  });
});

describe('refused repeats of checks reading no memory: found by the INSERT (PostgreSQL)', () => {
  const receipts = { secret: 'refusal-guard-test-secret-0123456789' };
  type Body = Record<string, unknown>;
  const checkOn =
    (key: string) =>
    (t: AdminTestServer, tool: string, kwargs: Record<string, unknown>, session: string) =>
      t
        .request('POST', '/policy/check', {
          key,
          body: { tool_name: tool, kwargs, metadata: { session_id: session } },
        })
        .then((response) => response.json as Body);

  /** Every statement text the server sends PostgreSQL while `run` runs. */
  async function statementsOf<T>(run: () => Promise<T>): Promise<{ result: T; texts: string[] }> {
    const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = prototype.query;
    const texts: string[] = [];
    prototype.query = function (this: unknown, ...args: unknown[]) {
      const first = args[0];
      texts.push(typeof first === 'string' ? first : String((first as { text?: string })?.text));
      return original.apply(this, args);
    };
    try {
      return { result: await run(), texts };
    } finally {
      prototype.query = original;
    }
  }
  const lookups = (texts: string[]) => texts.filter((text) => text.includes('CROSS JOIN LATERAL'));
  const guardedInserts = (texts: string[]) =>
    texts.filter((text) => text.startsWith('INSERT INTO actions') && text.includes('refusal_id'));

  const refunds = {
    name: 'Refunds',
    tool: 'refund',
    rules: [{ if: 'args.amount > 100', then: 'block' as const }],
    default: 'allow' as const,
  };

  test('a plain check makes no lookup before its INSERT; a repeat is still refused, on either replica', async () => {
    const { a, b } = await twoReplicas();
    await a.server.policies.saveSet(a.agent.id, 'live', [refunds]);
    const check = checkOn(a.liveKey);
    const plain = await statementsOf(async () => {
      const answers: Body[] = [];
      for (let n = 1; n <= 5; n++) answers.push(await check(a, 'refund', { amount: n }, 's-1'));
      return answers;
    });
    expect(plain.result.map((answer) => answer.decision)).toEqual(Array(5).fill('allow'));
    expect(lookups(plain.texts)).toEqual([]);
    expect(guardedInserts(plain.texts)).toHaveLength(5);
    const blocked = await check(a, 'refund', { amount: 500 }, 's-1');
    expect(blocked).toMatchObject({ decision: 'block', reason: 'rule_matched' });
    // b knows nothing of the refusal: its INSERT finds it, and the check is decided again with
    // the lookup; from then on b looks up first in that session (no INSERT failing each time).
    const onB = await statementsOf(async () => [
      await check(b, 'refund', { amount: 500 }, 's-1'),
      await check(b, 'refund', { amount: 500 }, 's-1'),
    ]);
    for (const repeat of onB.result) {
      expect(repeat).toMatchObject({
        decision: 'block',
        reason: 'repeat_refused',
        repeat_of: blocked.action_id,
      });
    }
    expect(guardedInserts(onB.texts)).toHaveLength(3);
    expect(lookups(onB.texts)).toHaveLength(2);
    // a committed the refusal: it looks up first.
    const onA = await statementsOf(() => check(a, 'refund', { amount: 500 }, 's-1'));
    expect(onA.result).toMatchObject({ reason: 'repeat_refused', repeat_of: blocked.action_id });
    expect(lookups(onA.texts)).toHaveLength(1);
    // Other sessions are not slowed by it.
    const other = await statementsOf(() => check(b, 'refund', { amount: 500 }, 's-2'));
    expect(other.result).toMatchObject({ decision: 'block', reason: 'rule_matched' });
    expect(lookups(other.texts)).toEqual([]);
  });

  test('a refusal committed after a check was decided, before its INSERT: the check is refused, nothing of its first decision kept', async () => {
    const { a, b } = await twoReplicas({ receipts });
    await a.server.policies.saveSet(a.agent.id, 'live', [
      { name: 'Mail', tool: 'mail', action: 'requires_approval' },
    ]);
    const check = checkOn(a.liveKey);
    const held = await check(a, 'mail', { to: 'x@y.z' }, 's-1');
    expect(held).toMatchObject({ decision: 'requires_approval', status: 'pending' });
    // b decides the repeat (held again: nothing refused yet) and stops before its commit.
    const paused = pauseFirstCall(b.server.policies, 'sensitivePaths');
    const repeat = check(b, 'mail', { to: 'x@y.z' }, 's-1');
    await paused.reached;
    const denied = await a.admin('POST', `/api/v1/approvals/${held.action_id}/deny`, {
      body: { notes: 'no' },
    });
    expect(denied.status).toBe(200);
    paused.release();
    expect(await repeat).toMatchObject({
      decision: 'block',
      reason: 'repeat_refused',
      repeat_of: held.action_id,
    });
    // Two actions, each with its receipts; no trace of the repeat's first decision.
    const database = a.server.store.database;
    const actions = await database.all<{ id: string; status: string; reason: string }>(
      'SELECT id, status, reason FROM actions ORDER BY seq',
    );
    expect(actions.map((row) => row.status)).toEqual(['denied', 'completed']);
    expect(actions[1]?.reason).toBe('repeat_refused');
    const receipted = await database.all<{ action_id: string; decision: string }>(
      'SELECT action_id, decision FROM receipts ORDER BY seq',
    );
    expect(receipted.every((row) => actions.some((action) => action.id === row.action_id))).toBe(
      true,
    );
    expect(receipted.filter((row) => row.action_id === actions[1]?.id)).toHaveLength(1);
  });

  test('repeats of a refused call checked at once on two replicas are refused every time; rows and receipts agree', async () => {
    const { a, b } = await twoReplicas({ receipts });
    // The refunds' policy reads no memory; another's counts them (each refund's INSERT also
    // moves the session's memory version: both guards in one statement).
    await a.server.policies.saveSet(a.agent.id, 'live', [
      refunds,
      {
        name: 'Payouts',
        tool: 'payout',
        rules: [{ if: 'session.calls("refund") >= 50', then: 'block' }],
        default: 'allow',
      },
    ]);
    const check = checkOn(a.liveKey);
    const rounds = 6;
    for (let round = 0; round < rounds; round++) {
      const session = `at-once-${round}`;
      // Refused on one replica, alternately; then repeated on both at once (several of a
      // replica's in one group commit), with other calls of the session among them.
      const first = await check(round % 2 ? b : a, 'refund', { amount: 500 + round }, session);
      expect(first).toMatchObject({ decision: 'block', reason: 'rule_matched' });
      const answers = await Promise.all([
        check(a, 'refund', { amount: 500 + round }, session),
        check(b, 'refund', { amount: 500 + round }, session),
        check(a, 'refund', { amount: 1 }, session),
        check(b, 'refund', { amount: 500 + round }, session),
        check(a, 'refund', { amount: 500 + round }, session),
        check(b, 'refund', { amount: 2 }, session),
        check(b, 'payout', { amount: 3 }, session),
      ]);
      expect(answers.map((answer) => [answer.reason, answer.repeat_of ?? null])).toEqual([
        ['repeat_refused', first.action_id],
        ['repeat_refused', first.action_id],
        ['policy_default', null],
        ['repeat_refused', first.action_id],
        ['repeat_refused', first.action_id],
        ['policy_default', null],
        ['policy_default', null],
      ]);
      const ids = new Set(answers.map((answer) => answer.action_id));
      expect(ids.size).toBe(answers.length);
    }
    const database = a.server.store.database;
    const actions = await database.all<{ id: string; reason: string; decision: string }>(
      'SELECT id, reason, decision FROM actions',
    );
    expect(actions).toHaveLength(rounds * 8);
    expect(actions.filter((row) => row.reason === 'repeat_refused')).toHaveLength(rounds * 4);
    expect(actions.filter((row) => row.decision === 'allow')).toHaveLength(rounds * 3);
    // One receipt per action, none for an action not written.
    const receipted = await database.all<{ action_id: string; decision: string }>(
      'SELECT action_id, decision FROM receipts',
    );
    const byId = new Map(actions.map((row) => [row.id, row]));
    expect(receipted).toHaveLength(actions.length);
    expect(new Set(receipted.map((row) => row.action_id)).size).toBe(actions.length);
    for (const row of receipted) expect(byId.get(row.action_id)?.decision).toBe(row.decision);
  });

  test('in one group commit: a guarded repeat fails alone, naming itself; nothing of it is written', async () => {
    const a = await startAdminTestServer({ workers: false }, { listen: false });
    servers.push(a);
    const { committer, actions } = a.server.store;
    const call = {
      sessionId: 's-1',
      toolName: 'refund',
      argsHash: 'hash-1',
      createdAt: Date.now(),
    };
    const refusal = action(a.agent.id, { ...call, decision: 'block', reason: 'rule_matched' });
    await committer.submit(actions.insertStatement(refusal));
    const repeat = () => action(a.agent.id, call);
    const first = repeat();
    const second = repeat();
    const other = action(a.agent.id, { ...call, argsHash: 'hash-2' });
    const unguarded = repeat();
    const outcomes = await Promise.all(
      [
        refusalGuarded(actions.insertStatement(first), { actionId: first.id, since: undefined }),
        // Also under a memory guard (a bump), as a check whose call another policy counts.
        guardedInsert(
          refusalGuarded(actions.insertStatement(second), {
            actionId: second.id,
            since: call.createdAt - 1000,
          }),
          [['session|refusal-test|live|s-1', null]],
        ),
        refusalGuarded(actions.insertStatement(other), { actionId: other.id, since: undefined }),
        refusalGuarded(actions.insertStatement(unguarded), undefined),
      ].map((statement) => committer.submit(statement).catch((error: unknown) => error)),
    );
    expect(isMemoryConflict(outcomes[0])).toBe(true);
    expect((outcomes[0] as Error).message).toContain(refusalConflictKey(first.id));
    expect(isMemoryConflict(outcomes[1])).toBe(true);
    expect((outcomes[1] as Error).message).toContain(refusalConflictKey(second.id));
    expect(outcomes[2]).toMatchObject({ changes: 1 });
    expect(outcomes[3]).toMatchObject({ changes: 1 });
    const written = await a.server.store.database.all<{ id: string }>('SELECT id FROM actions');
    expect(new Set(written.map((row) => row.id))).toEqual(
      new Set([refusal.id, other.id, unguarded.id]),
    );
    expect(
      await memoryRepository(a.server.store.database).version('session|refusal-test|live|s-1'),
    ).toBe(0);
    // The guard's seek is one of `actions_memory_refused` (refusals only): its predicate is
    // the index's.
    const probe = repeat();
    const statement = refusalGuarded(actions.insertStatement(probe), {
      actionId: probe.id,
      since: undefined,
    });
    const merged = statement.rows?.build([statement.params ?? []]);
    const plan = await a.server.store.database.transaction(async (transaction) => {
      await transaction.run('SET LOCAL enable_seqscan = off');
      return transaction.all<{ 'QUERY PLAN': string }>(
        `EXPLAIN ${merged?.text}`,
        merged?.values as SqlValue[],
      );
    });
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toMatch(
      /Index (Only )?Scan using actions_memory_refused on actions a/,
    );
    // A refusal before the window is not one.
    const late = repeat();
    await committer.submit(
      refusalGuarded(actions.insertStatement(late), {
        actionId: late.id,
        since: call.createdAt + 1,
      }),
    );
  });
});
