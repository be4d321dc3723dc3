// Several replicas in this process sharing one PostgreSQL schema (each with its own pool and
// LISTEN connection, as separate processes would have): long-poll wake-ups, the fallback
// re-check, live events for dashboards, expiry and decisions racing across replicas. The same
// properties across real processes are in src/scale-out.postgres.test.ts.
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { ServerConfig } from '../config';
import { openEvents } from '../test-fixtures/sse';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

async function replicas(count: number, config: ServerConfig = {}): Promise<AdminTestServer[]> {
  const first = await startAdminTestServer({ workers: false, ...config });
  servers.push(first);
  await first.server.agents.updateAgent(first.agent.id, { defaultAction: 'requires_approval' });
  const all = [first];
  for (let index = 1; index < count; index++) {
    const next = await startAdminTestServer({
      workers: false,
      ...config,
      databaseUrl: first.databaseUrl,
    });
    servers.push(next);
    all.push(next);
  }
  return all;
}

async function hold(t: AdminTestServer, key = t.liveKey, tool = 'payments.pay'): Promise<string> {
  const response = await t.request('POST', '/policy/check', {
    key,
    body: { tool_name: tool, kwargs: { amount: 1 } },
  });
  expect(response.json.status).toBe('pending');
  return response.json.action_id;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

describe('replicas on PostgreSQL (in one process)', () => {
  test('a decision on replica A wakes the agent long-polling on replica B by notification, not by the re-check', async () => {
    const [a, b] = (await replicas(2)) as [AdminTestServer, AdminTestServer];
    const latencies: number[] = [];
    for (let round = 0; round < 20; round++) {
      const id = await hold(a);
      const waiting = b
        .request('GET', `/status/${id}?wait=20`, { key: a.liveKey })
        .then((response) => ({ response, at: performance.now() }));
      await waitFor(() => b.server.hub.waiting === 1);
      const decided = performance.now();
      await a.server.approvals.decide(id, { decision: 'approve', userId: 'alice', notes: 'A' });
      const { response, at } = await waiting;
      expect(response.json).toMatchObject({ status: 'approved', message: 'A' });
      latencies.push(at - decided);
    }
    console.info(
      `cross-replica wake-up (in-process): p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
    // The whole path: NOTIFY, B's LISTEN connection, the hub, the HTTP answer — well under the
    // 2 s re-check that would otherwise wake it (p95 360 ms was seen at load 30 on 2 cores). The
    // time itself is a goal of bench/ (approval-latency: across two replicas, p99 ≤ 50 ms), not
    // of this test.
    expect(percentile(latencies, 95)).toBeLessThan(1_000);
  });

  test('a lost notification only delays the wake-up: the waiting replica re-checks', async () => {
    const [a, b] = (await replicas(2, { replicas: { recheckMs: 200 } })) as [
      AdminTestServer,
      AdminTestServer,
    ];
    const id = await hold(a);
    const waiting = b.request('GET', `/status/${id}?wait=20`, { key: a.liveKey });
    await waitFor(() => b.server.hub.waiting === 1);
    // Decided without any notification (as if it was lost on the way).
    const decidedAt = Date.now();
    await a.server.store.actions.decide(
      id,
      { status: 'denied', decidedBy: 'bob', notes: 'silent' },
      decidedAt,
    );
    const response = await waiting;
    expect(response.json).toMatchObject({ status: 'denied', message: 'silent' });
    expect(Date.now() - decidedAt).toBeLessThan(1_500);
  });

  test('live events of every replica reach a dashboard connected to another', async () => {
    const [a, b] = (await replicas(2, { replicas: { viewerHeartbeatMs: 200 } })) as [
      AdminTestServer,
      AdminTestServer,
    ];
    const dashboard = await openEvents(b.url, b.tokens.viewer);
    try {
      // A hears that B has a viewer (its first heartbeat goes at once).
      await new Promise((resolve) => setTimeout(resolve, 300));
      const id = await hold(a);
      const created = await dashboard.waitFor(
        (event) => event.event === 'action.created' && event.data.action_id === id,
      );
      expect(created.data.action).toMatchObject({ status: 'pending', kwargs: { amount: 1 } });
      await a.admin('POST', `/api/v1/approvals/${id}/approve`, { body: { notes: 'from A' } });
      const decided = await dashboard.waitFor(
        (event) => event.event === 'action.decided' && event.data.action_id === id,
      );
      expect(decided.data.action).toMatchObject({ status: 'approved', notes: 'from A' });
      // A counted vote that needs another ("1 of 2") reaches it too.
      await a.server.policies.saveSet(a.agent.id, 'live', [
        { name: 'Two', tool: 'payout', action: 'requires_approval', approvals: 2 },
      ]);
      const two = await hold(a, a.liveKey, 'payout');
      await a.admin('POST', `/api/v1/approvals/${two}/approve`, { body: {} });
      const voted = await dashboard.waitFor(
        (event) => event.event === 'action.voted' && event.data.action_id === two,
      );
      expect(voted.data.action).toMatchObject({
        status: 'pending',
        approval: { required: 2, approved: 1, votes: [{ user: a.emails.admin }] },
      });
      await a.request('POST', '/token-usage', {
        body: { model: 'gpt-4o', prompt_tokens: 10, completion_tokens: 5, session_id: 's' },
      });
      const usage = await dashboard.waitFor(
        (event) => event.event === 'usage.recorded' && event.data.usage[0]?.model === 'gpt-4o',
      );
      expect(usage.data.usage[0]).toMatchObject({ model: 'gpt-4o', total_tokens: 15 });
      // Events are not echoed back: each arrives once.
      expect(dashboard.events.filter((event) => event.event === 'action.created').length).toBe(2);
      expect(dashboard.events.filter((event) => event.event === 'action.voted').length).toBe(1);

      // The MCP page's events: a gateway's report and a trust change on A, an HTTP upstream
      // added and removed on A (its origin and header names, never its secrets).
      await a.request('POST', '/v1/mcp/tools', {
        body: { server: 'files', transport: 'stdio', tools: [{ name: 'read_file' }] },
      });
      const reported = await dashboard.waitFor((event) => event.event === 'mcp.tools_reported');
      expect(reported.data).toMatchObject({
        agent_id: a.agent.id,
        mcp_upstream: { name: 'files', transport: 'stdio', tool_count: 1, trusted: false },
      });
      const upstreamId = reported.data.mcp_upstream.id;
      await a.admin('PATCH', `/api/v1/mcp/upstreams/${upstreamId}`, { body: { trusted: true } });
      const trusted = await dashboard.waitFor((event) => event.event === 'mcp.trust_changed');
      expect(trusted.data.mcp_upstream).toMatchObject({ id: upstreamId, trusted: true });
      const added = await a.admin('POST', '/api/v1/mcp/http-upstreams', {
        body: { name: 'remote', url: 'http://127.0.0.1:9/secret-path', bearer_token: 'tok-123' },
      });
      expect(added.status).toBe(201);
      const addedEvent = await dashboard.waitFor(
        (event) => event.event === 'mcp.http_upstream_added',
      );
      expect(addedEvent.data.mcp_http_upstream).toEqual(added.json);
      const changed = await a.admin('PATCH', '/api/v1/mcp/http-upstreams/remote', {
        body: { show_blocked_tools: true },
      });
      const changedEvent = await dashboard.waitFor(
        (event) => event.event === 'mcp.http_upstream_changed',
      );
      expect(changedEvent.data.mcp_http_upstream).toEqual(changed.json);
      expect(changedEvent.data.mcp_http_upstream.show_blocked_tools).toBe(true);
      await a.admin('DELETE', '/api/v1/mcp/http-upstreams/remote');
      await dashboard.waitFor((event) => event.event === 'mcp.http_upstream_removed');
      await a.admin('DELETE', `/api/v1/mcp/upstreams/${upstreamId}`);
      const deleted = await dashboard.waitFor((event) => event.event === 'mcp.upstream_deleted');
      expect(deleted.data.mcp_upstream).toMatchObject({ id: upstreamId, name: 'files' });
      expect(JSON.stringify(dashboard.events)).not.toMatch(/secret-path|tok-123/);
    } finally {
      await dashboard.close();
    }
  });

  test('usage written on three replicas at once: daily and session totals exact, no deadlock', async () => {
    const all = await replicas(3);
    const [a] = all as [AdminTestServer];
    const models = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash'];
    const answers = await Promise.all(
      all.flatMap((replica, r) =>
        Array.from({ length: 20 }, (_, n) =>
          replica.request('POST', '/token-usage', {
            key: a.liveKey,
            body: {
              // Every batch touches the same daily totals, in a different order.
              // And the same session totals: three sessions and none.
              events: Array.from({ length: 12 }, (_, index) => ({
                model: models[(index + n + r) % models.length],
                prompt_tokens: 10,
                completion_tokens: 1,
                ...(index % 4 === 3 ? {} : { session_id: `s-${(index + n) % 3}` }),
              })),
            },
          }),
        ),
      ),
    );
    for (const answer of answers) expect(answer.status, answer.text).toBe(200);
    const fast = await a.server.store.usage.aggregate('model', { agentId: a.agent.id });
    const slow = await a.server.store.usage.aggregateRaw('model', { agentId: a.agent.id });
    expect(fast.map((group) => [group.key, group.events, group.totalTokens]).sort()).toEqual(
      slow.map((group) => [group.key, group.events, group.totalTokens]).sort(),
    );
    expect(fast.reduce((sum, group) => sum + group.events, 0)).toBe(3 * 20 * 12);
    const whole = { agentId: a.agent.id, from: 0, to: Date.now() + 2 * 86_400_000 };
    const bySession = await a.server.store.usage.aggregate('session', whole);
    const bySessionRaw = await a.server.store.usage.aggregateRaw('session', whole);
    const view = (groups: typeof bySession) =>
      groups.map((group) => [group.key, group.events, group.totalTokens]).sort();
    expect(view(bySession)).toEqual(view(bySessionRaw));
    expect(bySession.find((group) => group.key === null)?.events).toBe(3 * 20 * 3);
  });

  test('expiry on three replicas at once: each action expires once, with one webhook', async () => {
    // 150 agents held at once, all from this one address: more than the default per-address
    // connection cap (an eighth of the total), which is not what this test is about.
    // The replicas' clock, moved past the 1 s approval window instead of waiting it out.
    let skewMs = 0;
    const all = await replicas(3, {
      maxConnectionsPerAddress: 0,
      clock: () => Date.now() + skewMs,
    });
    const [a] = all as [AdminTestServer];
    await a.server.agents.updateAgent(a.agent.id, { webhookUrl: 'http://127.0.0.1:9/never' });
    await a.server.policies.saveSet(a.agent.id, 'live', [
      { name: 'Quick', tool: 'payments.*', action: 'requires_approval', timeout: 1 },
    ]);
    const decided: string[] = [];
    for (const replica of all) {
      replica.server.events.subscribe((event) => {
        if (event.type === 'action.decided') decided.push(event.action.id);
      });
    }
    const ids = await Promise.all(Array.from({ length: 150 }, () => hold(a)));
    skewMs = 1_100;
    const swept = await Promise.all(all.map((replica) => replica.server.approvals.sweep()));
    expect(swept.reduce((sum, count) => sum + count, 0)).toBe(150);
    for (const id of ids) {
      expect((await a.server.store.actions.get(id))?.status).toBe('expired');
      expect((await a.server.store.webhooks.list({ actionId: id })).items).toHaveLength(1);
    }
    expect(decided.sort()).toEqual([...ids].sort());
  });

  test('approve, deny and expire racing on three replicas: one terminal state, one webhook', async () => {
    const all = await replicas(3);
    const [a] = all as [AdminTestServer];
    await a.server.agents.updateAgent(a.agent.id, { webhookUrl: 'http://127.0.0.1:9/never' });
    await a.server.policies.saveSet(a.agent.id, 'live', [
      { name: 'Quick', tool: 'payments.*', action: 'requires_approval', timeout: 1 },
    ]);
    for (let round = 0; round < 10; round++) {
      const id = await hold(a);
      // Every other round, race at the moment of expiry; else well before it.
      if (round % 2 === 0) {
        const action = await a.server.store.actions.get(id);
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, (action?.expiresAt as number) - Date.now())),
        );
      }
      const outcomes = await Promise.allSettled(
        all.flatMap((replica, index) => [
          replica.server.approvals.decide(id, { decision: 'approve', userId: `a${index}` }),
          replica.server.approvals.decide(id, { decision: 'deny', userId: `d${index}` }),
          replica.server.approvals.sweep(),
          replica.server.approvals.expire(id),
        ]),
      );
      const decisions = outcomes.filter(
        (outcome, index) => index % 4 < 2 && outcome.status === 'fulfilled',
      );
      const final = await a.server.store.actions.get(id);
      expect(['approved', 'denied', 'expired']).toContain(final?.status);
      expect(decisions.length).toBe(final?.status === 'expired' ? 0 : 1);
      const deliveries = (await a.server.store.webhooks.list({ actionId: id })).items;
      expect(deliveries).toHaveLength(1);
      expect(JSON.parse(deliveries[0]?.payload ?? '{}').event_type).toBe(
        final?.status === 'approved' ? 'action_approved' : 'action_denied',
      );
    }
  });
});
