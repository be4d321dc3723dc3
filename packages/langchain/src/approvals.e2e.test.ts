// LangGraph's resume and approve with edit through ardenMiddleware({ approval: 'interrupt' }),
// with a scripted model, against a real Arden server.
import { configure, flush, uninstallAdapters } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent } from 'langchain';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type ArdenInterrupt,
  ardenMiddleware,
  protectTools,
  resolveArdenInterrupts,
} from './index';
import { answer, makeTools, scriptedModel } from './test-helpers';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      {
        name: 'Big refunds',
        tool: 'refund',
        rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
        default: 'allow',
        approve_in: ['dashboard', 'app'],
      },
      {
        name: 'Dropping a table needs an approver',
        tool: 'drop_table',
        action: 'requires_approval',
      },
    ],
  });
  configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
  // Starting a server takes longer than the default 10 s on a loaded machine.
}, 60_000);

afterAll(async () => {
  await flush();
  uninstallAdapters();
  await t.close();
});

function heldRefund(threadId: string, amount: number) {
  const { ran, all } = makeTools();
  const model = scriptedModel(
    answer('', [{ name: 'refund', args: { amount }, id: `${threadId}-r` }]),
    answer('All done.'),
    // A replayed resume asks the model once more.
    answer('All done.'),
  );
  const agent = createAgent({
    model,
    tools: all,
    checkpointer: new MemorySaver(),
    middleware: [ardenMiddleware({ approval: 'interrupt', appUser: 'enduser@customer.example' })],
  });
  return { ran, agent, model, config: { configurable: { thread_id: threadId } } };
}

const refundMessage = (messages: unknown[]) =>
  messages.find(
    (message): message is ToolMessage =>
      ToolMessage.isInstance(message) && message.name === 'refund',
  );

describe('LangGraph: resume and approve with edit (real server)', () => {
  test('approved with edit in Arden: the resumed tool runs with the approver’s arguments', async () => {
    const { ran, agent, model, config } = heldRefund('e1', 4000);
    const paused = (await agent.invoke({ messages: [new HumanMessage('refund')] }, config)) as {
      __interrupt__: { id: string; value: ArdenInterrupt }[];
    };
    const actionId = paused.__interrupt__[0]!.value.actionId;
    await t.approve(actionId, 'forty', { kwargs: { amount: 40 } });
    const { resume } = await resolveArdenInterrupts(paused.__interrupt__);
    const result = await agent.invoke(new Command({ resume }), config);
    expect(ran).toEqual(['refund']);
    expect(String(refundMessage(result.messages)?.content)).toMatch(/refunded 40$/);
    // The model's next turn reads the tool's result with the approver's change noted before it.
    const read = JSON.stringify(model.calls.at(-1)?.messages);
    expect(read).toContain('amount: 4000 → 40');
    expect(read).toContain('refunded 40');
  });

  test('the app’s resume is recorded as an in-app decision by its end user', async () => {
    const { ran, agent, config } = heldRefund('e2', 500);
    const paused = (await agent.invoke({ messages: [new HumanMessage('refund')] }, config)) as {
      __interrupt__: { id: string; value: ArdenInterrupt }[];
    };
    const item = paused.__interrupt__[0]!;
    const result = await agent.invoke(
      new Command({ resume: { [item.id]: { approved: true, user: 'ann@customer.example' } } }),
      config,
    );
    expect(ran).toEqual(['refund']);
    expect(refundMessage(result.messages)?.content).toBe('refunded 500');
    const action = (await t.actions()).find((entry) => entry.id === item.value.actionId);
    expect(action?.status).toBe('approved');
    expect(action?.approval).toMatchObject({
      decidedIn: 'app',
      decidedByUser: 'ann@customer.example',
    });
  });

  test('a resume value cannot smuggle other arguments: only Arden’s edit is run', async () => {
    const { ran, agent, config } = heldRefund('e3', 300);
    const paused = (await agent.invoke({ messages: [new HumanMessage('refund')] }, config)) as {
      __interrupt__: { id: string; value: ArdenInterrupt }[];
    };
    const item = paused.__interrupt__[0]!;
    const result = await agent.invoke(
      new Command({ resume: { [item.id]: { approved: true, args: { amount: 99999 } } } }),
      config,
    );
    expect(ran).toEqual(['refund']);
    expect(refundMessage(result.messages)?.content).toBe('refunded 300');
  });

  test.each(['middleware', 'protectTools'] as const)(
    'wait route (%s): approved with edit, the tool runs the approver’s arguments and the model reads what changed',
    async (route) => {
      const { ran, all } = makeTools();
      const model = scriptedModel(
        answer('', [{ name: 'refund', args: { amount: 4000 }, id: `wait-${route}` }]),
        answer('All done.'),
      );
      const agent = createAgent({
        model,
        tools: route === 'protectTools' ? protectTools(all) : all,
        middleware: route === 'middleware' ? [ardenMiddleware()] : [],
      });
      const running = agent.invoke({ messages: [new HumanMessage('refund')] });
      const held = await t.nextPending({ toolName: 'refund' });
      await t.approve(held.id, 'forty', { kwargs: { amount: 40 } });
      const result = await running;
      expect(ran).toEqual(['refund']);
      expect(String(refundMessage(result.messages)?.content)).toMatch(/refunded 40$/);
      const read = JSON.stringify(model.calls.at(-1)?.messages);
      expect(read).toContain('amount: 4000 → 40');
      expect(read).toContain('refunded 40');
    },
  );
});

