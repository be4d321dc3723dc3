import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { parseFlipKind, parseSince } from './simulation';

// The simulation over real history, on SQLite and PostgreSQL: against the current set and the
// log, by kind, filtered by tool, sampled, as JSON and as NDJSON lines.

let t: AdminTestServer;

const current = [
  { name: 'crm', tool: 'crm.*', action: 'allow' },
  {
    name: 'refunds',
    tool: 'stripe.issue_refund',
    rules: [{ if: 'args.amount <= 50', then: 'allow' }],
    default: 'requires_approval',
  },
  { name: 'no-drops', tool: 'db.drop_table', action: 'block' },
];

// Refunds up to 100 allowed; above, blocked instead of held.
const draft = current.map((policy) =>
  policy.name === 'refunds'
    ? { ...policy, rules: [{ if: 'args.amount <= 100', then: 'allow' }], default: 'block' }
    : policy,
);

async function check(tool: string, kwargs: Record<string, unknown> = {}) {
  const response = await t.request('POST', '/policy/check', {
    key: t.testKey,
    body: { tool_name: tool, args: [], kwargs, metadata: {} },
  });
  expect(response.status).toBe(200);
}

const base = () => `/api/v1/agents/${t.agent.id}/policies/test`;

beforeAll(async () => {
  t = await startAdminTestServer();
  // History under no policies (the agent's default: allow), then the current set is saved.
  await check('stripe.issue_refund', { amount: 20 });
  await check('stripe.issue_refund', { amount: 500 });
  await check('stripe.issue_refund', { amount: 80 });
  await check('db.drop_table', { table: 'users' });
  await check('crm.lookup', { id: 7 });
  const put = await t.admin('PUT', base(), { body: { policies: current } });
  expect(put.status).toBe(200);
});

afterAll(async () => {
  await t.close();
});

describe('simulation over history', () => {
  it('compares the draft with the current set and with the log, and counts flips by kind', async () => {
    const response = await t.admin('POST', `${base()}/simulate/history`, {
      as: 'viewer',
      body: { policies: draft, since: 'all' },
    });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      agent_id: t.agent.id,
      environment: 'test',
      from: null,
      total: 5,
      evaluated: 5,
      sampled: false,
      // The change itself: 500 was held and would be blocked; 80 was held and would be allowed.
      vs_current: {
        changed: 2,
        kinds: { 'requires_approval->block': 1, 'requires_approval->allow': 1 },
      },
      // Against the log (all allowed then): 500 and the drop would be blocked.
      vs_logged: { changed: 2, kinds: { 'allow->block': 2 } },
      flips_truncated: false,
    });
    const flips = response.json.flips as any[];
    expect(flips.map((flip) => [flip.tool_name, flip.vs_current, flip.vs_logged])).toEqual([
      ['stripe.issue_refund', 'requires_approval->block', 'allow->block'],
      ['stripe.issue_refund', 'requires_approval->allow', null],
      ['db.drop_table', null, 'allow->block'],
    ]);
    expect(flips[0]).toMatchObject({
      logged: 'allow',
      current: { decision: 'requires_approval', policy: 'refunds' },
      draft: { decision: 'block', policy: 'refunds' },
    });
  });

  it('filters by tool, samples evenly, and lists at most max_flips', async () => {
    const byTool = await t.admin('POST', `${base()}/simulate/history`, {
      body: { policies: draft, since: '30d', tool: 'stripe.*' },
    });
    expect(byTool.json).toMatchObject({ tool: 'stripe.*', total: 3, evaluated: 3 });
    expect(byTool.json.vs_logged).toEqual({ changed: 1, kinds: { 'allow->block': 1 } });

    const sampled = await t.admin('POST', `${base()}/simulate/history`, {
      body: { policies: draft, since: 'all', sample: 2, max_flips: 1 },
    });
    expect(sampled.json).toMatchObject({ total: 5, evaluated: 2, sampled: true });
    expect(sampled.json.flips.length).toBeLessThanOrEqual(1);

    const listed = await t.admin('POST', `${base()}/simulate/history`, {
      body: { policies: draft, since: 'all', max_flips: 1 },
    });
    expect(listed.json.flips).toHaveLength(1);
    expect(listed.json.flips_truncated).toBe(true);

    const future = await t.admin('POST', `${base()}/simulate/history`, {
      body: {
        policies: draft,
        from: new Date(Date.now() + 3_600_000).toISOString(),
        to: new Date(Date.now() + 7_200_000).toISOString(),
      },
    });
    expect(future.json).toMatchObject({ total: 0, evaluated: 0, vs_current: { changed: 0 } });
  });

  it('streams start, progress, flips and the summary as NDJSON', async () => {
    const response = await t.admin('POST', `${base()}/simulate/history`, {
      body: { policies: draft, since: 'all' },
      headers: { accept: 'application/x-ndjson' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = response.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ type: 'start', total: 5 });
    expect(lines.filter((line) => line.type === 'flip')).toHaveLength(3);
    expect(lines.some((line) => line.type === 'progress' && line.scanned === 5)).toBe(true);
    expect(lines.at(-1)).toMatchObject({
      type: 'summary',
      evaluated: 5,
      flips_listed: 3,
      vs_current: { changed: 2 },
    });
  });

  it('refuses a bad window or a bad draft with a JSON 400 that says what to send', async () => {
    const since = await t.admin('POST', `${base()}/simulate/history`, {
      body: { policies: draft, since: 'last tuesday' },
    });
    expect(since.status).toBe(400);
    expect(since.json).toMatchObject({ field: 'since' });
    expect(since.json.error).toMatch(/30d/);
    const backwards = await t.admin('POST', `${base()}/simulate/history`, {
      body: { policies: draft, from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' },
    });
    expect(backwards.status).toBe(400);
    const broken = await t.admin('POST', `${base()}/simulate/history`, {
      body: { policies: [{ name: 'x', tool: 'a', rules: [{ if: 'args.(', then: 'allow' }] }] },
    });
    expect(broken.status).toBe(400);
  });
});

describe('flip kinds and durations', () => {
  it('parses kinds in either arrow and "held" for requires_approval', () => {
    expect(parseFlipKind('allow->block')).toBe('allow->block');
    expect(parseFlipKind(' held → block ')).toBe('requires_approval->block');
    expect(parseFlipKind('allow->allow')).toBeUndefined();
    expect(parseFlipKind('allow->maybe')).toBeUndefined();
  });

  it('reads 30d, 12h, all and ISO times', () => {
    const now = Date.parse('2026-12-06T00:00:00Z');
    expect(parseSince('30d', now)).toBe(now - 30 * 86_400_000);
    expect(parseSince('12h', now)).toBe(now - 12 * 3_600_000);
    expect(parseSince('all', now)).toBeUndefined();
    expect(parseSince('2026-12-01T00:00:00Z', now)).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(() => parseSince('soon', now)).toThrow(/30d/);
  });
});
