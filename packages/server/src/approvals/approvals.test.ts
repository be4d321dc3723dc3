import { afterEach, describe, expect, test } from 'vitest';
import { liveEventView } from '../admin/serialize';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { UserAdministration } from '../users/service';

// Approve with edit, two-person approval and in-app decisions, through the agent API and the
// admin API of one server (SQLite and PostgreSQL).

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

const refunds = {
  name: 'Refunds',
  tool: 'refund',
  rules: [
    { if: 'args.amount > 1000', then: 'block' as const },
    {
      if: 'args.amount > 100',
      then: 'requires_approval' as const,
      approvals: 2,
      from: ['finance'],
      exclude_requester: true,
    },
    { if: 'args.amount > 10', then: 'requires_approval' as const },
  ],
  default: 'allow' as const,
};
const payouts = {
  name: 'Payouts',
  tool: 'payout',
  action: 'requires_approval' as const,
  approvals: 2,
  from: ['finance'],
  exclude_owner: true,
};
const inApp = {
  name: 'Email',
  tool: 'send_email',
  action: 'requires_approval' as const,
  approve_in: ['dashboard' as const, 'app' as const],
};

async function start(): Promise<AdminTestServer & { approvers: Record<string, string> }> {
  const t = await startAdminTestServer({ workers: false } as never, { listen: false });
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', [refunds, payouts, inApp]);
  const users = new UserAdministration(t.server.store, Date.now, {
    insecureTestPasswordHashing: true,
  });
  const approvers: Record<string, string> = {};
  for (const name of ['ann', 'bob', 'cat', 'dan']) {
    const { user } = await users.createUser({
      email: `${name}@example.com`,
      role: 'approver',
      password: 'correct horse battery staple',
    });
    approvers[name] = (await users.createToken(user.id, 'test')).token;
    if (name !== 'dan') {
      const groups = await t.admin('PUT', `/api/v1/users/${user.id}/groups`, {
        body: { groups: ['finance'] },
      });
      expect(groups.status).toBe(200);
    }
  }
  return Object.assign(t, { approvers });
}

async function check(
  t: AdminTestServer,
  tool: string,
  kwargs: Record<string, unknown>,
  metadata: Record<string, unknown> | null = null,
) {
  const response = await t.request('POST', '/policy/check', {
    body: { tool_name: tool, args: [], kwargs, metadata },
  });
  expect(response.status).toBe(200);
  return response.json as { action_id: string; decision: string; status: string };
}

function as(t: AdminTestServer & { approvers: Record<string, string> }, who: string) {
  return (path: string, body: unknown = {}) =>
    t.admin('POST', path, {
      as: null,
      body,
      headers: { authorization: `Bearer ${t.approvers[who]}` },
    });
}

const edits = { headers: { 'x-arden-capabilities': 'edits' } };

