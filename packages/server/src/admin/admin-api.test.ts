import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from './test-support';

let t: AdminTestServer;

const refundPolicies = [
  { name: 'crm', tool: 'crm.*', action: 'allow' },
  {
    name: 'refunds',
    tool: 'stripe.issue_refund',
    rules: [{ if: 'args.amount <= 50', then: 'allow' }],
    default: 'requires_approval',
  },
  { name: 'no-drops', tool: 'db.drop_table', action: 'block' },
];

beforeAll(async () => {
  t = await startAdminTestServer();
});

afterAll(async () => {
  await t.close();
});

async function check(
  tool: string,
  kwargs: Record<string, unknown> = {},
  session?: string,
  key?: string,
) {
  const response = await t.request('POST', '/policy/check', {
    key,
    body: { tool_name: tool, args: [], kwargs, metadata: session ? { session_id: session } : {} },
  });
  expect(response.status).toBe(200);
  return response.json as { action_id: string; decision: string; status: string };
}

/** Reads Server-Sent Events until `until` says stop. */
async function readEvents(
  response: Response,
  until: (events: { id?: string; event?: string; data?: any }[]) => boolean,
  timeoutMs = 5_000,
) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { id?: string; event?: string; data?: any }[] = [];
  let buffer = '';
  const deadline = Date.now() + timeoutMs;
  while (!until(events)) {
    if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(events)}`);
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: { id?: string; event?: string; data?: any } = {};
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('event: ')) event.event = line.slice(7);
        else if (line.startsWith('data: ')) event.data = JSON.parse(line.slice(6));
      }
      if (event.event) events.push(event);
      end = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}

describe('agents and keys', () => {
  it('shows the signing key and new keys once, then only prefixes', async () => {
    const created = await t.admin('POST', '/api/v1/agents', {
      body: {
        name: 'billing-bot',
        default_action: 'block',
        webhook_url: 'https://hooks.example.com/arden',
        create_keys: ['test'],
      },
    });
    expect(created.status).toBe(201);
    const signingKey = created.json.signing_key as string;
    const testKey = created.json.keys[0].key as string;
    expect(signingKey).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(testKey).toMatch(/^arden_test_[0-9a-f]{32}$/);
    expect(created.json.agent).toMatchObject({
      name: 'billing-bot',
      default_action: 'block',
      webhook_url: 'https://hooks.example.com/arden',
      signing_key_prefix: `${signingKey.slice(0, 10)}…`,
    });
    const agentId = created.json.agent.id as string;

    for (const path of [
      `/api/v1/agents/${agentId}`,
      '/api/v1/agents/billing-bot',
      '/api/v1/agents',
      `/api/v1/agents/${agentId}/keys?include_revoked=true`,
    ]) {
      const response = await t.admin('GET', path);
      expect(response.status).toBe(200);
      expect(response.text).not.toContain(signingKey);
      expect(response.text).not.toContain(testKey);
    }
    const detail = await t.admin('GET', '/api/v1/agents/billing-bot');
    expect(detail.json.keys).toEqual([
      expect.objectContaining({ environment: 'test', prefix: `${testKey.slice(0, 15)}…` }),
    ]);

    const live = await t.admin('POST', `/api/v1/agents/${agentId}/keys`, {
      body: { environment: 'live', name: 'production' },
    });
    expect(live.status).toBe(201);
    expect(live.json.key).toMatch(/^arden_live_/);

    // Rotate: a new key works, the old one is refused at once.
    const oldKeyId = detail.json.keys[0].id;
    const rotated = await t.admin('POST', `/api/v1/agents/${agentId}/keys/${oldKeyId}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.json.revoked_key_id).toBe(oldKeyId);
    const oldCheck = await t.request('POST', '/policy/check', {
      key: testKey,
      body: { tool_name: 'x' },
    });
    expect(oldCheck.status).toBe(401);
    const newCheck = await t.request('POST', '/policy/check', {
      key: rotated.json.key,
      body: { tool_name: 'x' },
    });
    expect(newCheck.status).toBe(200);
    expect(newCheck.json.decision).toBe('block');

    const revoked = await t.admin(
      'POST',
      `/api/v1/agents/${agentId}/keys/${rotated.json.api_key.id}/revoke`,
    );
    expect(revoked.json.revoked_at).not.toBeNull();
    expect(
      (
        await t.request('POST', '/policy/check', {
          key: rotated.json.key,
          body: { tool_name: 'x' },
        })
      ).status,
    ).toBe(401);
    // A key of another agent is not found under this one.
    const foreign = await t.admin('POST', `/api/v1/agents/${t.agent.id}/keys/${oldKeyId}/revoke`);
    expect(foreign.status).toBe(404);

    const rotatedSigning = await t.admin('POST', `/api/v1/agents/${agentId}/signing-key/rotate`);
    expect(rotatedSigning.json.signing_key).toMatch(/^whsec_/);
    expect(rotatedSigning.json.signing_key).not.toBe(signingKey);
    expect((await t.admin('GET', `/api/v1/agents/${agentId}`)).text).not.toContain(
      rotatedSigning.json.signing_key,
    );

    const updated = await t.admin('PATCH', `/api/v1/agents/${agentId}`, {
      body: { default_action: 'allow', webhook_url: null },
    });
    expect(updated.json).toMatchObject({ default_action: 'allow', webhook_url: null });
  });

  it('says what is wrong with a bad body', async () => {
    const bad = await t.admin('POST', '/api/v1/agents', { body: { name: 42 } });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe('name');
    expect(bad.json.error).toMatch(/name: /);
    const duplicate = await t.admin('POST', '/api/v1/agents', { body: { name: 'billing-bot' } });
    expect(duplicate.status).toBe(409);
    const notJson = await t.admin('POST', '/api/v1/agents', {
      body: undefined,
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.status).toBe(400);
    const unknownRoute = await t.admin('GET', '/api/v1/nothing-here');
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.json.error).toMatch(/openapi\.json/);
  });
});

