import { configure, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { generateText, isStepCount, type ModelMessage, streamText, wrapLanguageModel } from 'ai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ardenToolApproval,
  ardenUsageMiddleware,
  guardTools,
  resolveArdenApprovals,
} from './index';
import { generatingModel, makeTools, responseModelId, streamingModel } from './test-helpers';

// The same scenarios as adapter.test.ts, against a real Arden server (embedded SQLite store).
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      { name: 'Never drop tables', tool: 'drop_table', action: 'block' },
      { name: 'Refunds need a human', tool: 'refund', action: 'requires_approval' },
    ],
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

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const usageOf = async (session: string) =>
  (await t.usage())
    .filter((event) => event.sessionId === session)
    .map((event) => [event.model, event.promptTokens, event.completionTokens]);

describe('AI SDK against a real Arden server', () => {
  test('allowed runs, blocked is refused and told to the model, the run continues; session and usage logged', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      {
        calls: [
          { name: 'search', input: { query: 'refunds' }, id: 'e1' },
          { name: 'drop_table', input: { table: 'users' }, id: 'e2' },
        ],
      },
      { text: 'Searched; not dropping.' },
    );
    const result = await withSession('ai-e2e-1', () =>
      generateText({ model, tools, prompt: 'go', stopWhen: isStepCount(3) }),
    );
    expect(ran).toEqual(['search']);
    expect(result.text).toBe('Searched; not dropping.');
    const error = result.steps[0]?.content.find((part) => part.type === 'tool-error') as
      | { error: Error }
      | undefined;
    expect(error?.error.message).toMatch(/Arden blocked this call to "drop_table" by policy/);
    expect(error?.error.message).not.toMatch(/\.\./);

    await flush();
    const actions = await eventually(
      () => t.actions(),
      (list) => list.find((action) => action.toolName === 'search')?.resultStatus === 'succeeded',
    );
    expect(
      actions
        .filter((action) => action.sessionId === 'ai-e2e-1')
        .map((action) => [action.toolName, action.decision, action.resultStatus]),
    ).toEqual([
      ['search', 'allow', 'succeeded'],
      ['drop_table', 'block', null],
    ]);
    expect(
      await eventually(
        () => usageOf('ai-e2e-1'),
        (list) => list.length >= 2,
      ),
    ).toEqual([
      [responseModelId, 21, 9],
      [responseModelId, 21, 9],
    ]);
  });

  test('a held call approved through the server runs once; a denied one does not', async () => {
    const { ran, tools } = makeTools();
    const approved = generateText({
      model: generatingModel(
        { calls: [{ name: 'refund', input: { amount: 30 }, id: 'e3' }] },
        { text: 'Refunded.' },
      ),
      tools,
      prompt: 'refund',
      stopWhen: isStepCount(3),
    });
    const held = await t.nextPending();
    expect(ran).toEqual([]);
    await t.approve(held.id, 'fine');
    expect((await approved).text).toBe('Refunded.');
    expect(ran).toEqual(['refund']);

    const denied = generateText({
      model: generatingModel(
        { calls: [{ name: 'refund', input: { amount: 5000 }, id: 'e4' }] },
        { text: 'Sorry.' },
      ),
      tools,
      prompt: 'refund',
      stopWhen: isStepCount(3),
    });
    await t.deny((await t.nextPending()).id, 'too much');
    expect((await denied).text).toBe('Sorry.');
    expect(ran).toEqual(['refund']);
  });

  test('native route: the held call becomes an SDK approval request; approved in Arden, it resumes and runs once', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 12 }, id: 'n1' }] },
      { text: 'Done.' },
    );
    const messages: ModelMessage[] = [{ role: 'user', content: 'refund 12' }];
    const pending = t.nextPending();
    const first = await generateText({
      model,
      tools,
      messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    const held = await pending;
    const request = first.content.find((part) => part.type === 'tool-approval-request') as
      | { reason?: string }
      | undefined;
    expect(request?.reason).toContain(`(Arden action ${held.id})`);
    expect(ran).toEqual([]);

    const history = [...messages, ...first.response.messages];
    expect((await resolveArdenApprovals(history)).pending).toHaveLength(1);
    await t.approve(held.id, 'approved in the dashboard');
    const resolved = await resolveArdenApprovals(history);
    expect(resolved.responses).toEqual([
      expect.objectContaining({ approved: true, reason: 'approved in the dashboard' }),
    ]);
    const second = await generateText({
      model,
      tools,
      messages: resolved.messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(second.text).toBe('Done.');
    expect(ran).toEqual(['refund']);
    const action = await eventually(
      async () => (await t.actions()).find((entry) => entry.id === held.id),
      (entry) => entry?.resultStatus === 'succeeded',
    );
    expect(action?.status).toBe('approved');
    expect(action?.resultStatus).toBe('succeeded');
  });

  test('streamed usage through the middleware and guardTools: recorded once, checked once', async () => {
    const { ran, tools } = makeTools();
    const model = wrapLanguageModel({
      model: streamingModel(
        { calls: [{ name: 'search', input: { query: 'once' }, id: 's1' }] },
        { text: 'ok' },
      ),
      middleware: ardenUsageMiddleware(),
    });
    await withSession('ai-e2e-stream', async () => {
      const result = streamText({
        model,
        tools: guardTools(tools),
        prompt: 'go',
        stopWhen: isStepCount(3),
      });
      await result.text;
    });
    expect(ran).toEqual(['search']);
    await flush();
    const actions = (await t.actions()).filter((action) => action.sessionId === 'ai-e2e-stream');
    expect(actions.map((action) => action.toolName)).toEqual(['search']);
    expect(
      await eventually(
        () => usageOf('ai-e2e-stream'),
        (list) => list.length >= 2,
      ),
    ).toEqual([
      [responseModelId, 21, 9],
      [responseModelId, 21, 9],
    ]);
  });
});
