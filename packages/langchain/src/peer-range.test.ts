// The internals the adapter patches, on each end of the @langchain/core peer range (issue #12,
// item 7): vitest.config.ts runs this file with the newest version and again with the oldest
// (1.0.0) aliased in place of @langchain/core, for the adapter's source and this suite alike.
// Only APIs present in every accepted version are used; a real Arden server decides.
import { configure, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, AIMessageChunk, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { ChatGenerationChunk, type ChatResult } from '@langchain/core/outputs';
import { StructuredTool, tool } from '@langchain/core/tools';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import './index';

const usage = { input_tokens: 11, output_tokens: 4, total_tokens: 15 };

/** A chat model of this copy of @langchain/core, with usage on its answers, plain and streamed. */
class UsageModel extends BaseChatModel {
  _llmType() {
    return 'peer-range';
  }

  async _generate(): Promise<ChatResult> {
    const message = new AIMessage({
      content: 'hello',
      usage_metadata: usage,
      response_metadata: { model_name: 'peer-model' },
    });
    return { generations: [{ text: 'hello', message }] };
  }

  override async *_streamResponseChunks(_messages: BaseMessage[]) {
    yield new ChatGenerationChunk({ text: 'he', message: new AIMessageChunk('he') });
    yield new ChatGenerationChunk({
      text: 'llo',
      message: new AIMessageChunk({
        content: 'llo',
        usage_metadata: usage,
        response_metadata: { model_name: 'peer-model' },
      }),
    });
  }
}

class DropTable extends StructuredTool {
  name = 'drop_table';
  description = 'Drop a table.';
  schema = z.object({ table: z.string() });
  ran = 0;
  async _call({ table }: { table: string }) {
    this.ran++;
    return `dropped ${table}`;
  }
}

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

describe(`@langchain/core ${process.env.ARDEN_EXPECTED_LANGCHAIN_CORE}`, () => {
  test('the version under test is the one this suite and the adapter resolve', async () => {
    const specifier = '@langchain/core/package.json';
    const manifest = (await import(/* @vite-ignore */ specifier)) as {
      default: { version: string };
    };
    expect(manifest.default.version).toBe(process.env.ARDEN_EXPECTED_LANGCHAIN_CORE);
  });

  test('tool calls are checked: direct and as a tool call, tool() and a subclass', async () => {
    const ran: string[] = [];
    const search = tool(
      async ({ query }: { query: string }) => {
        ran.push(query);
        return `found ${query}`;
      },
      { name: 'search', description: 'Search.', schema: z.object({ query: z.string() }) },
    );
    const dropTable = new DropTable();
    expect(await search.invoke({ query: 'x' })).toBe('found x');
    expect(await dropTable.invoke({ table: 'users' })).toMatch(
      /^Arden blocked this call to "drop_table" by policy/,
    );
    const message = await dropTable.invoke({
      name: 'drop_table',
      args: { table: 'users' },
      id: 'p1',
      type: 'tool_call',
    });
    expect(ToolMessage.isInstance(message)).toBe(true);
    expect((message as ToolMessage).status).toBe('error');
    expect(dropTable.ran).toBe(0);
    expect(ran).toEqual(['x']);
    const actions = await t.actions();
    expect(actions.slice(-3).map((action) => [action.toolName, action.decision])).toEqual([
      ['search', 'allow'],
      ['drop_table', 'block'],
      ['drop_table', 'block'],
    ]);
  });

  test('async approval: onApproval receives the tool result', async () => {
    const { protectTools } = await import('./index');
    const refund = tool(async ({ amount }: { amount: number }) => `refunded ${amount}`, {
      name: 'refund',
      description: 'Refund.',
      schema: z.object({ amount: z.number() }),
    });
    const approved = new Promise<unknown>((resolve) => {
      const [guarded] = protectTools([refund], {
        approvalMode: 'async',
        onApproval: (result) => resolve(result),
      });
      void guarded?.invoke({ name: 'refund', args: { amount: 9 }, id: 'p2', type: 'tool_call' });
    });
    await t.approve((await t.nextPending()).id);
    expect(await approved).toBe('refunded 9');
  });

  test('chat model usage is recorded, invoke (_generateUncached) and stream (_streamIterator)', async () => {
    const model = new UsageModel({});
    await withSession('peer-invoke', () => model.invoke('hi'));
    await withSession('peer-stream', async () => {
      let text = '';
      for await (const chunk of await model.stream('hi')) text += chunk.content;
      expect(text).toBe('hello');
    });
    await flush();
    const deadline = Date.now() + 5_000;
    let recorded: { sessionId: string | null; promptTokens: number }[] = [];
    while (Date.now() < deadline) {
      recorded = (await t.usage()).filter((event) => event.sessionId?.startsWith('peer-'));
      if (recorded.length >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(recorded.map((event) => [event.sessionId, event.promptTokens]).sort()).toEqual([
      ['peer-invoke', 11],
      ['peer-stream', 11],
    ]);
  });
});