describe('policies', () => {
  it('puts a set as a version, lists versions, simulates, diffs and rolls back', async () => {
    const base = `/api/v1/agents/${t.agent.id}/policies/test`;
    expect((await t.admin('GET', base)).json).toMatchObject({ version: 0, policies: [] });

    // Some history to simulate against, under the empty set (agent default: allow).
    await check('stripe.issue_refund', { amount: 20 }, undefined, t.testKey);
    await check('stripe.issue_refund', { amount: 500 }, undefined, t.testKey);
    await check('db.drop_table', { table: 'users' }, undefined, t.testKey);

    const put = await t.admin('PUT', base, {
      body: { policies: refundPolicies, message: 'first rules' },
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      version: 1,
      message: 'first rules',
      created_by_email: 'admin@example.com',
      diff: { added: ['crm', 'refunds', 'no-drops'], removed: [], changed: [] },
    });
    const current = await t.admin('GET', base, { as: 'viewer' });
    expect(current.json.version).toBe(1);
    expect(current.json.policies.map((policy: { name: string }) => policy.name)).toEqual([
      'crm',
      'refunds',
      'no-drops',
    ]);

    const draft = refundPolicies.map((policy) =>
      policy.name === 'refunds'
        ? { ...policy, rules: [{ if: 'args.amount <= 100', then: 'allow' }] }
        : policy,
    );
    const simulated = await t.admin('POST', `${base}/simulate`, {
      as: 'viewer',
      body: { policies: draft, limit: 10 },
    });
    expect(simulated.status).toBe(200);
    expect(simulated.json.evaluated).toBe(3);
    const byTool = Object.fromEntries(
      simulated.json.items.map((item: any) => [
        `${item.tool_name}`,
        { old: item.old.decision, new: item.new.decision, changed: item.changed },
      ]),
    );
    expect(byTool['db.drop_table']).toEqual({ old: 'allow', new: 'block', changed: true });
    expect(simulated.json.changed).toBe(
      simulated.json.items.filter((item: any) => item.changed).length,
    );
    const refundItems = simulated.json.items.filter(
      (item: any) => item.tool_name === 'stripe.issue_refund',
    );
    expect(refundItems.map((item: any) => item.new.decision).sort()).toEqual([
      'allow',
      'requires_approval',
    ]);

    const diff = await t.admin('POST', `${base}/diff`, { body: { policies: draft } });
    expect(diff.json).toMatchObject({
      current_version: 1,
      has_changes: true,
      changed: [{ name: 'refunds' }],
    });
    expect(diff.json.text).toContain('args.amount <= 100');

    const second = await t.admin('PUT', base, { body: { policies: draft } });
    expect(second.json).toMatchObject({ version: 2, diff: { changed: ['refunds'] } });
    const versions = await t.admin('GET', `${base}/versions?limit=1`);
    expect(versions.json.items.map((version: any) => version.version)).toEqual([2]);
    expect(versions.json.next_cursor).toBe('2');
    const older = await t.admin('GET', `${base}/versions?before=2`);
    expect(older.json.items.map((version: any) => version.version)).toEqual([1]);
    expect((await t.admin('GET', `${base}/versions/1`)).json.policies).toHaveLength(3);
    expect((await t.admin('GET', `${base}/versions/9`)).status).toBe(404);

    const rollback = await t.admin('POST', `${base}/rollback`, { body: { version: 1 } });
    expect(rollback.json).toMatchObject({ version: 3, message: 'Rolled back to version 1' });
    expect(
      (await check('stripe.issue_refund', { amount: 80 }, undefined, t.testKey)).decision,
    ).toBe('requires_approval');
    // The live environment is separate.
    expect((await t.admin('GET', `/api/v1/agents/${t.agent.id}/policies/live`)).json.version).toBe(
      0,
    );
  });

  it('refuses a set that does not compile, with line and column inside the condition', async () => {
    const base = `/api/v1/agents/${t.agent.id}/policies/live`;
    const bad = [
      {
        name: 'refunds',
        tool: 'stripe.issue_refund',
        rules: [{ if: 'args.amount <= 50 &&', then: 'allow' }],
      },
      { name: 'oops', tool: 'x', action: 'maybe' },
    ];
    const put = await t.admin('PUT', base, { body: { policies: bad } });
    expect(put.status).toBe(400);
    expect(put.json.error).toMatch(/do not compile/);
    const condition = put.json.issues.find((issue: any) => issue.policy === 'refunds');
    expect(condition).toMatchObject({ path: [0, 'rules', 0, 'if'], line: 1 });
    expect(condition.column).toBeGreaterThan(1);
    expect(put.json.issues.some((issue: any) => issue.policy === 'oops')).toBe(true);
    expect((await t.admin('GET', base)).json.version).toBe(0);

    const validate = await t.admin('POST', `${base}/validate`, {
      as: 'viewer',
      body: { policies: bad },
    });
    expect(validate.status).toBe(200);
    expect(validate.json.valid).toBe(false);
    expect(validate.json.issues.length).toBeGreaterThanOrEqual(2);
    const good = await t.admin('POST', `${base}/validate`, { body: { policies: refundPolicies } });
    expect(good.json).toEqual({ valid: true, issues: [] });
    const simulate = await t.admin('POST', `${base}/simulate`, { body: { policies: bad } });
    expect(simulate.status).toBe(400);
    expect(simulate.json.issues.length).toBeGreaterThanOrEqual(2);
  });
});