describe('approve with edit', () => {
  test('an edit the policies allow approves the edited call; core clients get it, ardenpy a denial', async () => {
    const t = await start();
    const held = await check(t, 'refund', { amount: 50, order: 'o-1' });
    expect(held.status).toBe('pending');
    const approved = await as(t, 'dan')(`/api/v1/approvals/${held.action_id}/approve`, {
      patch: [{ op: 'replace', path: '/amount', value: 5 }],
      notes: 'five is enough',
    });
    expect(approved.status).toBe(200);
    expect(approved.json.status).toBe('approved');
    expect(approved.json.kwargs_json).toBe('{"amount": 50, "order": "o-1"}'.replace(/ /g, ''));
    const [edit] = approved.json.approval.edits;
    expect(edit).toMatchObject({
      user: 'dan@example.com',
      before_json: '{"amount":50,"order":"o-1"}',
      after_json: '{"amount":5,"order":"o-1"}',
      effect: 'allow',
    });
    expect(edit.patch).toEqual([{ op: 'replace', path: '/amount', value: 5 }]);
    expect(approved.json.approval.decided_in).toBe('dashboard');

    const forCore = await t.request('GET', `/status/${held.action_id}`, edits);
    expect(forCore.json).toMatchObject({
      status: 'approved',
      edited: { kwargs: { amount: 5, order: 'o-1' }, edited_by: 'dan@example.com' },
    });
    expect(forCore.json.message).toContain('amount: 50 → 5');
    const forArdenpy = await t.request('GET', `/status/${held.action_id}`);
    expect(forArdenpy.json.status).toBe('denied');
    expect(forArdenpy.json.message).toContain('The approver required changes');
    expect(forArdenpy.json.edited).toBeUndefined();
    // An outcome can be reported: the edited call ran.
    const result = await t.request('POST', `/v1/actions/${held.action_id}/result`, {
      body: { status: 'succeeded', duration_ms: 3 },
    });
    expect(result.status).toBe(200);
  });

  test('a long-poll woken by an approval with edit answers what its client can take', async () => {
    const t = await start();
    const held = await check(t, 'refund', { amount: 50 });
    const core = t.request('GET', `/status/${held.action_id}?wait=20`, edits);
    const ardenpy = t.request('GET', `/status/${held.action_id}?wait=20`);
    while (t.server.hub.waiting < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    await as(t, 'dan')(`/api/v1/approvals/${held.action_id}/approve`, { kwargs: { amount: 5 } });
    expect((await core).json).toMatchObject({
      status: 'approved',
      edited: { kwargs: { amount: 5 } },
    });
    expect((await ardenpy).json.status).toBe('denied');
  });

  test('an edit the policies block is refused and the action stays pending', async () => {
    const t = await start();
    const held = await check(t, 'refund', { amount: 50 });
    const refused = await as(t, 'dan')(`/api/v1/approvals/${held.action_id}/approve`, {
      patch: [{ op: 'replace', path: '/amount', value: 4000 }],
    });
    expect(refused.status).toBe(409);
    expect(refused.json.error).toContain('would be blocked');
    expect(refused.json.error).toContain('rule 1');
    const action = await t.admin('GET', `/api/v1/actions/${held.action_id}`);
    expect(action.json.status).toBe('pending');
    expect(action.json.approval.edits).toEqual([]);
  });

  test('an edit into a held call needs a further approval, from the groups of the edited call', async () => {
    const t = await start();
    const held = await check(t, 'refund', { amount: 50 });
    const first = await as(t, 'ann')(`/api/v1/approvals/${held.action_id}/approve`, {
      patch: [{ op: 'replace', path: '/amount', value: 400 }],
    });
    expect(first.status).toBe(200);
    expect(first.json.status).toBe('pending');
    expect(first.json.approval).toMatchObject({ required: 2, approved: 1, from: ['finance'] });
    expect((await t.request('GET', `/status/${held.action_id}`, edits)).json.status).toBe(
      'pending',
    );
    // Not the editor again; not someone outside finance.
    expect((await as(t, 'ann')(`/api/v1/approvals/${held.action_id}/approve`)).status).toBe(409);
    expect((await as(t, 'dan')(`/api/v1/approvals/${held.action_id}/approve`)).status).toBe(403);
    const second = await as(t, 'bob')(`/api/v1/approvals/${held.action_id}/approve`);
    expect(second.json.status).toBe('approved');
    const status = await t.request('GET', `/status/${held.action_id}`, edits);
    expect(status.json.edited.kwargs).toEqual({ amount: 400 });
  });

  test('bad patches get a 400 naming the operation', async () => {
    const t = await start();
    const held = await check(t, 'refund', { amount: 50 });
    const approve = as(t, 'dan');
    const missing = await approve(`/api/v1/approvals/${held.action_id}/approve`, {
      patch: [{ op: 'replace', path: '/nope', value: 1 }],
    });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toContain('no value at /nope');
    const failedTest = await approve(`/api/v1/approvals/${held.action_id}/approve`, {
      patch: [
        { op: 'test', path: '/amount', value: 49 },
        { op: 'replace', path: '/amount', value: 5 },
      ],
    });
    expect(failedTest.status).toBe(400);
    expect(failedTest.json.error).toContain('test failed');
    const proto = await approve(`/api/v1/approvals/${held.action_id}/approve`, {
      patch: [{ op: 'add', path: '/__proto__', value: { polluted: true } }],
    });
    expect(proto.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('two people', () => {
  test('two distinct finance approvers approve; the requester and outsiders may not', async () => {
    const t = await start();
    const held = await check(t, 'refund', { amount: 500 }, { requested_by: 'cat@example.com' });
    const path = `/api/v1/approvals/${held.action_id}/approve`;
    const outsider = await as(t, 'dan')(path);
    expect(outsider.status).toBe(403);
    expect(outsider.json.error).toContain('finance');
    const requester = await as(t, 'cat')(path);
    expect(requester.status).toBe(403);
    expect(requester.json.error).toContain('requested_by');
    const one = await as(t, 'ann')(path, { notes: 'ok by me' });
    expect(one.json.status).toBe('pending');
    expect(one.json.approval).toMatchObject({ required: 2, approved: 1 });
    expect(one.json.approval.votes).toMatchObject([{ user: 'ann@example.com', notes: 'ok by me' }]);
    const again = await as(t, 'ann')(path);
    expect(again.status).toBe(409);
    expect(again.json.error).toContain('distinct users');
    const listed = await t.admin('GET', '/api/v1/approvals');
    expect(listed.json.items[0].approval).toMatchObject({ required: 2, approved: 1 });
    const two = await as(t, 'bob')(path);
    expect(two.json.status).toBe('approved');
    expect(two.json.approval.votes.map((vote: { user: string }) => vote.user)).toEqual([
      'ann@example.com',
      'bob@example.com',
    ]);
    expect((await t.request('GET', `/status/${held.action_id}`)).json.status).toBe('approved');
  });

  test("two approvers, the agent's owner excluded (exclude_owner); the owner may approve other policies' calls", async () => {
    const t = await start();
    const agentPath = `/api/v1/agents/${t.agent.id}`;
    const unknown = await t.admin('PATCH', agentPath, { body: { owner: 'nobody@example.com' } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toContain('nobody@example.com');
    // Approvers may not change the owner; admins may, by email or id.
    const byApprover = await t.admin('PATCH', agentPath, {
      as: 'approver',
      body: { owner: 'ann@example.com' },
    });
    expect(byApprover.status).toBe(403);
    const owned = await t.admin('PATCH', agentPath, { body: { owner: 'CAT@example.com' } });
    expect(owned.status, owned.text).toBe(200);
    const cat = await t.server.store.users.getByEmail('cat@example.com');
    expect(owned.json.owner_user_id).toBe(cat?.id);

    const events: { type: string; action?: { approval: unknown; status: string } }[] = [];
    t.server.events.subscribe((event) => {
      if (event.type === 'action.voted' || event.type === 'action.decided') {
        events.push(liveEventView(event, Date.now()) as never);
      }
    });
    const held = await check(t, 'payout', { amount: 500 });
    const path = `/api/v1/approvals/${held.action_id}/approve`;
    const owner = await as(t, 'cat')(path);
    expect(owner.status).toBe(403);
    expect(owner.json.error).toBe(
      `cat@example.com owns agent ${t.agent.name}, and the policy excludes the agent's owner from deciding action ${held.action_id} (exclude_owner); a member of "finance" other than the owner (0 of 2 approvals so far) must decide.`,
    );
    const one = await as(t, 'ann')(path);
    expect(one.json.status).toBe('pending');
    expect(one.json.approval).toMatchObject({ required: 2, approved: 1, exclude_owner: true });
    // Dashboards hear of the counted vote: "1 of 2", by whom.
    expect(events).toMatchObject([
      {
        type: 'action.voted',
        action: {
          status: 'pending',
          approval: { required: 2, approved: 1, votes: [{ user: 'ann@example.com' }] },
        },
      },
    ]);
    const stillOwner = await as(t, 'cat')(path);
    expect(stillOwner.status).toBe(403);
    expect(stillOwner.json.error).toContain('(1 of 2 approvals so far)');
    // The owner may not deny either.
    expect((await as(t, 'cat')(`/api/v1/approvals/${held.action_id}/deny`)).status).toBe(403);
    const two = await as(t, 'bob')(path);
    expect(two.json.status).toBe('approved');
    expect(two.json.approval.votes.map((vote: { user: string }) => vote.user)).toEqual([
      'ann@example.com',
      'bob@example.com',
    ]);
    expect(events.map((event) => [event.type, event.action?.status])).toEqual([
      ['action.voted', 'pending'],
      ['action.decided', 'approved'],
    ]);

    // A policy without exclude_owner: the owner is an approver like any other.
    const refund = await check(t, 'refund', { amount: 50 });
    const byOwner = await as(t, 'cat')(`/api/v1/approvals/${refund.action_id}/approve`);
    expect(byOwner.json.status).toBe('approved');

    // Without an owner, nobody is excluded.
    expect((await t.admin('PATCH', agentPath, { body: { owner: null } })).json.owner_user_id).toBe(
      null,
    );
    const later = await check(t, 'payout', { amount: 5 });
    const catVotes = await as(t, 'cat')(`/api/v1/approvals/${later.action_id}/approve`);
    expect(catVotes.status).toBe(200);
    expect(catVotes.json.approval).toMatchObject({ approved: 1 });
  });

  test('the first denial denies', async () => {
    const t = await start();
    const held = await check(t, 'refund', { amount: 500 });
    const path = (verb: string) => `/api/v1/approvals/${held.action_id}/${verb}`;
    expect((await as(t, 'ann')(path('approve'))).json.status).toBe('pending');
    const denied = await as(t, 'bob')(path('deny'), { notes: 'no' });
    expect(denied.json.status).toBe('denied');
    expect((await as(t, 'cat')(path('approve'))).status).toBe(409);
  });
});

describe('in-app decisions', () => {
  test('an app records its end user approval when the policy allows it', async () => {
    const t = await start();
    const held = await check(t, 'send_email', { to: 'x@example.com' });
    const decided = await t.request('POST', `/v1/actions/${held.action_id}/decision`, {
      body: { decision: 'approve', user: 'enduser@customer.example', notes: 'clicked Approve' },
    });
    expect(decided.status).toBe(200);
    expect(decided.json).toMatchObject({
      status: 'approved',
      decided_in: 'app',
      decided_by_user: 'enduser@customer.example',
    });
    const action = await t.admin('GET', `/api/v1/actions/${held.action_id}`);
    expect(action.json.decided_by).toBeNull();
    expect(action.json.approval).toMatchObject({
      decided_in: 'app',
      decided_by_user: 'enduser@customer.example',
      votes: [{ channel: 'app', user: 'enduser@customer.example', user_id: null }],
    });
    const twice = await t.request('POST', `/v1/actions/${held.action_id}/decision`, {
      body: { decision: 'deny', user: 'someone' },
    });
    expect(twice.status).toBe(409);
  });

  test('refused when the policy does not allow it, and for another key', async () => {
    const t = await start();
    const held = await check(t, 'refund', { amount: 50 });
    const refused = await t.request('POST', `/v1/actions/${held.action_id}/decision`, {
      body: { decision: 'approve', user: 'u@example.com' },
    });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toContain('approve_in');
    const email = await check(t, 'send_email', {});
    const otherKey = await t.request('POST', `/v1/actions/${email.action_id}/decision`, {
      key: t.testKey,
      body: { decision: 'approve', user: 'u@example.com' },
    });
    expect(otherKey.status).toBe(404);
    const noUser = await t.request('POST', `/v1/actions/${email.action_id}/decision`, {
      body: { decision: 'approve' },
    });
    expect(noUser.status).toBe(400);
    expect(noUser.json.field).toBe('user');
  });
});

describe('webhooks of an approval with edit', () => {
  test('context is the approved (edited) call; edited names what it replaced', async () => {
    const { webhookBody } = await import('../webhooks/service');
    const t = await start();
    const held = await check(t, 'refund', { amount: 50 });
    await as(t, 'dan')(`/api/v1/approvals/${held.action_id}/approve`, { kwargs: { amount: 5 } });
    const action = await t.server.store.actions.get(held.action_id);
    const body = JSON.parse(webhookBody(action!, { adminUserId: 'x', notes: null }, Date.now()));
    expect(body.event_type).toBe('action_approved');
    expect(body.action.context).toEqual({ amount: 5 });
    expect(body.edited).toMatchObject({
      original_context: { amount: 50 },
      edited_by: 'dan@example.com',
    });
  });
});
