// agent.cost_usd(window) places usage by when the server received it (migration 21), not by the
// client's occurred_at: usage an agent sends backdated still counts in the window of now. Reports
// keep the client's time. Real server, both stores, under an injected clock.
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

const hour = 3_600_000;
let now = Date.UTC(2026, 11, 6, 12);
let t: AdminTestServer | undefined;

afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function check(server: AdminTestServer, session: string) {
  const response = await server.request('POST', '/policy/check', {
    body: { tool_name: 'search', kwargs: {}, metadata: { session_id: session } },
  });
  expect(response.status).toBe(200);
  return response.json.decision as string;
}

describe('agent.cost_usd(window) and backdated usage', () => {
  it('counts usage sent 2 h backdated in a 1 h window, from when it was received', async () => {
    now = Date.UTC(2026, 11, 6, 12);
    t = await startAdminTestServer({ workers: false, clock: () => now }, { listen: false });
    await t.server.policies.saveSet(t.agent.id, 'live', [
      {
        name: 'Search',
        tool: 'search',
        rules: [{ if: 'agent.cost_usd(duration("1h")) > 0.01', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    expect(await check(t, 's-1')).toBe('allow');
    // gpt-4o: $2.50 / $10 per million tokens: $0.0125, said to have happened 2 h ago.
    const occurredAt = now - 2 * hour;
    const response = await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1000,
        completion_tokens: 1000,
        session_id: 's-1',
        occurred_at: new Date(occurredAt).toISOString(),
      },
    });
    expect(response.status, response.text).toBe(200);
    expect(await check(t, 's-2')).toBe('block');
    expect(
      await t.server.memory.spendSoFar({
        agentId: t.agent.id,
        environment: 'live',
        windowMs: hour,
        now,
      }),
    ).toEqual({ costUsd: expect.closeTo(0.0125, 10), tokens: 2000 });
    // The window moves with the server's clock from the time it was received.
    now += hour;
    expect(await check(t, 's-3')).toBe('block');
    now += 1;
    expect(await check(t, 's-3')).toBe('allow');
    // Reports still place the usage when the client says it happened.
    const listed = await t.server.store.usage.list({ agentId: t.agent.id });
    expect(listed.items.map((usage) => usage.createdAt)).toEqual([occurredAt]);
  });

  it('the simulation replays backdated usage from when it was received, as the checks saw it', async () => {
    now = Date.UTC(2026, 11, 6, 12);
    t = await startAdminTestServer({ clock: () => now });
    const server = t;
    const exportCall = async () => {
      now += 60_000;
      const response = await server.request('POST', '/policy/check', {
        key: server.testKey,
        body: { tool_name: 'crm.export', kwargs: {}, metadata: { session_id: 'e' } },
      });
      expect(response.status).toBe(200);
      return response.json.action_id as string;
    };
    const before = await exportCall();
    now += 60_000;
    const response = await t.request('POST', '/token-usage', {
      key: t.testKey,
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1000,
        completion_tokens: 1000,
        session_id: 'e',
        occurred_at: new Date(now - 2 * hour).toISOString(),
      },
    });
    expect(response.status, response.text).toBe(200);
    const after = await exportCall();
    now += 60_000;
    const simulated = await t.admin(
      'POST',
      `/api/v1/agents/${t.agent.id}/policies/test/simulate/history`,
      {
        as: 'viewer',
        body: {
          policies: [
            {
              name: 'exports after spend',
              tool: 'crm.export',
              rules: [
                { if: 'session.cost_usd > 0.0', then: 'requires_approval' },
                { if: 'agent.cost_usd(duration("1h")) > 0.0', then: 'block' },
              ],
              default: 'allow',
            },
          ],
          since: 'all',
        },
      },
    );
    expect(simulated.status, simulated.text).toBe(200);
    const flips = (simulated.json.flips as { action_id: string }[]).map((flip) => flip.action_id);
    // The export made before the usage arrived saw none of it, though it is dated earlier.
    expect(flips).toEqual([after]);
    expect(flips).not.toContain(before);
  });

  it('places usage stored before migration 21 (no received_at) by its created_at', async () => {
    now = Date.UTC(2026, 11, 6, 12);
    t = await startAdminTestServer({ workers: false, clock: () => now }, { listen: false });
    const database = t.server.store.database;
    for (const [id, createdAt] of [
      ['old-in', now - hour / 2],
      ['old-out', now - 2 * hour],
    ] as const) {
      await database.run(
        `INSERT INTO usage (id, agent_id, environment, session_id, model, prompt_tokens,
           completion_tokens, cost_usd, rate_found, created_at)
         VALUES (?, ?, 'live', 's-1', 'gpt-4o', 0, 0, ?, 1, ?)`,
        [id, t.agent.id, id === 'old-in' ? 1 : 10, createdAt],
      );
    }
    const spend = await t.server.memory.spendSoFar({
      agentId: t.agent.id,
      environment: 'live',
      windowMs: hour,
      now,
    });
    expect(spend.costUsd).toBe(1);
  });
});