describe('actions, approvals and live events', () => {
  it('streams action.created and action.decided; approve wins once, a second decision gets 409', async () => {
    await t.admin('PUT', `/api/v1/agents/${t.agent.id}/policies/live`, {
      body: { policies: refundPolicies },
    });
    const stream = await fetch(`${t.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${t.tokens.viewer}` },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);

    const held = await check('stripe.issue_refund', { amount: 120 }, 'session-approve');
    expect(held.decision).toBe('requires_approval');
    const denied = await check('stripe.issue_refund', { amount: 130 }, 'session-approve');

    const pending = await t.admin('GET', '/api/v1/approvals?agent=test-agent', { as: 'viewer' });
    const pendingIds = pending.json.items.map((item: any) => item.id);
    expect(pendingIds).toEqual(expect.arrayContaining([held.action_id, denied.action_id]));
    expect(pendingIds.indexOf(held.action_id)).toBeLessThan(pendingIds.indexOf(denied.action_id));
    expect(pending.json.items[0].waiting_ms).toBeGreaterThanOrEqual(0);

    const approve = await t.admin('POST', `/api/v1/approvals/${held.action_id}/approve`, {
      as: 'approver',
      body: { notes: 'customer is right' },
    });
    expect(approve.status).toBe(200);
    expect(approve.json).toMatchObject({ status: 'approved', notes: 'customer is right' });
    const again = await t.admin('POST', `/api/v1/approvals/${held.action_id}/deny`, {
      as: 'approver',
    });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/already approved/);
    const deny = await t.admin('POST', `/api/v1/approvals/${denied.action_id}/deny`);
    expect(deny.json.status).toBe('denied');
    const agentStatus = await t.request('GET', `/status/${held.action_id}`);
    expect(agentStatus.json).toMatchObject({ status: 'approved', message: 'customer is right' });

    const events = await readEvents(stream, (seen) =>
      seen.some(
        (event) => event.event === 'action.decided' && event.data.action_id === denied.action_id,
      ),
    );
    const created = events.find(
      (event) => event.event === 'action.created' && event.data.action_id === held.action_id,
    );
    expect(created?.data.action).toMatchObject({
      tool_name: 'stripe.issue_refund',
      status: 'pending',
      kwargs: { amount: 120 },
    });
    const decided = events.find(
      (event) => event.event === 'action.decided' && event.data.action_id === held.action_id,
    );
    expect(decided?.data.action).toMatchObject({ status: 'approved' });
    expect(decided?.id).toMatch(/^[0-9a-f]+-\d+$/);

    // Resume after the first event: everything after it is replayed.
    const resumed = await fetch(`${t.url}/api/v1/events?types=action.decided`, {
      headers: {
        authorization: `Bearer ${t.tokens.viewer}`,
        'last-event-id': created?.id as string,
      },
    });
    const replayed = await readEvents(resumed, (seen) => seen.length >= 2);
    expect(replayed.map((event) => event.event)).toEqual(['action.decided', 'action.decided']);
    const stale = await fetch(`${t.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${t.tokens.viewer}`, 'last-event-id': 'abc-1' },
    });
    expect((await readEvents(stale, (seen) => seen.length >= 1))[0]?.event).toBe('reset');

    const detail = await t.admin('GET', `/api/v1/actions/${held.action_id}`, { as: 'viewer' });
    expect(detail.json).toMatchObject({
      id: held.action_id,
      agent_name: 'test-agent',
      decision: 'requires_approval',
      status: 'approved',
      decided_by_email: 'approver@example.com',
      notes: 'customer is right',
      policy: { name: 'refunds', tool: 'stripe.issue_refund', rule_index: -1 },
      deliveries: [],
    });
    expect(detail.json.explanation).toEqual(expect.any(String));
  });

  it('filters the action log and pages with a cursor', async () => {
    for (let index = 0; index < 5; index++) await check('crm.lookup', { index }, 'session-page');
    const first = await t.admin('GET', '/api/v1/actions?tool=crm.*&limit=2&environment=live');
    expect(first.json.items).toHaveLength(2);
    expect(first.json.next_cursor).toEqual(expect.any(String));
    const second = await t.admin(
      'GET',
      `/api/v1/actions?tool=crm.*&limit=2&environment=live&cursor=${first.json.next_cursor}`,
    );
    expect(second.json.items[0].kwargs.index).toBeLessThan(first.json.items[1].kwargs.index);
    const blocked = await t.admin('GET', '/api/v1/actions?decision=block&agent=test-agent');
    expect(blocked.json.items.every((item: any) => item.decision === 'block')).toBe(true);
    const statuses = await t.admin('GET', '/api/v1/actions?status=approved,denied');
    expect(statuses.json.items.length).toBeGreaterThanOrEqual(2);
    const bySession = await t.admin('GET', '/api/v1/actions?session=session-page');
    expect(bySession.json.items).toHaveLength(5);
    const future = await t.admin('GET', `/api/v1/actions?from=${Date.now() + 60_000}`);
    expect(future.json).toEqual({ items: [], next_cursor: null });
    const badStatus = await t.admin('GET', '/api/v1/actions?status=sleeping');
    expect(badStatus.status).toBe(400);
    expect(badStatus.json.field).toBe('status');
    const badTime = await t.admin('GET', '/api/v1/actions?from=yesterday');
    expect(badTime.status).toBe(400);
    const unknownAgent = await t.admin('GET', '/api/v1/actions?agent=nobody');
    expect(unknownAgent.status).toBe(404);
  });

  it('shows a session as a timeline with the running cost, and usage by model, day, session and agent', async () => {
    await check('crm.lookup', { id: 1 }, 'session-cost');
    const usage = await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o-mini',
        prompt_tokens: 1000,
        completion_tokens: 500,
        session_id: 'session-cost',
      },
    });
    expect(usage.status).toBe(200);
    await check('crm.update', { id: 1 }, 'session-cost');
    await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 2000,
        completion_tokens: 100,
        session_id: 'session-cost',
      },
    });

    const sessions = await t.admin('GET', '/api/v1/sessions?agent=test-agent');
    const summary = sessions.json.items.find((item: any) => item.session_id === 'session-cost');
    expect(summary).toMatchObject({ actions: 2, total_tokens: 3600 });

    const detail = await t.admin('GET', '/api/v1/sessions/session-cost', { as: 'viewer' });
    expect(detail.status).toBe(200);
    expect(detail.json.timeline.map((entry: any) => entry.kind)).toEqual([
      'action',
      'usage',
      'action',
      'usage',
    ]);
    const costs = detail.json.timeline.map((entry: any) => entry.running_cost_usd);
    expect(costs[0]).toBe(0);
    expect(costs[1]).toBeGreaterThan(0);
    expect(costs[3]).toBeGreaterThan(costs[1]);
    expect(detail.json.total_cost_usd).toBeCloseTo(costs[3]);
    expect(detail.json.total_tokens).toBe(3600);
    expect(detail.json.sessions[0]).toMatchObject({ actions: 2, total_tokens: 3600 });
    expect((await t.admin('GET', '/api/v1/sessions/no-such-session')).status).toBe(404);

    for (const groupBy of ['model', 'day', 'session', 'agent']) {
      const grouped = await t.admin('GET', `/api/v1/usage?group_by=${groupBy}`, { as: 'viewer' });
      expect(grouped.status).toBe(200);
      expect(grouped.json.group_by).toBe(groupBy);
      expect(grouped.json.totals.total_tokens).toBe(3600);
      expect(
        grouped.json.items.reduce((sum: number, item: any) => sum + item.total_tokens, 0),
      ).toBe(3600);
    }
    const byAgent = await t.admin('GET', '/api/v1/usage?group_by=agent');
    expect(byAgent.json.items[0]).toMatchObject({ key: t.agent.id, label: 'test-agent' });
    const ranged = await t.admin(
      'GET',
      `/api/v1/usage?from=${new Date(Date.now() + 3_600_000).toISOString()}`,
    );
    expect(ranged.json.totals.events).toBe(0);
  });

  it('lists webhook deliveries with their attempts and redelivers them', async () => {
    const received: string[] = [];
    const { createServer } = await import('node:http');
    const receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push(body);
        response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as { port: number }).port;
    try {
      await t.admin('PATCH', `/api/v1/agents/${t.agent.id}`, {
        body: { webhook_url: `http://127.0.0.1:${port}/hook` },
      });
      const held = await check('stripe.issue_refund', { amount: 999 });
      await t.admin('POST', `/api/v1/approvals/${held.action_id}/deny`, {
        body: { notes: 'no' },
      });
      let deliveries: any;
      for (let attempt = 0; attempt < 50; attempt++) {
        deliveries = await t.admin('GET', `/api/v1/agents/${t.agent.id}/deliveries`, {
          as: 'viewer',
        });
        if (deliveries.json.items[0]?.status === 'delivered') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const delivery = deliveries.json.items[0];
      expect(delivery).toMatchObject({
        action_id: held.action_id,
        event_type: 'action_denied',
        status: 'delivered',
        attempts: 1,
      });
      const detail = await t.admin('GET', `/api/v1/deliveries/${delivery.id}`);
      expect(detail.json.payload.event_type).toBe('action_denied');
      expect(detail.json.attempt_log).toEqual([
        expect.objectContaining({ attempt: 1, status_code: 200 }),
      ]);
      const actionDetail = await t.admin('GET', `/api/v1/actions/${held.action_id}`);
      expect(actionDetail.json.deliveries[0].attempt_log).toHaveLength(1);

      expect(
        (await t.admin('POST', `/api/v1/deliveries/${delivery.id}/redeliver`, { as: 'approver' }))
          .status,
      ).toBe(403);
      const redelivered = await t.admin('POST', `/api/v1/deliveries/${delivery.id}/redeliver`);
      expect(redelivered.status).toBe(200);
      for (let attempt = 0; attempt < 50 && received.length < 2; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(received).toHaveLength(2);
      expect(received[1]).toBe(received[0]);
    } finally {
      receiver.close();
      await t.admin('PATCH', `/api/v1/agents/${t.agent.id}`, { body: { webhook_url: null } });
    }
  });
});

