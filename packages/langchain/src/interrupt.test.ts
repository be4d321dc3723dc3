import { configure, createArden, flush, uninstallAdapters } from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent } from 'langchain';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type ArdenInterrupt, ardenMiddleware, resolveArdenInterrupts } from './index';
import { forgetPausedCalls } from './middleware';
import { answer, makeTools, scriptedModel, textOf } from './test-helpers';

let arden: TestArden;

beforeEach(() => {
  arden = createTestArden({ decisions: { drop_table: 'block', refund: 'requires_approval' } });
  configure(arden.options());
});

afterEach(async () => {
  await flush();
  uninstallAdapters();
});

function agentWithHeldRefund(
  threadId: string,
  middleware: Parameters<typeof ardenMiddleware>[0] = {},
) {
  const { ran, all } = makeTools();
  const agent = createAgent({
    model: scriptedModel(
      answer('', [
        { name: 'search', args: { query: 'order' }, id: `${threadId}-s` },
        { name: 'refund', args: { amount: 70 }, id: `${threadId}-r` },
      ]),
      answer('All done.'),
    ),
    tools: all,
    checkpointer: new MemorySaver(),
    middleware: [ardenMiddleware({ approval: 'interrupt', ...middleware })],
  });
  const config = { configurable: { thread_id: threadId } };
  return { ran, agent, config };
}

function toolMessages(messages: unknown[]): ToolMessage[] {
  return messages.filter((message): message is ToolMessage => ToolMessage.isInstance(message));
}

describe("native approval route: ardenMiddleware({ approval: 'interrupt' })", () => {
  test('a held call pauses the graph; approved in Arden, resolveArdenInterrupts resumes it and it runs once', async () => {
    const { ran, agent, config } = agentWithHeldRefund('t1');
    const paused = await agent.invoke({ messages: [new HumanMessage('refund')] }, config);
    const interrupts = (paused as { __interrupt__?: { id: string; value: ArdenInterrupt }[] })
      .__interrupt__;
    expect(interrupts).toHaveLength(1);
    const held = arden.pending()[0]!;
    expect(interrupts?.[0]?.value).toMatchObject({
      type: 'arden_approval',
      actionId: held.actionId,
      toolName: 'refund',
      args: { amount: 70 },
    });
    expect(ran).toEqual(['search']);

    expect((await resolveArdenInterrupts(interrupts)).pending).toHaveLength(1);
    arden.approve(held.actionId, 'ok');
    const { resume } = await resolveArdenInterrupts(interrupts);
    const result = await agent.invoke(new Command({ resume }), config);
    expect(ran).toEqual(['search', 'refund']);
    expect(textOf(result.messages.at(-1))).toBe('All done.');
    // One check per call: the resumed call was not checked again.
    expect(arden.checks.map((check) => check.toolName)).toEqual(['search', 'refund']);
  });

  test('denied by the app on resume: the tool does not run and the model is told', async () => {
    const { ran, agent, config } = agentWithHeldRefund('t2');
    const paused = await agent.invoke({ messages: [new HumanMessage('refund')] }, config);
    const [item] = (paused as { __interrupt__: { id: string }[] }).__interrupt__;
    const result = await agent.invoke(
      new Command({ resume: { [item!.id]: { approved: false, notes: 'the customer withdrew' } } }),
      config,
    );
    expect(ran).toEqual(['search']);
    const denial = toolMessages(result.messages).find((message) => message.name === 'refund');
    expect(denial?.status).toBe('error');
    expect(textOf(denial)).toMatch(/denied this call to "refund": the customer withdrew/);
    expect(textOf(result.messages.at(-1))).toBe('All done.');
  });

  test('Arden’s denial wins over an app approval given on resume', async () => {
    const { ran, agent, config } = agentWithHeldRefund('t3');
    const paused = await agent.invoke({ messages: [new HumanMessage('refund')] }, config);
    const [item] = (paused as { __interrupt__: { id: string }[] }).__interrupt__;
    arden.deny(arden.pending()[0]!.actionId, 'fraud');
    await agent.invoke(new Command({ resume: { [item!.id]: { approved: true } } }), config);
    expect(ran).toEqual(['search']);
  });

  test('blocked calls are refused without pausing', async () => {
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'drop_table', args: { table: 'x' }, id: 'b1' }]),
        answer('ok'),
      ),
      tools: all,
      checkpointer: new MemorySaver(),
      middleware: [ardenMiddleware({ approval: 'interrupt' })],
    });
    const result = await agent.invoke(
      { messages: [new HumanMessage('go')] },
      { configurable: { thread_id: 't4' } },
    );
    expect(ran).toEqual([]);
    expect(textOf(toolMessages(result.messages)[0])).toMatch(/blocked/);
    expect((result as { __interrupt__?: unknown[] }).__interrupt__ ?? []).toHaveLength(0);
  });
});