describe('LangGraph: a resumed call runs only the exact call Arden approved, once (real server)', () => {
  test('arguments changed with updateState after the approval: refused by the receipt, not run', async () => {
    const { ran, agent, config } = heldRefund('x1', 300);
    const paused = (await agent.invoke({ messages: [new HumanMessage('refund')] }, config)) as {
      messages: unknown[];
      __interrupt__: { id: string; value: ArdenInterrupt }[];
    };
    const { actionId } = paused.__interrupt__[0]!.value;
    await t.approve(actionId, '300 is fine');
    const asked = paused.messages.at(-1) as AIMessage;
    await agent.updateState(
      config,
      {
        messages: [
          new AIMessage({
            id: asked.id as string,
            content: '',
            tool_calls: [
              { name: 'refund', args: { amount: 300000 }, id: 'x1-r', type: 'tool_call' },
            ],
          }),
        ],
      },
      'model_request',
    );
    const result = await agent.invoke(
      new Command({ resume: { approved: true, actionId } }),
      config,
    );
    expect(ran).toEqual([]);
    expect(String(refundMessage(result.messages)?.content)).toMatch(/is for another call/);
    // Its run was not claimed: the approved call itself could still run once.
    const action = (await t.actions()).find((entry) => entry.id === actionId);
    expect(action?.status).toBe('approved');
    expect(action?.resultStatus ?? null).toBeNull();
  });

  test('the same approved resume replayed (from the paused checkpoint) does not run the call again', async () => {
    const { ran, agent, config } = heldRefund('x2', 500);
    const paused = (await agent.invoke({ messages: [new HumanMessage('refund')] }, config)) as {
      __interrupt__: { id: string; value: ArdenInterrupt }[];
    };
    // The paused checkpoint (getState is typed loosely on ReactAgent).
    const state = (await agent.getState(config)) as unknown as { config: typeof config };
    const checkpoint = state.config;
    const item = paused.__interrupt__[0]!;
    const resume = { [item.id]: { approved: true, actionId: item.value.actionId } };
    const first = await agent.invoke(new Command({ resume }), config);
    expect(ran).toEqual(['refund']);
    expect(refundMessage(first.messages)?.content).toBe('refunded 500');
    // Time travel: the same resume, from the checkpoint where the call was paused.
    const replay = await agent.invoke(new Command({ resume }), checkpoint);
    expect(ran).toEqual(['refund']);
    expect(String(refundMessage(replay.messages)?.content)).toMatch(/already used for a run/);
  });

  test('an app approval the policy does not take (approve_in: [dashboard]) waits for Arden’s approver, then runs once', async () => {
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'drop_table', args: { table: 'tmp' }, id: 'x3-d' }]),
        answer('All done.'),
      ),
      tools: all,
      checkpointer: new MemorySaver(),
      middleware: [ardenMiddleware({ approval: 'interrupt' })],
    });
    const config = { configurable: { thread_id: 'x3' } };
    const paused = (await agent.invoke({ messages: [new HumanMessage('drop')] }, config)) as {
      __interrupt__: { id: string; value: ArdenInterrupt }[];
    };
    const item = paused.__interrupt__[0]!;
    const running = agent.invoke(
      new Command({ resume: { [item.id]: { approved: true, actionId: item.value.actionId } } }),
      config,
    );
    const held = await t.nextPending({ toolName: 'drop_table' });
    expect(held.id).toBe(item.value.actionId);
    expect(ran).toEqual([]);
    await t.approve(held.id, 'ok');
    await running;
    expect(ran).toEqual(['drop_table']);
    const action = (await t.actions()).find((entry) => entry.id === held.id);
    expect(action?.approval?.decidedIn ?? 'dashboard').not.toBe('app');
  });
});
