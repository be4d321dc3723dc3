// Budgets through the OpenAI Agents SDK against a real Arden server: every model call of a run
// is reserved before it runs (refused over budget: the model is never asked) and settled by its
// usage, streamed runs included. Read back through the agent API only (runs on Node 20 too).
import {
  BudgetExceededError,
  configure,
  flush,
  getArden,
  uninstallAdapters,
  withSession,
} from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { Agent, run } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { install, uninstall } from './index';
import { scriptedToolModel } from './test-helpers';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    budgets: [{ scope: 'session', name: 'Run cap', limitTokens: 3000 }],
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

/** The session budget's spent and reserved tokens, once nothing but `reserved` is held. */
async function standing(session: string, reserved = 0) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const probe = await getArden().checkModelCall({
      model: 'gpt-4o-mini',
      estimatedInputTokens: 0,
      maxOutputTokens: 0,
      sessionId: session,
    });
    const budget = probe.budgets[0];
    if ((budget && budget.reserved_tokens === reserved) || Date.now() > deadline) return budget;
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
      // The call's usage (100 + 20) settled its reservation of 1 000+ tokens.
      expect(await standing('agents-budget-1')).toMatchObject({
        spent_tokens: 120,
        reserved_tokens: 0,
      });
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
    expect(await standing('agents-budget-stream')).toMatchObject({
      spent_tokens: 120,
      reserved_tokens: 0,
    });
  });
});
