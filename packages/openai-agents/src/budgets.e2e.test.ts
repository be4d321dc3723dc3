// Budgets through the OpenAI Agents SDK against a real Arden server: every model call of a run
// is reserved before it runs (refused over budget: the model is never asked) and settled by its
// usage, streamed runs included.
import { BudgetExceededError, configure, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { Agent, run } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install, uninstall } from './index';
import { scriptedToolModel } from './test-helpers';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ mode: 'in-process' });
  await t.server.budgets.create({
    agentId: t.agentId,
    environment: t.environment,
    scope: 'session',
    name: 'Run cap',
    limitTokens: 3000,
  });
  configure({
    apiKey: t.key,
    apiUrl: t.url,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
  });
  install({});
});

afterAll(async () => {
  await flush();
  uninstallAdapters();
  uninstall();
  await t.close();
});

async function settled(session: string) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const list = await t.server.budgets.repository.reservations({ sessionId: session });
    if (list.every((reservation) => reservation.status !== 'reserved') || Date.now() > deadline) {
      return list;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const agent = (maxTokens: number, model = scriptedToolModel({ name: 'gpt-4o-mini', calls: [] })) =>
  new Agent({ name: 'support', model, modelSettings: { maxTokens } });

describe('OpenAI Agents budgets against a real Arden server', () => {
  it('refuses a model call over budget before the model runs, with budget, spent and reserved', async () => {
    await withSession('agents-budget-1', async () => {
      await run(agent(1000), 'go');
      await flush();
      const [first] = await settled('agents-budget-1');
      expect(first).toMatchObject({ status: 'settled', actualTokens: 120, subject: 'gpt-4o-mini' });
      const model = scriptedToolModel({ name: 'gpt-4o-mini', calls: [] });
      const refused = await run(agent(5000, model), 'go').catch((error: unknown) => error);
      expect(BudgetExceededError.isInstance(refused)).toBe(true);
      expect(refused).toMatchObject({
        budget: { name: 'Run cap', limitTokens: 3000 },
        spent: { tokens: 120 },
        reserved: { tokens: 0 },
      });
      expect(model.requests).toHaveLength(0);
    });
  });

  it('settles a streamed call with its final usage', async () => {
    await withSession('agents-budget-stream', async () => {
      const stream = await run(agent(800), 'go', { stream: true });
      for await (const _event of stream) {
        // drain
      }
      await stream.completed;
    });
    await flush();
    const [reservation] = await settled('agents-budget-stream');
    expect(reservation).toMatchObject({ status: 'settled', actualTokens: 120 });
    expect(reservation?.tokens).toBeGreaterThanOrEqual(800);
  });
});
