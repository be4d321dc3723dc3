// An AI SDK tool loop whose tool calls Arden checks. No LLM key is needed: the model is the AI
// SDK's MockLanguageModelV4 (from ai/test), scripted to ask for the tools a real model would;
// with OPENAI_API_KEY set, gpt-4o-mini answers instead.
//
// Against a running server (apply policies.yaml to the agent first):
//   ARDEN_API_KEY=arden_test_… ARDEN_API_URL=http://localhost:8787 pnpm start
// Without one, it uses the in-memory Arden from @arden/core/test and approves the held calls itself.

import { openai } from '@ai-sdk/openai';
import { ardenToolApproval, resolveArdenApprovals } from '@arden/ai-sdk';
import { configure, flush, withSession } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import { generateText, isStepCount, type ModelMessage, tool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
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
// Importing @arden/ai-sdk registered the adapter: configure() now checks every tool execution of
// generateText/streamText/agents and records every model call's usage (through registerTelemetry).
configure(inMemory ? inMemory.options() : {});

let refunds = 0;
const tools = {
  lookup_order: tool({
    description: 'Look an order up.',
    inputSchema: z.object({ orderId: z.string() }),
    execute: async ({ orderId }) => ({ orderId, total: 150, status: 'delivered' }),
  }),
  issue_refund: tool({
    description: 'Refund an order.',
    inputSchema: z.object({ orderId: z.string(), amount: z.number() }),
    execute: async ({ orderId, amount }) => {
      refunds++;
      return `Refunded $${amount} on ${orderId}.`;
    },
  }),
  drop_table: tool({
    description: 'Drop a database table.',
    inputSchema: z.object({ table: z.string() }),
    execute: async ({ table }) => `Dropped ${table}.`,
  }),
};

type Turn = { calls: { name: string; input: object; id: string }[] } | { text: string };

/**
 * A scripted model: answers `turns` in order, with the usage a provider reports. With
 * OPENAI_API_KEY set, the real gpt-4o-mini answers instead (the script is ignored).
 */
function scriptedModel(turns: Turn[]) {
  let index = 0;
  if (process.env.OPENAI_API_KEY) return openai('gpt-4o-mini');
  return new MockLanguageModelV4({
    modelId: 'gpt-4o-mini',
    doGenerate: async () => {
      const turn = turns[Math.min(index++, turns.length - 1)] as Turn;
      return {
        content:
          'text' in turn
            ? [{ type: 'text' as const, text: turn.text }]
            : turn.calls.map((call) => ({
                type: 'tool-call' as const,
                toolCallId: call.id,
                toolName: call.name,
                input: JSON.stringify(call.input),
              })),
        finishReason:
          'text' in turn
            ? { unified: 'stop' as const, raw: 'stop' }
            : { unified: 'tool-calls' as const, raw: 'tool_calls' },
        usage: {
          inputTokens: { total: 310, noCache: 310, cacheRead: undefined, cacheWrite: undefined },
          outputTokens: { total: 42, text: 42, reasoning: undefined },
        },
        warnings: [],
      };
    },
  });
}

function approveSoon(): void {
  if (!inMemory) {
    console.log(
      'A refund over $50 waits for an approver: approve it in the dashboard (Approvals).',
    );
    return;
  }
  void inMemory.nextPending(30_000).then((held) => {
    console.log(`arden    ⏸ ${held.toolName} ${JSON.stringify(held.kwargs)} waits for approval…`);
    setTimeout(() => {
      console.log('arden    ✔ approved by an approver');
      inMemory.approve(held.actionId, 'approved by the example');
    }, 500);
  });
}

function show(
  steps: {
    toolCalls: { toolName: string; input: unknown }[];
    content: { type: string }[];
    text: string;
  }[],
) {
  for (const step of steps) {
    for (const call of step.toolCalls)
      console.log(`model    → calls ${call.toolName}(${JSON.stringify(call.input)})`);
    for (const part of step.content as {
      type: string;
      toolName?: string;
      output?: unknown;
      error?: unknown;
    }[]) {
      if (part.type === 'tool-result')
        console.log(`tool     ← result  ${part.toolName}: ${JSON.stringify(part.output)}`);
      if (part.type === 'tool-error')
        console.log(`tool     ← refused ${part.toolName}: ${(part.error as Error).message}`);
    }
    if (step.text) console.log(`model    → ${step.text}`);
  }
}

await withSession(`ai-sdk-demo-${Date.now()}`, async () => {
  console.log('— 1. The automatic route: held calls wait for the decision —');
  approveSoon();
  const result = await generateText({
    model: scriptedModel([
      {
        calls: [
          { name: 'lookup_order', input: { orderId: 'A-17' }, id: 'call_1' },
          { name: 'drop_table', input: { table: 'orders' }, id: 'call_2' },
        ],
      },
      { calls: [{ name: 'issue_refund', input: { orderId: 'A-17', amount: 150 }, id: 'call_3' }] },
      {
        text: 'Order A-17 is refunded ($150). I did not drop the orders table: that is not allowed.',
      },
    ]),
    tools,
    prompt: 'Refund order A-17 and clean up.',
    stopWhen: isStepCount(5),
  });
  show(result.steps);

  console.log('\n— 2. The native route: the hold becomes the SDK’s own approval request —');
  const model = scriptedModel([
    { calls: [{ name: 'issue_refund', input: { orderId: 'B-4', amount: 90 }, id: 'call_4' }] },
    { text: 'Order B-4 is refunded ($90).' },
  ]);
  const messages: ModelMessage[] = [{ role: 'user', content: 'Refund order B-4.' }];
  const first = await generateText({
    model,
    tools,
    messages,
    toolApproval: ardenToolApproval(),
    stopWhen: isStepCount(5),
  });
  for (const part of first.content) {
    if (part.type === 'tool-approval-request') {
      console.log(`sdk      ⏸ approval request for ${part.toolCall.toolName}: ${part.reason}`);
    }
  }
  // A chat UI would show the request (useChat's addToolApprovalResponse); here an approver decides
  // in Arden and resolveArdenApprovals turns the decision into the SDK's approval response.
  let history: ModelMessage[] = [...messages, ...first.response.messages];
  const before = refunds;
  approveSoon();
  for (;;) {
    const resolved = await resolveArdenApprovals(history, { waitSeconds: 5 });
    history = resolved.messages;
    if (resolved.pending.length === 0) break;
  }
  const second = await generateText({
    model,
    tools,
    messages: history,
    toolApproval: ardenToolApproval(),
    stopWhen: isStepCount(5),
  });
  console.log(`tool     ← issue_refund ran ${refunds - before} time(s) after the approval`);
  show(second.steps);
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
