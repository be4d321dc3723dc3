// Budgets through LangChain's chat models against a real Arden server: each call is reserved
// before it runs (refused over budget) and settled by its usage, streamed calls included. Read
// back through the agent API only (runs on Node 20 too).
import {
  BudgetExceededError,
  configure,
  flush,
  getArden,
  uninstallAdapters,
  withSession,
} from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import './index';
import { answer, StreamingFakeModel, scriptedModel } from './test-helpers';

let t: TestServer;

beforeAll(async () => {
  // Tokens: the fake model is not in the pricing table. Calls without maxTokens reserve 4 096.
  t = await startTestServer({
    budgets: [{ scope: 'session', name: 'Run cap', limitTokens: 5000 }],
  });
  configure({
    apiKey: t.key,
    apiUrl: t.url,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
  });
});

afterAll(async () => {
  await flush();
  uninstallAdapters();
  await t.close();
});

/** The session budget's spent and reserved tokens, once exactly `reserved` is held. */
async function standing(session: string, reserved = 0) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const probe = await getArden().checkModelCall({
      model: 'probe',
      estimatedInputTokens: 0,
      maxOutputTokens: 0,
      sessionId: session,
    });
    const budget = probe.budgets[0];
    if ((budget && budget.reserved_tokens === reserved) || Date.now() > deadline) return budget;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('LangChain budgets against a real Arden server', () => {
  test('a chat model call over budget is refused before it runs, with budget, spent and reserved', async () => {
    await withSession('lc-budget-1', async () => {
      const model = scriptedModel(answer('first'), answer('never'));
      await model.invoke('hi');
      await flush();
      // Its usage (12 + 7) settled the reservation of 4 096+ tokens.
      expect(await standing('lc-budget-1')).toMatchObject({ spent_tokens: 19, reserved_tokens: 0 });
      // Another call in flight holds 1 000 tokens.
      await getArden().checkModelCall({
        model: 'other',
        estimatedInputTokens: 0,
        maxOutputTokens: 1000,
      });
      const refused = await model.invoke('hi again').catch((error: unknown) => error);
      expect(BudgetExceededError.isInstance(refused)).toBe(true);
      expect(refused).toMatchObject({
        budget: { name: 'Run cap', limitTokens: 5000 },
        spent: { tokens: 19 },
        reserved: { tokens: 1000 },
      });
    });
  });

  test('a streamed call is settled with its final usage', async () => {
    const model = new StreamingFakeModel().respond(answer('streamed'));
    for await (const _chunk of await withSession('lc-budget-stream', () => model.stream('hi'))) {
      // drain
    }
    await flush();
    expect(await standing('lc-budget-stream')).toMatchObject({
      spent_tokens: 19,
      reserved_tokens: 0,
    });
  });
});
