// A Chat Completions tool loop whose tools Arden checks. No LLM key is needed.
//
// Against a running server (load policies.yaml into it first):
//   ARDEN_API_KEY=arden_test_… ARDEN_API_URL=http://localhost:8787 pnpm start
// Without one, it uses the in-memory Arden from @arden/core/test and plays the approver itself.
// With OPENAI_API_KEY set, it talks to the real API (gpt-4o-mini) instead of a local fake.
import { configure, flush, withSession } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import { ArdenToolExecutor, trackUsage } from '@arden/openai';
import OpenAI from 'openai';
import type {
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { startFakeOpenAI } from './fake-openai.ts';

const inMemory = process.env.ARDEN_API_KEY
  ? undefined
  : createTestArden({
      decisions: { delete_account: 'block', issue_refund: 'requires_approval' },
    });
configure(inMemory ? inMemory.options() : {});

const fake = process.env.OPENAI_API_KEY ? undefined : await startFakeOpenAI();
// trackUsage records every call's model and tokens with Arden, streamed ones included.
const client = trackUsage(new OpenAI(fake ? { apiKey: 'not-needed', baseURL: fake.baseURL } : {}), {
  includeStreamUsage: true,
});

// Every registered tool is checked by Arden before it runs.
const executor = new ArdenToolExecutor()
  .register('lookup_customer', async ({ email }: { email: string }) => ({
    id: 'cus_123',
    email,
    plan: 'pro',
  }))
  .register(
    'delete_account',
    async ({ customerId }: { customerId: string }) => `deleted ${customerId}`,
  )
  .register(
    'issue_refund',
    async ({ customerId, amount }: { customerId: string; amount: number }) =>
      `refunded $${amount} to ${customerId}`,
  );

const tools: ChatCompletionTool[] = [
  tool('lookup_customer', 'Find a customer by email address.', { email: { type: 'string' } }),
  tool('delete_account', 'Delete a customer account.', { customerId: { type: 'string' } }),
  tool('issue_refund', 'Refund a customer, in US dollars.', {
    customerId: { type: 'string' },
    amount: { type: 'number' },
  }),
];

function tool(
  name: string,
  description: string,
  properties: Record<string, unknown>,
): ChatCompletionTool {
  return {
    type: 'function',
    function: {
      name,
      description,
      parameters: {
        type: 'object',
        properties,
        required: Object.keys(properties),
        additionalProperties: false,
      },
    },
  };
}

if (inMemory) {
  // The in-memory Arden's approver: approves the held refund as soon as it is held.
  void inMemory.nextPending(60_000).then((held) => {
    console.log(`  [approver] approving ${held.toolName} ${JSON.stringify(held.kwargs)}`);
    inMemory.approve(held.actionId, 'approved by the example');
  });
} else {
  console.log('issue_refund will be held: approve it in the Arden dashboard (Approvals).');
}

await withSession(`openai-demo-${Date.now()}`, async () => {
  const messages: ChatCompletionMessageParam[] = [
    {
      role: 'system',
      content: 'You are a support agent. If a tool says it did not run, tell the user why.',
    },
    { role: 'user', content: 'Look up ada@example.com, delete her account, and refund her $150.' },
  ];
  for (let turn = 0; turn < 8; turn++) {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      tools,
    });
    const message = completion.choices[0]!.message;
    messages.push(message);
    if (!message.tool_calls?.length) {
      console.log(message.content);
      break;
    }
    for (const call of message.tool_calls) {
      if (call.type === 'function')
        console.log(`→ ${call.function.name} ${call.function.arguments}`);
    }
    // One tool message per call; blocked and denied calls say so, and the loop goes on.
    messages.push(...(await executor.toolMessages(message.tool_calls)));
  }

  // A streamed call: its usage arrives in the last chunk.
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [...messages, { role: 'user', content: 'Summarise in one line.' }],
    stream: true,
  });
  let summary = '';
  for await (const chunk of stream) summary += chunk.choices[0]?.delta.content ?? '';
  console.log(`streamed: ${summary.split('\n')[0]}`);
});

await flush();
if (inMemory) {
  console.log(
    `\nArden logged ${inMemory.checks.length} checks and ${inMemory.usage.length} model calls:`,
  );
  for (const check of inMemory.checks) {
    console.log(`  ${check.decision.padEnd(17)} ${check.toolName} (session ${check.sessionId})`);
  }
  for (const event of inMemory.usage) {
    console.log(`  ${event.model}: ${event.prompt_tokens} in / ${event.completion_tokens} out`);
  }
}
fake?.close();
