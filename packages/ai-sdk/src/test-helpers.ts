import { type Tool, tool } from 'ai';
import { convertArrayToReadableStream, MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';

/** What the scripted model reports on every call. */
export const usage = {
  inputTokens: { total: 21, noCache: 21, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 9, text: 9, reasoning: undefined },
};
/** The model id the provider answers with. */
export const responseModelId = 'gpt-4o-2024-08-06';

type Call = { name: string; input: Record<string, unknown>; id: string };

/** One scripted model answer: tool calls (finish reason tool-calls) or text. */
export type Answer = { calls: Call[] } | { text: string };

function content(answer: Answer) {
  if ('text' in answer) return [{ type: 'text' as const, text: answer.text }];
  return answer.calls.map((call) => ({
    type: 'tool-call' as const,
    toolCallId: call.id,
    toolName: call.name,
    input: JSON.stringify(call.input),
  }));
}

function finishReason(answer: Answer) {
  return 'text' in answer
    ? { unified: 'stop' as const, raw: 'stop' }
    : { unified: 'tool-calls' as const, raw: 'tool_calls' };
}

/** `MockLanguageModelV4` answering `answers` in order, by `doGenerate`. */
export function generatingModel(...answers: Answer[]) {
  let index = 0;
  return new MockLanguageModelV4({
    modelId: 'mock-model-id',
    doGenerate: async () => {
      const answer = answers[Math.min(index++, answers.length - 1)] as Answer;
      return {
        content: content(answer),
        finishReason: finishReason(answer),
        usage,
        warnings: [],
        response: { id: `response-${index}`, modelId: responseModelId, timestamp: new Date(0) },
      };
    },
  });
}

/** `MockLanguageModelV4` answering `answers` in order, by `doStream` (usage in the finish part). */
export function streamingModel(...answers: Answer[]) {
  let index = 0;
  return new MockLanguageModelV4({
    modelId: 'mock-model-id',
    doStream: async () => {
      const answer = answers[Math.min(index++, answers.length - 1)] as Answer;
      const parts: unknown[] = [
        { type: 'stream-start', warnings: [] },
        {
          type: 'response-metadata',
          id: `stream-${index}`,
          modelId: responseModelId,
          timestamp: new Date(0),
        },
      ];
      if ('text' in answer) {
        parts.push({ type: 'text-start', id: 't' });
        for (const piece of answer.text.match(/.{1,5}/g) ?? []) {
          parts.push({ type: 'text-delta', id: 't', delta: piece });
        }
        parts.push({ type: 'text-end', id: 't' });
      } else {
        parts.push(...content(answer));
      }
      parts.push({ type: 'finish', finishReason: finishReason(answer), usage });
      return { stream: convertArrayToReadableStream(parts) as never };
    },
  });
}

/** Tools that record when their body runs. */
export function makeTools(): {
  ran: string[];
  tools: { search: Tool<any, any>; refund: Tool<any, any>; drop_table: Tool<any, any> };
} {
  const ran: string[] = [];
  const search = tool({
    description: 'Search the knowledge base.',
    inputSchema: z.object({ query: z.string() }),
    execute: async ({ query }) => {
      ran.push('search');
      return `3 results for ${query}`;
    },
  });
  const refund = tool({
    description: 'Refund a customer.',
    inputSchema: z.object({ amount: z.number() }),
    execute: async ({ amount }) => {
      ran.push('refund');
      return { refunded: amount };
    },
  });
  const dropTable = tool({
    description: 'Drop a database table.',
    inputSchema: z.object({ table: z.string() }),
    execute: async ({ table }) => {
      ran.push('drop_table');
      return `dropped ${table}`;
    },
  });
  return { ran, tools: { search, refund, drop_table: dropTable } };
}
