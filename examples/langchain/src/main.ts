// A LangChain agent (createAgent) whose tool calls Arden checks. No LLM key is needed: the model
// is LangChain's scripted fakeModel(), which asks for the tools a real model would; with
// OPENAI_API_KEY set, gpt-4o-mini drives it instead.
//
// Against a running server (apply policies.yaml to the agent first):
//   ARDEN_API_KEY=arden_test_… ARDEN_API_URL=http://localhost:8787 pnpm start
// Without one, it uses the in-memory Arden from @arden/core/test and approves the held call itself.
import { configure, flush, withSession } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import '@arden/langchain';
import { AIMessage, type BaseMessage, HumanMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { createAgent } from 'langchain';
import { z } from 'zod';

// The same decisions as policies.yaml, for the in-memory Arden.
const inMemory = process.env.ARDEN_API_KEY
  ? undefined
  : createTestArden({
      decisions: (request) => {
        if (request.tool_name === 'drop_table')
          return { decision: 'block', message: 'Never drop tables' };
        if (request.tool_name === 'issue_refund' && Number(request.kwargs.amount) > 50) {
          return 'requires_approval';
        }
        return 'allow';
      },
    });
// Importing @arden/langchain registered the adapter: configure() now enforces every LangChain
// tool call and records every chat model call's token usage.
configure(inMemory ? inMemory.options() : {});

const lookupOrder = tool(async ({ orderId }) => ({ orderId, total: 150, status: 'delivered' }), {
  name: 'lookup_order',
  description: 'Look an order up.',
  schema: z.object({ orderId: z.string() }),
});
const issueRefund = tool(async ({ orderId, amount }) => `Refunded $${amount} on ${orderId}.`, {
  name: 'issue_refund',
  description: 'Refund an order.',
  schema: z.object({ orderId: z.string(), amount: z.number() }),
});
const dropTable = tool(async ({ table }) => `Dropped ${table}.`, {
  name: 'drop_table',
  description: 'Drop a database table.',
  schema: z.object({ table: z.string() }),
});

// What a model would answer, turn by turn (with the usage a provider reports).
const usage = { input_tokens: 310, output_tokens: 42, total_tokens: 352 };
const reply = (content: string, toolCalls: { name: string; args: object; id: string }[] = []) =>
  new AIMessage({
    content,
    tool_calls: toolCalls.map((call) => ({
      ...call,
      args: { ...call.args },
      type: 'tool_call' as const,
    })),
    usage_metadata: usage,
    response_metadata: { model_name: 'gpt-4o-mini' },
  });
const scripted = fakeModel()
  .respond(
    reply('', [
      { name: 'lookup_order', args: { orderId: 'A-17' }, id: 'call_1' },
      { name: 'drop_table', args: { table: 'orders' }, id: 'call_2' },
    ]),
  )
  .respond(
    reply('', [{ name: 'issue_refund', args: { orderId: 'A-17', amount: 150 }, id: 'call_3' }]),
  )
  .respond(
    reply('Order A-17 is refunded ($150). I did not drop the orders table: that is not allowed.'),
  );

// With OPENAI_API_KEY set, a real model drives the agent instead of the script.
const model = process.env.OPENAI_API_KEY ? new ChatOpenAI({ model: 'gpt-4o-mini' }) : scripted;
const agent = createAgent({ model, tools: [lookupOrder, issueRefund, dropTable] });

function show(message: BaseMessage): void {
  const type = message.getType();
  if (type === 'ai') {
    const calls = (message as AIMessage).tool_calls ?? [];
    for (const call of calls)
      console.log(`model    → calls ${call.name}(${JSON.stringify(call.args)})`);
    if (message.text) console.log(`model    → ${message.text}`);
  } else if (type === 'tool') {
    const status = (message as { status?: string }).status === 'error' ? 'refused' : 'result ';
    console.log(`tool     ← ${status} ${message.name}: ${message.text}`);
  }
}

await withSession(`langchain-demo-${Date.now()}`, async () => {
  if (inMemory) {
    // An approver in the dashboard: approve the held refund after a moment.
    void inMemory.nextPending(30_000).then((held) => {
      console.log(`arden    ⏸ ${held.toolName} ${JSON.stringify(held.kwargs)} waits for approval…`);
      setTimeout(() => {
        console.log('arden    ✔ approved by an approver');
        inMemory.approve(held.actionId, 'approved by the example');
      }, 500);
    });
  } else {
    console.log(
      'The refund over $50 waits for an approver: approve it in the dashboard (Approvals).',
    );
  }
  const result = await agent.invoke({
    messages: [new HumanMessage('Refund order A-17 and clean up.')],
  });
  for (const message of result.messages) show(message);
});

await flush();
if (inMemory) {
  console.log('\nArden logged:');
  for (const check of inMemory.checks) {
    console.log(
      `  ${check.toolName.padEnd(13)} ${check.decision.padEnd(17)} session ${check.sessionId}`,
    );
  }
  const tokens = inMemory.usage.reduce(
    (sum, event) => sum + event.prompt_tokens + event.completion_tokens,
    0,
  );
  console.log(
    `  ${inMemory.usage.length} model calls, ${tokens} tokens (${inMemory.usage[0]?.model})`,
  );
}