describe('the dashboard', () => {
  it('serves a page saying the dashboard is not built, and JSON 404s to API clients', async () => {
    const bare = await startAdminTestServer({ admin: { dashboardDir: false } });
    try {
      const page = await fetch(`${bare.url}/approvals`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(await page.text()).toContain("dashboard isn't built");
      const root = await fetch(`${bare.url}/`);
      expect(root.status).toBe(200);
      const api = await fetch(`${bare.url}/nothing`, { headers: { accept: 'application/json' } });
      expect(api.status).toBe(404);
      expect(api.headers.get('content-type')).toMatch(/json/);
    } finally {
      await bare.close();
    }
  });

  it('serves built files and index.html for dashboard routes, and never files outside its directory', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const directory = mkdtempSync(join(tmpdir(), 'arden-dashboard-'));
    mkdirSync(join(directory, 'assets'));
    writeFileSync(join(directory, 'index.html'), '<!doctype html><title>dash</title>');
    writeFileSync(join(directory, 'assets', 'app-1234.js'), 'console.log(1)');
    const served = await startAdminTestServer({ admin: { dashboardDir: directory } });
    try {
      const asset = await fetch(`${served.url}/assets/app-1234.js`);
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
      expect(asset.headers.get('cache-control')).toContain('immutable');
      expect(await asset.text()).toBe('console.log(1)');
      const route = await fetch(`${served.url}/actions/123`, { headers: { accept: 'text/html' } });
      expect(await route.text()).toContain('<title>dash</title>');
      const traversal = await fetch(`${served.url}/assets/..%2f..%2f..%2fetc%2fpasswd`);
      expect(traversal.status).toBe(404);
      const missing = await fetch(`${served.url}/assets/missing.js`);
      expect(missing.status).toBe(404);
    } finally {
      await served.close();
    }
  });
});
