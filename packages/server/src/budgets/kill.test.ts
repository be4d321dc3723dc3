import { rmSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { kill9, startChildServer } from '../test-fixtures/child-process';
import { startTestServer } from '../test-fixtures/harness';

// "A crash loses no counted call" (issue #17), with a real kill -9: the server runs as a child
// process, counts a session's calls for a `session.calls` rule and holds a budget reservation; it
// is killed with SIGKILL right after its last answer, and a server restarted on the same store
// (SQLite, and PostgreSQL in the postgres project) still counts every call it acknowledged and
// still holds the reservation (unexpired: reservations live 10 minutes by default).

describe('memory and budgets across a kill -9', { timeout: 120_000 }, () => {
  test('the restarted server counts every acknowledged call and keeps the reservation', async () => {
    const setup = await startTestServer({}, { keepData: true, listen: false });
    const { dataDir, databaseUrl, liveKey } = setup;
    await setup.server.policies.saveSet(setup.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'refund',
        rules: [{ if: 'session.calls("refund") >= 3', then: 'block' }],
        default: 'allow',
        refuse_repeats: false,
      },
    ]);
    // gpt-4o: 1 000 + 1 000 tokens reserve $0.0125; a second one does not fit in $0.02.
    const budget = await setup.server.budgets.create({
      agentId: setup.agent.id,
      environment: 'live',
      scope: 'session',
      limitUsd: 0.02,
      name: 'Run cap',
    });
    await setup.server.close();

    const post = async (url: string, path: string, body: unknown) => {
      const response = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'x-api-key': liveKey, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, any>;
    };
    const refund = (amount: number) => ({
      tool_name: 'refund',
      kwargs: { amount },
      metadata: { session_id: 'run-1' },
    });
    const modelCall = {
      model: 'gpt-4o',
      estimated_input_tokens: 1000,
      max_output_tokens: 1000,
      session_id: 'run-1',
    };

    const config = { databaseUrl };
    let { child, url } = await startChildServer(dataDir, config);
    try {
      const reserved = await post(url, '/v1/model-calls/check', modelCall);
      expect(reserved).toMatchObject({ decision: 'allow', reason: 'reserved' });
      expect((await post(url, '/policy/check', refund(1))).decision).toBe('allow');
      expect((await post(url, '/policy/check', refund(2))).decision).toBe('allow');
      const third = await post(url, '/policy/check', refund(3));
      // Killed the moment the third call is answered: no graceful close, no flush.
      await kill9(child);
      expect(third.decision).toBe('allow');

      ({ child, url } = await startChildServer(dataDir, config));
      // Every acknowledged call is counted: the next one is over the limit.
      const fourth = await post(url, '/policy/check', refund(4));
      expect(fourth).toMatchObject({ decision: 'block', policy: { name: 'Refunds' } });
      // The reservation is still held: a second model call does not fit beside it.
      const refused = await post(url, '/v1/model-calls/check', modelCall);
      expect(refused).toMatchObject({
        decision: 'refuse',
        reason: 'budget_exceeded',
        budget: { id: budget.id, reserved_usd: 0.0125, spent_usd: 0 },
      });
      // Its usage record still settles it after the crash.
      await post(url, '/token-usage', {
        model: 'gpt-4o',
        prompt_tokens: 400,
        completion_tokens: 100,
        session_id: 'run-1',
        reservation_id: reserved.reservation_id,
      });
      expect(await post(url, '/v1/model-calls/check', modelCall)).toMatchObject({
        decision: 'allow',
        budgets: [{ id: budget.id, spent_usd: 0.002, reserved_usd: 0.0125 }],
      });
    } finally {
      await kill9(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
