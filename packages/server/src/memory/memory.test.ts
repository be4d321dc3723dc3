// Policies with memory (issue #17): the memory inputs read the action log and recorded usage
// at check time, under the server's clock; refused calls stay refused. Real server, both stores.
import { type PolicyDefinition, parseExactJson } from '@arden/policy';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { startTestServer, temporaryDirectory } from '../test-fixtures/harness';
import { pauseFirstCall } from '../test-fixtures/pause';
import { argumentsHash, canonicalJson } from './canonical';
import { firstRefusalSql } from './repository';

const hour = 3_600_000;
let now = Date.UTC(2026, 11, 6, 12);
const servers: AdminTestServer[] = [];

afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

// The embedded store keeps 5 000 calls of a session by default: the paths of larger sessions are
// tested at a size a test reaches quickly.
const sessionCache = { callsPerSession: 500 };

async function serverWith(
  policies: PolicyDefinition[],
  cache: { callsPerSession?: number; calls?: number } = sessionCache,
): Promise<AdminTestServer> {
  now = Date.UTC(2026, 11, 6, 12);
  const t = await startAdminTestServer(
    { workers: false, clock: () => now, sessionCache: cache },
    { listen: false },
  );
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', policies);
  return t;
}

type Body = Record<string, unknown>;

async function check(
  t: AdminTestServer,
  tool: string,
  kwargs: Record<string, unknown>,
  session: string | null = 's-1',
): Promise<Body> {
  const metadata = session === null ? {} : { session_id: session };
  return (await t.request('POST', '/policy/check', { body: { tool_name: tool, kwargs, metadata } }))
    .json as Body;
}

async function usage(t: AdminTestServer, session: string, prompt: number, completion: number) {
  const response = await t.request('POST', '/token-usage', {
    body: {
      model: 'gpt-4o',
      prompt_tokens: prompt,
      completion_tokens: completion,
      session_id: session,
    },
  });
  expect(response.status).toBe(200);
  return response.json as { total_cost_usd: number };
}

