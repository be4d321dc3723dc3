// Budgets through LangChain's chat models against a real Arden server: each call is reserved
// before it runs (refused over budget) and settled by its usage, streamed calls included.
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
  t = await startTestServer({ mode: 'in-process' });
  // Tokens: the fake model is not in the pricing table. Calls without maxTokens reserve 4 096.
  await t.server.budgets.create({
    agentId: t.agentId,
    environment: t.environment,
    scope: 'session',
    name: 'Run cap',
    limitTokens: 5000,
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

async function settled(session: string) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const list = await t.server.budgets.repository.reservations({ sessionId: session });
    const open = list.filter((reservation) => reservation.status === 'reserved');
    if (open.length <= 1 || Date.now() > deadline) return list;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('LangChain budgets against a real Arden server', () => {
  test('a chat model call over budget is refused before it runs, with budget, spent and reserved', async () => {
    await withSession('lc-budget-1', async () => {
      const model = scriptedModel(answer('first'), answer('never'));
      await model.invoke('hi');
      await flush();
      // Another call in flight holds 1 000 tokens.
      const held = await getArden().checkModelCall({
        model: 'other',
        estimatedInputTokens: 0,
        maxOutputTokens: 1000,
      });
      const list = await settled('lc-budget-1');
      expect(list.find((reservation) => reservation.id !== held.reservationId)).toMatchObject({
        status: 'settled',
        actualTokens: 19,
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
    const deadline = Date.now() + 5_000;
    let list = await t.server.budgets.repository.reservations({ sessionId: 'lc-budget-stream' });
    while (list[0]?.status === 'reserved' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      list = await t.server.budgets.repository.reservations({ sessionId: 'lc-budget-stream' });
    }
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ status: 'settled', actualTokens: 19 });
  });
});
