import { configure, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent } from 'langchain';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ardenMiddleware, protectTools, resolveArdenInterrupts } from './index';
import {
  answer,
  makeTools,
  modelName,
  StreamingFakeModel,
  scriptedModel,
  textOf,
} from './test-helpers';

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

function toolMessages(messages: unknown[]): ToolMessage[] {
  return messages.filter((message): message is ToolMessage => ToolMessage.isInstance(message));
}

describe('LangChain agent against a real Arden server', () => {
  test('allowed runs, blocked is refused and told to the model, the run continues; session and usage logged', async () => {
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [
          { name: 'search', args: { query: 'refunds' }, id: 'e1' },
          { name: 'drop_table', args: { table: 'users' }, id: 'e2' },
        ]),
        answer('Searched; not dropping.'),
      ),
      tools: all,
    });
    const result = await withSession('e2e-session-1', () =>
      agent.invoke({ messages: [new HumanMessage('go')] }),
    );
    expect(ran).toEqual(['search']);
    const denial = toolMessages(result.messages)[1];
    expect(denial?.status).toBe('error');
    expect(textOf(denial)).toMatch(/Arden blocked this call to "drop_table" by policy/);
    expect(textOf(denial)).toMatch(/Never drop tables/);
    expect(textOf(denial)).not.toMatch(/\.\./);
    expect(textOf(result.messages.at(-1))).toBe('Searched; not dropping.');

    await flush();
    const actions = await eventually(
      () => t.actions(),
      (list) => list.find((action) => action.toolName === 'search')?.resultStatus === 'succeeded',
    );
    expect(actions.map((action) => [action.toolName, action.decision, action.sessionId])).toEqual([
      ['search', 'allow', 'e2e-session-1'],
      ['drop_table', 'block', 'e2e-session-1'],
    ]);
    expect(actions[0]?.resultStatus).toBe('succeeded');
    const usage = await eventually(
      () => t.usage(),
      (list) => list.length >= 2,
    );
    expect(
      usage.map((event) => [
        event.model,
        event.promptTokens,
        event.completionTokens,
        event.sessionId,
      ]),
    ).toEqual([
      [modelName, 12, 7, 'e2e-session-1'],
      [modelName, 12, 7, 'e2e-session-1'],
    ]);
  });

  test('a held call approved through the server runs once; a denied one does not', async () => {
    const { ran, all } = makeTools();
    const approvedRun = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'refund', args: { amount: 30 }, id: 'e3' }]),
        answer('Refunded.'),
      ),
      tools: all,
    }).invoke({ messages: [new HumanMessage('refund')] });
    const held = await t.nextPending();
    expect(held.toolName).toBe('refund');
    expect(ran).toEqual([]);
    await t.approve(held.id, 'fine');
    expect(textOf((await approvedRun).messages.at(-1))).toBe('Refunded.');
    expect(ran).toEqual(['refund']);

    const deniedRun = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'refund', args: { amount: 5000 }, id: 'e4' }]),
        answer('Sorry.'),
      ),
      tools: all,
    }).invoke({ messages: [new HumanMessage('refund')] });
    await t.deny((await t.nextPending()).id, 'too much');
    const denied = await deniedRun;
    expect(ran).toEqual(['refund']);
    expect(textOf(toolMessages(denied.messages)[0])).toMatch(
      /denied this call to "refund": too much/,
    );
    expect(textOf(denied.messages.at(-1))).toBe('Sorry.');
  });

  test("async approval: onApproval gets the tool's result, as the docs print it", async () => {
    const { ran, refund, search } = makeTools();
    const notified: string[] = [];
    const approved = new Promise<unknown>((resolve) => {
      const tools = protectTools([search, refund], {
        approvalModes: { refund: 'async' },
        onApproval: (result) => {
          notified.push(`refund done: ${result}`);
          resolve(result);
        },
      });
      void createAgent({
        model: scriptedModel(
          answer('', [{ name: 'refund', args: { amount: 42 }, id: 'e9' }]),
          answer('Your refund awaits approval.'),
        ),
        tools,
      }).invoke({ messages: [new HumanMessage('refund')] });
    });
    const held = await t.nextPending();
    expect(held.toolName).toBe('refund');
    expect(ran).toEqual([]);
    await t.approve(held.id, 'fine');
    expect(await approved).toBe('refunded 42');
    expect(notified).toEqual(['refund done: refunded 42']);
    expect(ran).toEqual(['refund']);
  });

  test('native route: the held call pauses the graph; approved in Arden, it resumes and runs once', async () => {
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'refund', args: { amount: 12 }, id: 'n1' }]),
        answer('Done.'),
      ),
      tools: all,
      checkpointer: new MemorySaver(),
      middleware: [ardenMiddleware({ approval: 'interrupt' })],
    });
    const config = { configurable: { thread_id: 'e2e-interrupt' } };
    const pending = t.nextPending();
    const paused = await agent.invoke({ messages: [new HumanMessage('refund')] }, config);
    const held = await pending;
    const interrupts = (paused as { __interrupt__?: { id: string; value: { actionId: string } }[] })
      .__interrupt__;
    expect(interrupts?.[0]?.value.actionId).toBe(held.id);
    expect(ran).toEqual([]);
    await t.approve(held.id, 'approved in the dashboard');
    const { resume } = await resolveArdenInterrupts(interrupts);
    const result = await agent.invoke(new Command({ resume }), config);
    expect(textOf(result.messages.at(-1))).toBe('Done.');
    expect(ran).toEqual(['refund']);
    await flush();
    const action = await eventually(
      async () => (await t.actions()).find((entry) => entry.id === held.id),
      (entry) => entry?.resultStatus === 'succeeded',
    );
    expect(action?.status).toBe('approved');
    expect(action?.resultStatus).toBe('succeeded');
    // Resuming did not check the call again: no action after the held one.
    const logged = await t.actions();
    expect(logged.slice(logged.findIndex((entry) => entry.id === held.id) + 1)).toEqual([]);
  });

  test('streamed usage is recorded with the model and counts', async () => {
    const model = new StreamingFakeModel().respond(answer('streamed'));
    for await (const _chunk of await withSession('e2e-stream', () => model.stream('hi'))) {
      // drain
    }
    await flush();
    const usage = await eventually(
      async () => (await t.usage()).filter((event) => event.sessionId === 'e2e-stream'),
      (list) => list.length > 0,
    );
    expect(
      usage.map((event) => [
        event.model,
        event.promptTokens,
        event.completionTokens,
        event.sessionId,
      ]),
    ).toEqual([[modelName, 12, 7, 'e2e-stream']]);
  });

  test('a tool both wrapped by protectTools and patched is logged once per call', async () => {
    const before = (await t.actions()).length;
    const { search } = makeTools();
    const [guarded] = protectTools([search]);
    await guarded!.invoke({ query: 'once' });
    const actions = await t.actions();
    expect(actions.length - before).toBe(1);
  });
});
