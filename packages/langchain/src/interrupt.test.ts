import { configure, flush, uninstallAdapters } from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent } from 'langchain';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type ArdenInterrupt, ardenMiddleware, resolveArdenInterrupts } from './index';
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

function agentWithHeldRefund(threadId: string) {
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
    middleware: [ardenMiddleware({ approval: 'interrupt' })],
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
