// The internals the adapter patches, on each end of the @langchain/core peer range (issue #12,
// item 7): vitest.config.ts runs this file with the newest version and again with the oldest
// (1.0.0) aliased in place of @langchain/core, for the adapter's source and this suite alike.
// Only APIs present in every accepted version are used; a real Arden server decides.
import { configure, createArden, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, AIMessageChunk, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { ChatGenerationChunk, type ChatResult } from '@langchain/core/outputs';
import {
  DynamicStructuredTool,
  DynamicTool,
  StructuredTool,
  Tool,
  tool,
} from '@langchain/core/tools';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { install, protectTools } from './index';

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

class Echo extends Tool {
  name = 'echo_tool';
  description = 'Echo.';
  constructor(private readonly ran: string[]) {
    super();
  }
  async _call(input: string) {
    this.ran.push(input);
    return input;
  }
}

class Lookup extends StructuredTool {
  name = 'lookup_subclass';
  description = 'Look up.';
  schema = z.object({ query: z.string() });
  constructor(private readonly ran: string[]) {
    super();
  }
  async _call({ query }: { query: string }) {
    this.ran.push(query);
    return query;
  }
}

/** What these tests need of a tool, whatever its input type. */
interface AnyTool {
  name: string;
  invoke(input: unknown, config?: unknown): Promise<unknown>;
  call(input: unknown, config?: unknown): Promise<unknown>;
  stream(input: unknown): Promise<AsyncIterable<unknown>>;
  batch(inputs: unknown[]): Promise<unknown[]>;
}

/** Tools of every kind whose body records its input: string tools and structured ones. */
function toolsOfEveryKind(ran: string[]): { tool: AnyTool; structured: boolean }[] {
  const record = async (input: string | { query: string }) => {
    const value = typeof input === 'string' ? input : input.query;
    ran.push(value);
    return value;
  };
  const schema = z.object({ query: z.string() });
  const tools: { tool: unknown; structured: boolean }[] = [
    {
      tool: tool(record, { name: 'lookup_tool_fn', description: 'Look up.', schema }),
      structured: true,
    },
    { tool: tool(record, { name: 'echo_tool_fn', description: 'Echo.' }), structured: false },
    {
      tool: new DynamicTool({ name: 'echo_dynamic', description: 'Echo.', func: record }),
      structured: false,
    },
    {
      tool: new DynamicStructuredTool({
        name: 'lookup_dynamic',
        description: 'Look up.',
        schema,
        func: record,
      }),
      structured: true,
    },
    { tool: new Echo(ran), structured: false },
    { tool: new Lookup(ran), structured: true },
  ];
  return tools as { tool: AnyTool; structured: boolean }[];
}

/**
 * Every public way of running a tool, given the input as a caller passes it and as a model's
 * tool call carries it (a string tool's tool call has `{ input }`).
 */
const entries: Record<
  string,
  (tool: AnyTool, input: unknown, callArgs: Record<string, unknown>) => Promise<unknown>
> = {
  invoke: (tool, input) => tool.invoke(input),
  'invoke with a tool call': (tool, _input, args) =>
    tool.invoke({ name: tool.name, args, id: 'entry', type: 'tool_call' }),
  call: (tool, input) => tool.call(input),
  'call with a tool call': (tool, _input, args) =>
    tool.call({ name: tool.name, args, id: 'entry', type: 'tool_call' }),
  stream: async (tool, input) => {
    for await (const _ of await tool.stream(input)) {
      // drained
    }
  },
  batch: (tool, input) => tool.batch([input]),
};

/** The value a logged action's policy input carries (`{ query }` or `{ input }`). */
function loggedValue(action: { kwargs: Record<string, unknown> }): unknown {
  return Object.values(action.kwargs)[0];
}

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      { name: 'Never drop tables', tool: 'drop_table', action: 'block' },
      { name: 'Refunds need a human', tool: 'refund', action: 'requires_approval' },
      { name: 'Never wipe', tool: 'wipe', action: 'block' },
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

  test('every public way of running a tool is checked exactly once, with the input as given', async () => {
    const ran: string[] = [];
    const expected: [string, string][] = [];
    for (const { tool: each, structured } of toolsOfEveryKind(ran)) {
      for (const [entry, run] of Object.entries(entries)) {
        const value = `${each.name} ${entry}`;
        await run(each, structured ? { query: value } : value, {
          [structured ? 'query' : 'input']: value,
        });
        expected.push([each.name, value]);
      }
    }
    expect(ran.sort()).toEqual(expected.map(([, value]) => value).sort());
    const names = new Set(expected.map(([name]) => name));
    const logged = (await t.actions())
      .filter((action) => names.has(action.toolName))
      .map((action) => [action.toolName, loggedValue(action)]);
    expect(logged.sort()).toEqual(expected.sort());
  });

  test('call() of a blocked tool never runs its body, whatever the kind of tool', async () => {
    const ran: string[] = [];
    const record = async (input: unknown) => {
      ran.push(JSON.stringify(input));
      return 'wiped';
    };
    const tools = [
      tool(record, { name: 'wipe', description: 'Wipe.', schema: z.object({ table: z.string() }) }),
      tool(record, { name: 'wipe', description: 'Wipe.' }),
      new DynamicTool({ name: 'wipe', description: 'Wipe.', func: record }),
      new DynamicStructuredTool({
        name: 'wipe',
        description: 'Wipe.',
        schema: z.object({ table: z.string() }),
        func: record,
      }),
    ] as unknown as AnyTool[];
    const before = (await t.actions()).length;
    for (const each of tools) {
      expect(await each.call({ table: 'users' })).toMatch(/^Arden blocked this call to "wipe"/);
      const message = await each.call({
        name: 'wipe',
        args: { table: 'users' },
        id: 'w1',
        type: 'tool_call',
      });
      expect((message as ToolMessage).status).toBe('error');
    }
    const dropTable = new DropTable();
    expect(await dropTable.call({ table: 'users' })).toMatch(/^Arden blocked this call/);
    expect(dropTable.ran).toBe(0);
    expect(ran).toEqual([]);
    const actions = (await t.actions()).slice(before);
    expect(actions.map((action) => action.decision)).toEqual(Array(9).fill('block'));
  });

  test('with Arden unreachable, call() is refused like invoke()', async () => {
    const ran: number[] = [];
    const refund = tool(
      async ({ amount }: { amount: number }) => {
        ran.push(amount);
        return `refunded ${amount}`;
      },
      { name: 'refund_now', description: 'Refund.', schema: z.object({ amount: z.number() }) },
    );
    const unreachable = createArden({
      apiKey: t.key,
      apiUrl: 'http://127.0.0.1:9',
      logLevel: 'silent',
      retryAttempts: 0,
    });
    const refused =
      'Arden could not be reached to check this call to "refund_now", so the tool did not run.';
    install({ arden: unreachable });
    try {
      expect(await refund.invoke({ amount: 5 })).toBe(refused);
      expect(await refund.call({ amount: 5 })).toBe(refused);
      const [guarded] = protectTools([refund], { arden: unreachable });
      expect(await guarded?.call({ amount: 6 })).toBe(refused);
    } finally {
      install();
    }
    expect(ran).toEqual([]);
  });

  test('protectTools: invoke() and call() of a protected tool are each checked once', async () => {
    const ran: string[] = [];
    const [lookup, wipe] = protectTools([
      tool(async ({ query }: { query: string }) => ran.push(query), {
        name: 'protected_lookup',
        description: 'Look up.',
        schema: z.object({ query: z.string() }),
      }),
      new DynamicTool({
        name: 'wipe',
        description: 'Wipe.',
        func: async (input) => `${ran.push(input)}`,
      }),
    ] as unknown as AnyTool[]);
    await lookup?.invoke({ query: 'a' });
    await lookup?.call({ query: 'b' });
    await lookup?.invoke({
      name: 'protected_lookup',
      args: { query: 'c' },
      id: 'p',
      type: 'tool_call',
    });
    expect(await wipe?.call('now')).toMatch(/^Arden blocked this call to "wipe"/);
    expect(ran).toEqual(['a', 'b', 'c']);
    const logged = (await t.actions())
      .filter((action) => action.toolName === 'protected_lookup')
      .map(loggedValue);
    expect(logged).toEqual(['a', 'b', 'c']);
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