describe('session.calls and agent.calls', () => {
  it('holds "at most 3 refunds over $20 per session in 24h" at its edges', async () => {
    const t = await serverWith([
      {
        name: 'Refunds',
        tool: 'stripe.issue_refund',
        rules: [
          {
            if: 'session.calls("stripe.issue_refund", duration("24h")) >= 3 && args.amount > 20',
            then: 'block',
          },
        ],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    const first = now;
    for (let index = 0; index < 3; index++) {
      expect((await check(t, 'stripe.issue_refund', { amount: 50 + index })).decision).toBe(
        'allow',
      );
      now += 1000;
    }
    // The 4th in the session is blocked; a small one still passes; another session is apart.
    expect(await check(t, 'stripe.issue_refund', { amount: 50 })).toMatchObject({
      decision: 'block',
      reason: 'rule_matched',
    });
    expect((await check(t, 'stripe.issue_refund', { amount: 10 })).decision).toBe('allow');
    expect((await check(t, 'stripe.issue_refund', { amount: 50 }, 's-2')).decision).toBe('allow');
    // At exactly 24h after the first, it is still in the window (inclusive); 1 ms later not.
    // Calls 2 and 3 plus the blocked 4th and the small 5th are still counted: 4 ≥ 3.
    now = first + 24 * hour;
    expect((await check(t, 'stripe.issue_refund', { amount: 50 })).decision).toBe('block');
    now = first + 24 * hour + 4000 + 1;
    // Only the block made at first+24h is left in the window.
    expect((await check(t, 'stripe.issue_refund', { amount: 50 })).decision).toBe('allow');
  });

  it('counts by decision, by pattern, and across the agent', async () => {
    const t = await serverWith([
      {
        name: 'Stripe',
        tool: 'stripe.*',
        rules: [{ if: 'args.amount > 100', then: 'block' }],
        default: 'allow',
      },
      {
        name: 'Payout',
        tool: 'payout',
        rules: [
          { if: 'session.calls("stripe.*", "blocked") >= 2', then: 'block' },
          {
            if: 'agent.calls("stripe.*", duration("1h"), "allowed") >= 3',
            then: 'requires_approval',
          },
        ],
        default: 'allow',
      },
    ]);
    await check(t, 'stripe.refund', { amount: 500 });
    await check(t, 'stripe.charge', { amount: 500 }, 's-2');
    expect((await check(t, 'payout', {})).decision).toBe('allow');
    await check(t, 'stripe.charge', { amount: 501 });
    expect((await check(t, 'payout', {})).decision).toBe('block');
    // Allowed stripe calls of the agent in the last hour, any session.
    await check(t, 'stripe.refund', { amount: 1 }, 's-3');
    await check(t, 'stripe.refund', { amount: 2 }, 's-4');
    expect((await check(t, 'payout', {}, 's-5')).decision).toBe('allow');
    await check(t, 'stripe.refund', { amount: 3 }, 's-6');
    expect((await check(t, 'payout', {}, 's-5')).decision).toBe('requires_approval');
    now += hour + 1;
    expect((await check(t, 'payout', {}, 's-5')).decision).toBe('allow');
  });

  it('holds exactly under concurrent checks of one session', async () => {
    const t = await serverWith([
      {
        name: 'Refunds',
        tool: 'refund',
        rules: [{ if: 'session.calls("refund", "allowed") >= 3', then: 'block' }],
        default: 'allow',
      },
    ]);
    await check(t, 'refund', { amount: 0 }, 'warm');
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, index) => check(t, 'refund', { amount: index })),
    );
    expect(answers.filter((answer) => answer.decision === 'allow')).toHaveLength(3);
  });

  it('holds an agent.calls limit exactly under concurrent checks, in one session or many', async () => {
    const t = await serverWith([
      {
        name: 'Refunds',
        tool: 'r',
        rules: [{ if: 'agent.calls("r", "allowed") >= 3', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    expect((await check(t, 'r', { n: 0 }, 'warm')).decision).toBe('allow');
    const many = await Promise.all(
      Array.from({ length: 8 }, (_, index) => check(t, 'r', { n: index }, `s-${index}`)),
    );
    expect(many.filter((answer) => answer.decision === 'allow')).toHaveLength(2);
    const u = await serverWith([
      {
        name: 'Refunds',
        tool: 'r',
        rules: [{ if: 'agent.calls("r", duration("1h"), "allowed") >= 3', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    expect((await check(u, 'r', { n: 0 }, null)).decision).toBe('allow');
    const one = await Promise.all(
      Array.from({ length: 8 }, (_, index) => check(u, 'r', { n: index }, index % 2 ? 's' : null)),
    );
    expect(one.filter((answer) => answer.decision === 'allow')).toHaveLength(2);
  });

  it('keeps policies reading the agent and the session exact together', async () => {
    // Each policy's count covers the other's tool: of a refund and a charge checked at once
    // after 2 calls, one must see the other.
    const t = await serverWith([
      {
        name: 'Refund',
        tool: 'stripe.refund',
        rules: [{ if: 'agent.calls("stripe.*") >= 3', then: 'block' }],
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
    expect((await check(t, 'stripe.charge', { n: 1 })).decision).toBe('allow');
    expect((await check(t, 'stripe.charge', { n: 2 })).decision).toBe('allow');
    const answers = await Promise.all([
      check(t, 'stripe.refund', { n: 3 }),
      check(t, 'stripe.charge', { n: 4 }),
      check(t, 'stripe.refund', { n: 5 }),
      check(t, 'stripe.charge', { n: 6 }),
    ]);
    expect(answers.map((answer) => answer.decision).filter((d) => d === 'allow')).toHaveLength(1);
  });

  it('counts what was logged before a restart', async () => {
    const dataDir = temporaryDirectory();
    const policies: PolicyDefinition[] = [
      {
        name: 'Refunds',
        tool: 'refund',
        rules: [{ if: 'session.calls("refund") >= 2', then: 'block' }],
        default: 'allow',
      },
    ];
    const first = await startTestServer({ dataDir }, { keepData: true, listen: false });
    const databaseUrl = first.databaseUrl;
    await first.server.policies.saveSet(first.agent.id, 'live', policies);
    const body = (amount: number) => ({
      body: { tool_name: 'refund', kwargs: { amount }, metadata: { session_id: 'r-1' } },
    });
    expect((await first.request('POST', '/policy/check', body(1))).json.decision).toBe('allow');
    expect((await first.request('POST', '/policy/check', body(2))).json.decision).toBe('allow');
    await first.close();
    const second = await startTestServer({ dataDir, databaseUrl }, { listen: false });
    try {
      expect((await second.request('POST', '/policy/check', body(3))).json.decision).toBe('block');
    } finally {
      await second.close();
    }
  });

  it('counts exactly past the calls a session keeps in memory', async () => {
    const t = await serverWith([
      {
        name: 'Pings',
        tool: 'ping',
        rules: [{ if: 'session.calls("ping", "allowed") >= 505', then: 'block' }],
        default: 'allow',
      },
      { name: 'Mail', tool: 'mail', action: 'requires_approval' },
    ]);
    const held = await check(t, 'mail', { to: 'a@b.c' }, 'big');
    for (let index = 0; index < 505; index += 25) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(25, 505 - index) }, (_, offset) =>
          check(t, 'ping', { index: index + offset }, 'big'),
        ),
      );
      expect(answers.map((answer) => answer.decision)).toEqual(answers.map(() => 'allow'));
    }
    expect((await check(t, 'ping', { index: 505 }, 'big')).decision).toBe('block');
    expect((await check(t, 'ping', { index: 506 }, 'big')).decision).toBe('block');
    // A held call decided after the session outgrew memory: its repeat is refused.
    await t.server.approvals.decide(held.action_id as string, { decision: 'deny', userId: 'u' });
    expect(await check(t, 'mail', { to: 'a@b.c' }, 'big')).toMatchObject({
      reason: 'repeat_refused',
      repeat_of: held.action_id,
    });
  }, 120_000);

  it("counts exactly when sessions are dropped for the cache's total and read again", async () => {
    // At most 120 calls kept in all: three sessions of 50 calls cannot all stay.
    const t = await serverWith(
      [
        {
          name: 'Pings',
          tool: 'ping',
          rules: [{ if: 'session.calls("ping") >= 50', then: 'block' }],
          default: 'allow',
        },
      ],
      { callsPerSession: 100, calls: 120 },
    );
    for (let round = 0; round < 50; round += 10) {
      for (const session of ['a', 'b', 'c']) {
        const answers = await Promise.all(
          Array.from({ length: 10 }, (_, offset) =>
            check(t, 'ping', { index: round + offset }, session),
          ),
        );
        expect(answers.map((answer) => answer.decision)).toEqual(answers.map(() => 'allow'));
      }
    }
    for (const session of ['a', 'b', 'c', 'a']) {
      expect((await check(t, 'ping', { index: 99 }, session)).decision).toBe('block');
    }
    expect((await check(t, 'ping', { index: 0 }, 'd')).decision).toBe('allow');
  }, 60_000);

  it('finds a refusal with one seek of an index of refusals only', async () => {
    const t = await serverWith([]);
    const db = t.server.store.database;
    if (db.dialect === 'sqlite') {
      const plan = await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${firstRefusalSql(true)}`, [
        's',
        'h',
        'a',
        'live',
        't',
        0,
      ]);
      expect(plan.map((row) => row.detail)).toEqual([
        'SEARCH actions USING INDEX actions_memory_refused (session_id=? AND args_hash=?)',
      ]);
    } else {
      const index = await db.get<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes WHERE indexname = 'actions_memory_refused' AND schemaname = current_schema()`,
      );
      expect(index?.indexdef).toContain('(session_id, args_hash, seq)');
    }
    const old = await db.all(
      db.dialect === 'sqlite'
        ? `SELECT name FROM sqlite_master WHERE name = 'actions_memory_refusals'`
        : `SELECT indexname FROM pg_indexes WHERE indexname = 'actions_memory_refusals' AND schemaname = current_schema()`,
    );
    expect(old).toEqual([]);
  });

  it('fails closed (on_error) when the call has no session', async () => {
    const t = await serverWith([
      {
        name: 'Refunds',
        tool: 'refund',
        rules: [{ if: 'session.calls("refund") >= 3', then: 'block' }],
        default: 'allow',
        on_error: 'requires_approval',
      },
    ]);
    const body = await check(t, 'refund', {}, null);
    expect(body).toMatchObject({ decision: 'requires_approval', reason: 'condition_error' });
    const detail = await t.admin('GET', `/api/v1/actions/${body.action_id}`);
    expect(JSON.stringify(detail.json)).toContain('the call has no session id');
  });
});

describe('session.approved and session.denied', () => {
  it('"this write needs an approved read first"', async () => {
    const t = await serverWith([
      { name: 'Read', tool: 'db.read', action: 'requires_approval' },
      {
        name: 'Write',
        tool: 'db.write',
        rules: [{ if: 'session.approved("db.*")', then: 'allow' }],
        default: 'block',
        refuse_repeats: false,
      },
      {
        name: 'Delete',
        tool: 'db.delete',
        rules: [{ if: 'session.denied("db.read", args)', then: 'block' }],
        default: 'allow',
      },
    ]);
    expect((await check(t, 'db.write', { row: 1 })).decision).toBe('block');
    const read = await check(t, 'db.read', { table: 'a' });
    await t.server.approvals.decide(read.action_id as string, { decision: 'approve', userId: 'u' });
    expect((await check(t, 'db.write', { row: 1 })).decision).toBe('allow');
    expect((await check(t, 'db.write', { row: 1 }, 's-2')).decision).toBe('block');

    const other = await check(t, 'db.read', { table: 'b' });
    await t.server.approvals.decide(other.action_id as string, { decision: 'deny', userId: 'u' });
    expect((await check(t, 'db.delete', { table: 'b' })).decision).toBe('block');
    expect((await check(t, 'db.delete', { table: 'a' })).decision).toBe('allow');
  });
});

describe("held calls in the embedded store's session cache", () => {
  it("reads a held call's outcome again only after an outcome changed, and then sees it", async () => {
    const t = await serverWith([
      { name: 'Read', tool: 'db.read', action: 'requires_approval', timeout: 60 },
      {
        name: 'Delete',
        tool: 'db.delete',
        rules: [{ if: 'session.denied("db.read")', then: 'block' }],
        default: 'allow',
      },
    ]);
    const database = t.server.store.database;
    let reReads = 0;
    const all = database.all.bind(database);
    database.all = ((sql: string, params?: never[]) => {
      if (sql.startsWith('SELECT id, status, on_timeout, created_at, decided_at')) reReads++;
      return all(sql, params);
    }) as typeof database.all;
    const held = await check(t, 'db.read', { table: 'a' });
    expect(held.decision).toBe('requires_approval');
    for (let index = 0; index < 3; index++) {
      expect((await check(t, 'db.delete', { row: index })).decision).toBe('allow');
    }
    // Nothing was decided: the session's held call is not asked of the log at every check.
    if (database.dialect === 'sqlite') expect(reReads).toBe(0);
    // An expiry (on_timeout: deny) is seen at the next check...
    now += 61_000;
    await t.server.approvals.expire(held.action_id as string);
    expect((await check(t, 'db.delete', { row: 9 })).decision).toBe('block');
    // ...and so is a denial in another session, and a held call the agent gave up.
    const other = await check(t, 'db.read', { table: 'b' }, 's-2');
    expect((await check(t, 'db.delete', { row: 1 }, 's-2')).decision).toBe('allow');
    await t.server.approvals.decide(other.action_id as string, { decision: 'deny', userId: 'u' });
    expect((await check(t, 'db.delete', { row: 1 }, 's-2')).decision).toBe('block');
    if (database.dialect === 'sqlite') expect(reReads).toBe(2);
  });
});

describe('session.cost_usd, session.tokens and agent.cost_usd', () => {
  it('read recorded usage, the agent within its window', async () => {
    const t = await serverWith([
      {
        name: 'Search',
        tool: 'search',
        rules: [
          { if: 'session.cost_usd > 0.02', then: 'block' },
          { if: 'session.tokens >= 3000', then: 'requires_approval' },
          { if: 'agent.cost_usd(duration("1h")) > 0.03', then: 'block' },
        ],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    const spent = await t.server.memory.spendSoFar({
      agentId: t.agent.id,
      environment: 'live',
      sessionId: 's-1',
      now,
    });
    expect(spent).toEqual({ costUsd: 0, tokens: 0 });
    // gpt-4o: $2.50 / $10 per million tokens.
    await usage(t, 's-1', 1000, 1000); // $0.0125
    expect((await check(t, 'search', {})).decision).toBe('allow');
    await usage(t, 's-1', 1000, 0); // 3000 tokens, $0.015
    expect((await check(t, 'search', {})).decision).toBe('requires_approval');
    await usage(t, 's-1', 0, 1000); // $0.025
    expect((await check(t, 'search', {})).decision).toBe('block');
    expect(
      await t.server.memory.spendSoFar({
        agentId: t.agent.id,
        environment: 'live',
        sessionId: 's-1',
        now,
      }),
    ).toEqual({ costUsd: expect.closeTo(0.025, 10), tokens: 4000 });
    // The agent across sessions: $0.025 + $0.01 in the last hour.
    await usage(t, 's-2', 0, 1000);
    expect((await check(t, 'search', {}, 's-3')).decision).toBe('block');
    now += hour;
    expect((await check(t, 'search', {}, 's-3')).decision).toBe('block');
    now += 1;
    expect((await check(t, 'search', {}, 's-3')).decision).toBe('allow');
  });
});

describe("the agent's spend and a session's, read by two costed checks at once", () => {
  it('of a payout reading the agent and a refund reading its session, not both pass', async () => {
    const t = await serverWith([
      {
        name: 'Refunds',
        tool: 'stripe.refund',
        cost: 'args.amount',
        rules: [{ if: 'session.cost_usd >= 8', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
      {
        name: 'Payouts',
        tool: 'stripe.payout',
        cost: 'args.amount',
        rules: [{ if: 'agent.cost_usd(duration("24h")) >= 8', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    expect((await check(t, 'stripe.refund', { amount: 6 })).decision).toBe('allow');
    // The payout has read the agent's spend ($6) and waits before its cost is reserved; the
    // refund is checked meanwhile.
    const { reached, release } = pauseFirstCall(t.server.budgets, 'reserve');
    const payout = check(t, 'stripe.payout', { amount: 2 });
    await reached;
    const refund = check(t, 'stripe.refund', { amount: 2 });
    // The refund may wait for the payout (the embedded store) or go first (PostgreSQL): either
    // way, whichever is decided second reads $8 and is blocked.
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    const decisions = [(await payout).decision, (await refund).decision];
    expect(decisions.sort()).toEqual(['allow', 'block']);
  });
});

describe('denied calls stay denied', () => {
  const policies: PolicyDefinition[] = [
    {
      name: 'Refunds',
      tool: 'refund',
      rules: [{ if: 'args.amount > 100', then: 'block' }],
      default: 'allow',
    },
    { name: 'Mail', tool: 'mail', action: 'requires_approval', repeat_window: 60 },
    { name: 'Drop', tool: 'drop', action: 'block', refuse_repeats: false },
    { name: 'Lock', tool: 'lock', action: 'block' },
  ];

  it('refuses a repeat at once, formatting aside, and links it to the refusal', async () => {
    const t = await serverWith(policies);
    const first = await check(t, 'refund', { amount: 500, note: 'x' });
    expect(first).toMatchObject({ decision: 'block', reason: 'rule_matched' });
    const raw =
      '{"tool_name":"refund","kwargs":{"note":"x","amount":500.0},"metadata":{"session_id":"s-1"}}';
    const repeat = (await t.request('POST', '/policy/check', { raw })).json as Body;
    expect(repeat).toMatchObject({
      decision: 'block',
      reason: 'repeat_refused',
      repeat_of: first.action_id,
    });
    expect(repeat.message).toContain('was already refused in this session');
    expect(repeat.message).toContain('Do not retry this call');
    const logged = await t.server.store.actions.get(repeat.action_id as string);
    expect(logged?.repeatOf).toBe(first.action_id);
    const detail = await t.admin('GET', `/api/v1/actions/${repeat.action_id}`);
    expect(detail.json).toMatchObject({ reason: 'repeat_refused', repeat_of: first.action_id });
    expect(logged?.kwargsJson).toBe('{"note":"x","amount":500.0}');
    // Other arguments, another session: decided by the policy.
    expect((await check(t, 'refund', { amount: 501 })).reason).toBe('rule_matched');
    expect((await check(t, 'refund', { amount: 500, note: 'x' }, 's-2')).reason).toBe(
      'rule_matched',
    );
  });

  it('tells calls apart by integers above int64 and numbers beyond a double', async () => {
    const t = await serverWith(policies);
    const lock = async (id: string) =>
      (
        await t.request('POST', '/policy/check', {
          raw: `{"tool_name":"lock","kwargs":{"id":${id}},"metadata":{"session_id":"s-1"}}`,
        })
      ).json as Body;
    const ids = ['9223372036854775808', '18446744073709551615', '{}', '18446744073709551616'];
    const more = ['18446744073709551617', '1e400', '1e401', 'null'];
    for (const id of [...ids, ...more]) {
      expect((await lock(id)).reason, id).toBe('policy_default');
    }
    // The same numbers written otherwise are repeats.
    expect((await lock('10E399')).reason).toBe('repeat_refused');
    expect((await lock('1.8446744073709551615e19')).reason).toBe('repeat_refused');
  });

  it('answers concurrent lookups each for its own call (PostgreSQL: one statement per turn)', async () => {
    const t = await serverWith(policies);
    const first = await check(t, 'refund', { amount: 500, note: 'x' });
    const second = await check(t, 'refund', { amount: 700 }, 's-2');
    const answers = await Promise.all([
      check(t, 'refund', { amount: 700 }),
      check(t, 'refund', { amount: 500, note: 'x' }),
      check(t, 'refund', { amount: 500, note: 'x' }, 's-2'),
      check(t, 'refund', { amount: 700 }, 's-2'),
      check(t, 'refund', { amount: 5 }, 's-2'),
    ]);
    expect(answers.map((answer) => [answer.reason, answer.repeat_of ?? null])).toEqual([
      ['rule_matched', null],
      ['repeat_refused', first.action_id],
      ['rule_matched', null],
      ['repeat_refused', second.action_id],
      ['policy_default', null],
    ]);
  });

  it('refuses repeats in a session too large to keep whole, also after a restart', async () => {
    const dataDir = temporaryDirectory();
    const first = await startTestServer(
      { dataDir, sessionCache },
      { keepData: true, listen: false },
    );
    const databaseUrl = first.databaseUrl;
    await first.server.policies.saveSet(first.agent.id, 'live', policies);
    const call = (t: { request: AdminTestServer['request'] }, kwargs: Body) =>
      t
        .request('POST', '/policy/check', {
          body: {
            tool_name: kwargs.to ? 'mail' : 'refund',
            kwargs,
            metadata: { session_id: 'big' },
          },
        })
        .then((response) => response.json as Body);
    const early = await call(first, { amount: 500 });
    const held = await call(first, { to: 'a@b.c' });
    expect(held.decision).toBe('requires_approval');
    for (let index = 0; index < 510; index += 30) {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, offset) => call(first, { amount: (index + offset) % 90 })),
      );
      expect(new Set(answers.map((answer) => answer.decision))).toEqual(new Set(['allow']));
    }
    // Past the calls a session keeps whole: refusals made before and after are both remembered.
    const late = await call(first, { amount: 600 });
    expect(late.reason).toBe('rule_matched');
    expect(await call(first, { amount: 500 })).toMatchObject({ repeat_of: early.action_id });
    expect(await call(first, { amount: 600 })).toMatchObject({ repeat_of: late.action_id });
    expect((await call(first, { amount: 601 })).reason).toBe('rule_matched');
    // A call held before, denied now: its repeat is refused (its outcome is read from the log).
    await first.server.approvals.decide(held.action_id as string, {
      decision: 'deny',
      userId: 'u',
    });
    expect(await call(first, { to: 'a@b.c' })).toMatchObject({ repeat_of: held.action_id });
    await first.close();
    const second = await startTestServer({ dataDir, databaseUrl, sessionCache }, { listen: false });
    try {
      expect(await call(second, { amount: 500 })).toMatchObject({ repeat_of: early.action_id });
      expect(await call(second, { amount: 601 })).toMatchObject({ repeat_of: expect.any(String) });
      expect((await call(second, { amount: 602 })).reason).toBe('rule_matched');
      expect(await call(second, { to: 'a@b.c' })).toMatchObject({ repeat_of: held.action_id });
    } finally {
      await second.close();
    }
  }, 120_000);

  it('remembers a denial by a person within the policy window, and can be switched off', async () => {
    const t = await serverWith(policies);
    const held = await check(t, 'mail', { to: 'a@b.c' });
    await t.server.approvals.decide(held.action_id as string, { decision: 'deny', userId: 'u' });
    now += 60_000;
    expect(await check(t, 'mail', { to: 'a@b.c' })).toMatchObject({
      decision: 'block',
      reason: 'repeat_refused',
      repeat_of: held.action_id,
    });
    now += 60_001;
    // The refused repeat is itself a refusal: the window runs from the last one.
    expect((await check(t, 'mail', { to: 'a@b.c' })).decision).toBe('requires_approval');
    await check(t, 'drop', { table: 'x' });
    expect((await check(t, 'drop', { table: 'x' })).reason).toBe('policy_default');
  });
});

describe('repeat_window', () => {
  const minute = 60_000;
  const policies: PolicyDefinition[] = [
    {
      name: 'Deploys',
      tool: 'deploy',
      action: 'requires_approval',
      timeout: 3600,
      repeat_window: 600,
    },
    { name: 'Mail', tool: 'mail', action: 'requires_approval', timeout: 1200, repeat_window: 600 },
  ];

  it('counts from when a person denied the call, not from when it was held', async () => {
    const t = await serverWith(policies);
    const held = await check(t, 'deploy', { env: 'prod' });
    expect(held.decision).toBe('requires_approval');
    now += 20 * minute;
    await t.server.approvals.decide(held.action_id as string, { decision: 'deny', userId: 'u' });
    now += 1000;
    expect(await check(t, 'deploy', { env: 'prod' })).toMatchObject({
      reason: 'repeat_refused',
      repeat_of: held.action_id,
    });
    // That refused repeat is the last refusal: 10 minutes after it, asked again.
    now += 10 * minute + 1;
    expect((await check(t, 'deploy', { env: 'prod' })).decision).toBe('requires_approval');
  });

  it('counts from when an approval expired denied, not from when it was swept', async () => {
    const t = await serverWith(policies);
    const first = await check(t, 'mail', { to: 'a@b.c' });
    const second = await check(t, 'mail', { to: 'a@b.c' }, 's-2');
    // Both expire at +20 min (on_timeout deny); swept at +25 min.
    now += 25 * minute;
    expect((await t.server.approvals.expire(first.action_id as string))?.status).toBe('expired');
    expect((await t.server.approvals.expire(second.action_id as string))?.status).toBe('expired');
    now += 4 * minute;
    expect(await check(t, 'mail', { to: 'a@b.c' })).toMatchObject({
      reason: 'repeat_refused',
      repeat_of: first.action_id,
    });
    // 10 minutes and 1 ms after the expiry: forgotten, though it was swept later.
    now += minute + 1;
    expect((await check(t, 'mail', { to: 'a@b.c' }, 's-2')).decision).toBe('requires_approval');
  });
});

describe('canonical JSON', () => {
  it('sorts keys and normalises numbers', () => {
    expect(canonicalJson({ b: [1, { d: 1n, c: 2.5 }], a: 'x' })).toBe(
      '{"a":"x","b":[1,{"c":2.5,"d":1}]}',
    );
    expect(canonicalJson(123456789012345678901234567890n)).toBe('123456789012345678901234567890');
  });

  it('writes integers above int64 by their digits, and never a number like null or {}', () => {
    const exact = (text: string) => parseExactJson(text);
    // Above int64 the check's value is a CEL uint, an object whose value is private.
    expect(canonicalJson(exact('{"id":9223372036854775808}'))).toBe('{"id":9223372036854775808}');
    expect(canonicalJson(exact('{"id":18446744073709551615}'))).toBe('{"id":18446744073709551615}');
    const hash = (text: string) => {
      const kwargs = exact(text);
      return argumentsHash([], kwargs, { argsJson: '[]', kwargsJson: text });
    };
    const distinct = [
      '{"id":9223372036854775808}',
      '{"id":18446744073709551615}',
      '{"id":{}}',
      // Beyond uint64 the value is a rounded double: the text tells them apart.
      '{"id":18446744073709551616}',
      '{"id":18446744073709551617}',
      '{"id":1e400}',
      '{"id":1e401}',
      '{"id":-1e400}',
      '{"id":null}',
    ];
    expect(new Set(distinct.map(hash)).size).toBe(distinct.length);
    // Formatting aside, one number: the same call.
    expect(hash('{"id":1e400}')).toBe(hash('{"id": 10.0E399}'));
    expect(hash('{"id":18446744073709551616}')).toBe(hash('{"id":1.8446744073709551616e19}'));
    expect(hash('{"id":9223372036854775808}')).toBe(hash('{ "id" : 9223372036854775808 }'));
    expect(hash('{"n":[1,2.50]}')).toBe(argumentsHash([], exact('{"n":[1.0,2.5]}')));
    // Without the texts a number beyond a double's range is still not null.
    expect(argumentsHash([], { id: Number.POSITIVE_INFINITY })).not.toBe(
      argumentsHash([], { id: null }),
    );
  });

  it('hashes as it always has (the hashes are stored with the calls)', () => {
    // Values written by the first implementation (session 10): a faster one must not change them.
    expect(
      argumentsHash([], { amount: 55, to: 'x@example.com', table: 'orders', limit: 10, id: 55 }),
    ).toBe('QPN-zbvbcbspJc_BVC05zX7guP1lkyms');
    expect(
      argumentsHash(['a', 1.5, null, true], {
        é: [{ b: 2, a: '\u0000"' }],
        Z: -0,
        n: 10n ** 30n,
      }),
    ).toBe('Llyy7BTjb3na88KoHe6gNdxjRCVWaaMC');
    const text = '{"id":18446744073709551616,"x":1e400}';
    expect(argumentsHash([], parseExactJson(text), { argsJson: '[]', kwargsJson: text })).toBe(
      'EKBLHdRoC62t01AHfAdPIwnIwxoWaHpj',
    );
  });
});
