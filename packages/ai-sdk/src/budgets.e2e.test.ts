import { BudgetExceededError, configure, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ardenUsageMiddleware } from './index';
import { generatingModel, streamingModel } from './test-helpers';

// Budgets through the AI SDK's middleware against a real Arden server: each model call is
// reserved before it runs (refused over budget, the model never called) and settled by its usage.
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ mode: 'in-process' });
  configure({
    apiKey: t.key,
    apiUrl: t.url,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
  });
  // Tokens: the mock model is not in the pricing table (a dollar budget would refuse it).
  await t.server.budgets.create({
    agentId: t.agentId,
    environment: t.environment,
    scope: 'session',
    name: 'Run cap',
    limitTokens: 1500,
  });
});

afterAll(async () => {
  await flush();
  uninstallAdapters();
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

describe('AI SDK budgets against a real Arden server', () => {
  test('a model call over budget is refused before the model runs, with budget, spent and reserved', async () => {
    const inner = generatingModel({ text: 'hello' });
    const model = wrapLanguageModel({ model: inner, middleware: ardenUsageMiddleware() });
    await withSession('ai-budget-1', async () => {
      const first = await generateText({ model, prompt: 'go', maxOutputTokens: 1000 });
      expect(first.text).toBe('hello');
      await flush();
      // The first call's usage (21 + 9 tokens) settled its reservation of ~1 000 tokens.
      const [reservation] = await settled('ai-budget-1');
      expect(reservation).toMatchObject({ status: 'settled', actualTokens: 30 });
      const refused = await generateText({ model, prompt: 'go', maxOutputTokens: 2000 }).catch(
        (error: unknown) => error,
      );
      expect(BudgetExceededError.isInstance(refused)).toBe(true);
      const error = refused as BudgetExceededError;
      expect(error.budget).toMatchObject({ name: 'Run cap', scope: 'session', limitTokens: 1500 });
      expect(error.spent.tokens).toBe(30);
      expect(error.reserved.tokens).toBe(0);
      expect(error.estimated.tokens).toBeGreaterThan(2000);
    });
    expect(inner.doGenerateCalls).toHaveLength(1);
  });

  test('a streamed call is settled with its final usage', async () => {
    const model = wrapLanguageModel({
      model: streamingModel({ text: 'streamed answer' }),
      middleware: ardenUsageMiddleware(),
    });
    await withSession('ai-budget-stream', async () => {
      const result = streamText({ model, prompt: 'go', maxOutputTokens: 500 });
      expect(await result.text).toBe('streamed answer');
    });
    await flush();
    const [reservation] = await settled('ai-budget-stream');
    expect(reservation).toMatchObject({ status: 'settled', actualTokens: 30, kind: 'model' });
    expect(reservation?.tokens).toBeGreaterThanOrEqual(500);
    const [standing] = await t.server.budgets.standings(
      t.agentId,
      t.environment,
      'ai-budget-stream',
    );
    expect(standing?.counter).toMatchObject({ spentTokens: 30, reservedTokens: 0 });
  });
});