type Paused = { __interrupt__: { id: string; value: ArdenInterrupt }[] };

/** An Arden instance on the test server whose requests fail (unreachable) once `down` is set. */
function flakyArden(onUnavailable: 'block' | 'allow' = 'block') {
  const link = { down: false };
  const instance = createArden({
    ...arden.options(),
    onUnavailable,
    fetch: async (input, init) => {
      if (link.down) throw new TypeError('fetch failed: connect ECONNREFUSED');
      return arden.fetch(input, init);
    },
  });
  return { link, instance };
}

describe('native approval route: a resumed call runs only as Arden confirms it', () => {
  test('arguments changed with updateState after the pause: not run under the old approval', async () => {
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'refund', args: { amount: 70 }, id: 'u1-r' }]),
        answer('All done.'),
      ),
      tools: all,
      checkpointer: new MemorySaver(),
      middleware: [ardenMiddleware({ approval: 'interrupt' })],
    });
    const config = { configurable: { thread_id: 'u1' } };
    const paused = (await agent.invoke({ messages: [new HumanMessage('refund')] }, config)) as {
      messages: unknown[];
    };
    const held = arden.pending()[0]!;
    arden.approve(held.actionId, 'refund 70 is fine');
    // The app (or anything with the checkpointer) rewrites the held call's arguments, as the
    // model's node: LangGraph routes the rewritten call to the tools again.
    const asked = paused.messages.at(-1) as AIMessage;
    await agent.updateState(
      config,
      {
        messages: [
          new AIMessage({
            id: asked.id as string,
            content: '',
            tool_calls: [
              { name: 'refund', args: { amount: 70000 }, id: 'u1-r', type: 'tool_call' },
            ],
          }),
        ],
      },
      'model_request',
    );
    const result = await agent.invoke(
      new Command({ resume: { approved: true, actionId: held.actionId } }),
      config,
    );
    expect(ran).toEqual([]);
    const denial = toolMessages(result.messages).find((message) => message.name === 'refund');
    expect(denial?.status).toBe('error');
    expect(textOf(denial)).toMatch(/did not run/);
  });

  test.each(['block', 'allow'] as const)(
    'Arden unreachable on resume (onUnavailable: %s): the app’s approval alone runs it only with allow',
    async (onUnavailable) => {
      const { link, instance } = flakyArden(onUnavailable);
      const { ran, agent, config } = agentWithHeldRefund(`o-${onUnavailable}`, {
        arden: instance,
      });
      const paused = (await agent.invoke(
        { messages: [new HumanMessage('refund')] },
        config,
      )) as unknown as Paused;
      const [item] = paused.__interrupt__;
      link.down = true;
      const result = await agent.invoke(
        new Command({ resume: { [item!.id]: { approved: true, actionId: item!.value.actionId } } }),
        config,
      );
      const refund = toolMessages(result.messages).find((message) => message.name === 'refund');
      if (onUnavailable === 'block') {
        expect(ran).toEqual(['search']);
        expect(refund?.status).toBe('error');
        expect(textOf(refund)).toMatch(/could not read the held call/);
      } else {
        expect(ran).toEqual(['search', 'refund']);
      }
    },
  );

  test('resumed in another process (no record of the pause) with { approved: true } and no action id: checked afresh, held, not run', async () => {
    const { ran, agent, config } = agentWithHeldRefund('f1');
    await agent.invoke({ messages: [new HumanMessage('refund')] }, config);
    const first = arden.pending()[0]!;
    forgetPausedCalls();
    const again = (await agent.invoke(
      new Command({ resume: { approved: true } }),
      config,
    )) as unknown as Paused;
    expect(ran).toEqual(['search']);
    // A new check of the call, held again: the graph pauses on a new Arden action.
    const refundChecks = arden.checks.filter((check) => check.toolName === 'refund');
    expect(refundChecks).toHaveLength(2);
    const second = refundChecks[1]!;
    expect(second.status).toBe('pending');
    expect(first.status).toBe('pending');
    expect(again.__interrupt__?.[0]?.value.actionId).toBe(second.actionId);
    // Approved in Arden, that pause resumes and the call runs once, without a third check.
    arden.approve(second.actionId, 'ok');
    const { resume } = await resolveArdenInterrupts(again.__interrupt__);
    await agent.invoke(new Command({ resume }), config);
    expect(ran).toEqual(['search', 'refund']);
    expect(arden.checks.filter((check) => check.toolName === 'refund')).toHaveLength(2);
  });
});
