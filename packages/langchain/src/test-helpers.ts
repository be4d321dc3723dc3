import type { BaseMessage } from '@langchain/core/messages';
import { AIMessage, AIMessageChunk } from '@langchain/core/messages';
import { ChatGenerationChunk } from '@langchain/core/outputs';
import { FakeBuiltModel, fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';

/** Usage the scripted model reports on each answer. */
export const usage = { input_tokens: 12, output_tokens: 7, total_tokens: 19 };
/** The model name the scripted model reports. */
export const modelName = 'gpt-4o-mini-2024-07-18';

/** A scripted AI message: tool calls (or none) with usage and a model name. */
export function answer(
  content: string,
  toolCalls: { name: string; args: Record<string, unknown>; id: string }[] = [],
): AIMessage {
  return new AIMessage({
    content,
    tool_calls: toolCalls.map((call) => ({ ...call, type: 'tool_call' as const })),
    usage_metadata: usage,
    response_metadata: { model_name: modelName },
  });
}

/**
 * `fakeModel()` answers a stream with one `invoke()`; this one streams its scripted answer in
 * chunks, usage in the last one (as OpenAI does), so the real streaming path is exercised.
 */
export class StreamingFakeModel extends FakeBuiltModel {
  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
  ): AsyncGenerator<ChatGenerationChunk> {
    const result = await this._generate(messages, options);
    const message = result.generations[0]?.message as AIMessage;
    const text = typeof message.content === 'string' ? message.content : '';
    for (const piece of text.match(/.{1,4}/g) ?? []) {
      yield new ChatGenerationChunk({ text: piece, message: new AIMessageChunk(piece) });
    }
    yield new ChatGenerationChunk({
      text: '',
      message: new AIMessageChunk({
        content: '',
        usage_metadata: message.usage_metadata,
        response_metadata: message.response_metadata,
      }),
    });
  }
}

/** A fresh scripted model that answers with `answers` in order. */
export function scriptedModel(...answers: AIMessage[]) {
  const model = fakeModel();
  for (const next of answers) model.respond(next);
  return model;
}

/** Tools that record when their body runs. */
export function makeTools() {
  const ran: string[] = [];
  const search = tool(
    async ({ query }: { query: string }) => {
      ran.push('search');
      return `3 results for ${query}`;
    },
    {
      name: 'search',
      description: 'Search the knowledge base.',
      schema: z.object({ query: z.string() }),
    },
  );
  const refund = tool(
    async ({ amount }: { amount: number }) => {
      ran.push('refund');
      return `refunded ${amount}`;
    },
    {
      name: 'refund',
      description: 'Refund a customer.',
      schema: z.object({ amount: z.number() }),
    },
  );
  const dropTable = tool(
    async ({ table }: { table: string }) => {
      ran.push('drop_table');
      return `dropped ${table}`;
    },
    {
      name: 'drop_table',
      description: 'Drop a database table.',
      schema: z.object({ table: z.string() }),
    },
  );
  return { ran, search, refund, dropTable, all: [search, refund, dropTable] };
}

/** The text of a message's content. */
export function textOf(message: BaseMessage | undefined): string {
  const content = message?.content;
  return typeof content === 'string' ? content : JSON.stringify(content);
}
