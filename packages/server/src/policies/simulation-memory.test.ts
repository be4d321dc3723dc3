// The simulation over the log replays the memory inputs in order (issue #17): a draft with a
// count rule shows which past calls it would have held — each call decided with the calls
// logged before it, also those before the window. Real server, both stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

let t: AdminTestServer;
let now = Date.parse('2026-12-06T09:00:00Z');
const minute = 60_000;

async function check(tool: string, amount: number, session: string | null) {
  now += minute;
  const response = await t.request('POST', '/policy/check', {
    key: t.testKey,
    body: {
      tool_name: tool,
      kwargs: { amount },
      metadata: session === null ? {} : { session_id: session },
    },
  });
  expect(response.status).toBe(200);
  return response.json.action_id as string;
}

const base = () => `/api/v1/agents/${t.agent.id}/policies/test`;

// A person looks at the 3rd refund of a session and later ones; blocks the 4th of the agent in an hour.
const draft = [
  {
    name: 'refunds',
    tool: 'stripe.issue_refund',
    rules: [
      { if: 'agent.calls("stripe.*", duration("1h")) >= 3', then: 'block' },
      { if: 'session.calls("stripe.issue_refund") >= 2', then: 'requires_approval' },
    ],
    default: 'allow',
  },
];

const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await startAdminTestServer({ clock: () => now });
  // History under no policies: everything allowed.
  ids.a1 = await check('stripe.issue_refund', 10, 'a');
  ids.a2 = await check('stripe.issue_refund', 20, 'a');
  ids.b1 = await check('stripe.issue_refund', 30, 'b');
  ids.lookup = await check('crm.lookup', 1, 'a');
  ids.a3 = await check('stripe.issue_refund', 40, 'a');
  // Two hours on: the agent's hour is empty again; session a's count is not.
  now += 2 * 60 * minute;
  ids.b2 = await check('stripe.issue_refund', 50, 'b');
  ids.a4 = await check('stripe.issue_refund', 60, 'a');
  ids.none = await check('stripe.issue_refund', 70, null);
  now += minute;
});

afterAll(async () => {
  await t.close();
});

async function simulate(body: Record<string, unknown>) {
  const response = await t.admin('POST', `${base()}/simulate/history`, {
    as: 'viewer',
    body: { policies: draft, ...body },
  });
  expect(response.status, response.text).toBe(200);
  return response.json as Record<string, any>;
}

const flipped = (json: Record<string, any>) =>
  Object.fromEntries(
    (json.flips as any[]).map((flip) => [
      Object.entries(ids).find(([, id]) => id === flip.action_id)?.[0],
      [flip.draft.decision, flip.draft.reason],
    ]),
  );

describe('the simulation replays memory in order', () => {
  it('decides each past call with the counts as they were then', async () => {
    const json = await simulate({ since: 'all' });
    expect(json).toMatchObject({ total: 8, evaluated: 8 });
    expect(flipped(json)).toEqual({
      // The agent's 4th refund within the hour; then session a's 4th (b's 2nd is allowed, and
      // two hours later the agent's hour is empty again).
      a3: ['block', 'rule_matched'],
      a4: ['requires_approval', 'rule_matched'],
      // No session: session.calls cannot be known, so on_error (block) decides.
      none: ['block', 'condition_error'],
    });
    // a3 was the agent's 4th refund within the hour (a1, a2, b1 before it).
    const a3 = (json.flips as any[]).find((flip) => flip.action_id === ids.a3);
    expect(a3.draft.rule_index).toBe(0);
  });

  it('counts calls before the window and of other tools, evaluating only the window', async () => {
    const json = await simulate({
      from: new Date(now - 10 * minute).toISOString(),
      tool: 'stripe.*',
    });
    // b2, a4 and the call without a session are in the window; a4 is held for the calls of its
    // session before the window.
    expect(json).toMatchObject({ total: 3, evaluated: 3 });
    expect(flipped(json)).toEqual({
      a4: ['requires_approval', 'rule_matched'],
      none: ['block', 'condition_error'],
    });
  });
});

describe('the simulation replays spend in order', () => {
  // Spend rules on exports: what the session (or the agent, in the last hour) had spent on
  // models when each past export was made.
  const spendDraft = [
    {
      name: 'exports after spend',
      tool: 'crm.export',
      rules: [
        { if: 'session.tokens >= 3000', then: 'block' },
        { if: 'session.cost_usd > 0.0', then: 'requires_approval' },
        { if: 'agent.cost_usd(duration("1h")) > 0.0', then: 'requires_approval' },
      ],
      default: 'allow',
    },
  ];
  const spent: Record<string, string> = {};

  async function usage(model: string, prompt: number, completion: number, session: string) {
    now += minute;
    const response = await t.request('POST', '/token-usage', {
      key: t.testKey,
      body: {
        model,
        prompt_tokens: prompt,
        completion_tokens: completion,
        session_id: session,
      },
    });
    expect(response.status, response.text).toBe(200);
  }

  beforeAll(async () => {
    now += 3 * 60 * minute;
    spent.c1 = await check('crm.export', 1, 'c');
    await usage('gpt-4o-mini', 1000, 500, 'c');
    spent.c2 = await check('crm.export', 2, 'c');
    spent.d1 = await check('crm.export', 3, 'd');
    await usage('gpt-4o', 2000, 100, 'c');
    spent.c3 = await check('crm.export', 4, 'c');
    // Two hours on: the agent's last hour has no spend; session c still has its own.
    now += 2 * 60 * minute;
    spent.d2 = await check('crm.export', 5, 'd');
    spent.c4 = await check('crm.export', 6, 'c');
    now += minute;
  });

  it('decides each past call with what had been spent by then', async () => {
    const response = await t.admin('POST', `${base()}/simulate/history`, {
      as: 'viewer',
      body: { policies: spendDraft, since: 'all', tool: 'crm.export' },
    });
    expect(response.status, response.text).toBe(200);
    const json = response.json as Record<string, any>;
    expect(json).toMatchObject({ total: 6, evaluated: 6 });
    const flips = Object.fromEntries(
      (json.flips as any[]).map((flip) => [
        Object.entries(spent).find(([, id]) => id === flip.action_id)?.[0],
        [flip.draft.decision, flip.draft.rule_index],
      ]),
    );
    expect(flips).toEqual({
      // c1 came before any spend, d2 when the agent's last hour had none and session d none.
      // c2: session c had spent (1 500 tokens); d1: its session nothing, the agent's hour some.
      c2: ['requires_approval', 1],
      d1: ['requires_approval', 2],
      // c3 and c4: session c at 3 600 tokens.
      c3: ['block', 0],
      c4: ['block', 0],
    });
  });
});
