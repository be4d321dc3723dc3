import {
  configure,
  flush,
  PolicyDeniedError,
  registeredAdapters,
  uninstallAdapters,
  withSession,
} from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { createAgent } from 'langchain';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  ArdenCallbackHandler,
  ArdenUsageHandler,
  adapterName,
  ardenMiddleware,
  install,
  protectTools,
  uninstall,
} from './index';
import {
  answer,
  makeTools,
  modelName,
  StreamingFakeModel,
  scriptedModel,
  textOf,
  usage,
} from './test-helpers';

let arden: TestArden;

beforeEach(() => {
  arden = createTestArden({
    decisions: { drop_table: 'block', refund: 'requires_approval' },
  });
  configure(arden.options());
});

afterEach(async () => {
  await flush();
  uninstallAdapters();
});

function toolMessages(messages: unknown[]): ToolMessage[] {
  return messages.filter((message): message is ToolMessage => ToolMessage.isInstance(message));
}

describe('automatic interception (configure)', () => {
  test('registers on import without patching, and configure() installs it', () => {
    expect(registeredAdapters()).toContain(adapterName);
  });

  test('an allowed tool runs; a blocked one does not, the model is told why, and the run ends with an answer', async () => {
    const { ran, all } = makeTools();
    const model = scriptedModel(
      answer('', [
        { name: 'search', args: { query: 'refund policy' }, id: 'call_1' },
        { name: 'drop_table', args: { table: 'users' }, id: 'call_2' },
      ]),
      answer('I searched; dropping the table was blocked.'),
    );
    const agent = createAgent({ model, tools: all });
    const result = await agent.invoke({ messages: [new HumanMessage('clean up')] });

    expect(ran).toEqual(['search']);
    const [searchResult, dropResult] = toolMessages(result.messages);
    expect(searchResult?.status).toBe('success');
    expect(textOf(searchResult)).toBe('3 results for refund policy');
    expect(dropResult?.status).toBe('error');
    expect(dropResult?.tool_call_id).toBe('call_2');
    expect(textOf(dropResult)).toMatch(/blocked this call to "drop_table" by policy/);
    expect(textOf(result.messages.at(-1))).toBe('I searched; dropping the table was blocked.');
    // The model received the denial on its second call.
    expect(model.calls[1]?.messages.some((m) => textOf(m).includes('blocked'))).toBe(true);

    expect(arden.checks.map((check) => [check.toolName, check.decision])).toEqual([
      ['search', 'allow'],
      ['drop_table', 'block'],
    ]);
    expect(arden.checks[0]?.kwargs).toEqual({ query: 'refund policy' });
    expect(arden.checks[0]?.metadata).toMatchObject({
      framework: 'langchain',
      tool_call_id: 'call_1',
    });
    await flush();
    expect(arden.results).toHaveLength(1);
    expect(arden.results[0]).toMatchObject({
      actionId: arden.checks[0]?.actionId,
      status: 'succeeded',
    });
  });

  test('a held call waits; approved, it runs once', async () => {
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'refund', args: { amount: 40 }, id: 'r1' }]),
        answer('Refunded.'),
      ),
      tools: all,
    });
    const run = agent.invoke({ messages: [new HumanMessage('refund me')] });
    const held = await arden.nextPending();
    expect(held.toolName).toBe('refund');
    expect(ran).toEqual([]);
    arden.approve(held.actionId, 'ok');
    const result = await run;
    expect(ran).toEqual(['refund']);
    expect(textOf(toolMessages(result.messages)[0])).toBe('refunded 40');
    expect(textOf(result.messages.at(-1))).toBe('Refunded.');
  });

  test('a held call that is denied does not run; the model is told, with the notes', async () => {
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'refund', args: { amount: 900 }, id: 'r2' }]),
        answer('Sorry.'),
      ),
      tools: all,
    });
    const run = agent.invoke({ messages: [new HumanMessage('refund me')] });
    const held = await arden.nextPending();
    arden.deny(held.actionId, 'over the limit');
    const result = await run;
    expect(ran).toEqual([]);
    const denial = toolMessages(result.messages)[0];
    expect(denial?.status).toBe('error');
    expect(textOf(denial)).toMatch(/denied this call to "refund": over the limit/);
    expect(textOf(result.messages.at(-1))).toBe('Sorry.');
  });

  test('tools made after configure() and direct invoke() are checked too', async () => {
    const { ran, dropTable, search } = makeTools();
    expect(await search.invoke({ query: 'x' })).toBe('3 results for x');
    expect(await dropTable.invoke({ table: 't' })).toMatch(/blocked/);
    expect(ran).toEqual(['search']);
    expect(arden.checks.map((check) => check.toolName)).toEqual(['search', 'drop_table']);
  });

  test('throwOnDenial makes a denial throw PolicyDeniedError', async () => {
    install({ throwOnDenial: true });
    const { dropTable } = makeTools();
    await expect(dropTable.invoke({ table: 't' })).rejects.toSatisfy((error) =>
      PolicyDeniedError.isInstance(error),
    );
  });

  test('a tool name prefix from install()', async () => {
    install({ toolNamePrefix: 'support.', toolNames: { refund: 'payments.refund' } });
    const { search } = makeTools();
    await search.invoke({ query: 'x' });
    expect(arden.checks[0]?.toolName).toBe('support.search');
  });

  test('uninstall() lets tools run unchecked', async () => {
    uninstall();
    const { ran, dropTable } = makeTools();
    await dropTable.invoke({ table: 't' });
    expect(ran).toEqual(['drop_table']);
    expect(arden.checks).toHaveLength(0);
  });
});

describe('sessions', () => {
  test('every check and usage record of a run carries the session', async () => {
    const { all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [
          { name: 'search', args: { query: 'a' }, id: 's1' },
          { name: 'drop_table', args: { table: 'b' }, id: 's2' },
        ]),
        answer('done'),
      ),
      tools: all,
    });
    await withSession('conversation-7', () => agent.invoke({ messages: [new HumanMessage('go')] }));
    await flush();
    expect(arden.checks.map((check) => check.sessionId)).toEqual([
      'conversation-7',
      'conversation-7',
    ]);
    expect(arden.usage.map((event) => event.session_id)).toEqual([
      'conversation-7',
      'conversation-7',
    ]);
  });

  test('concurrent runs keep their own sessions', async () => {
    const runOne = async (session: string) => {
      const { all } = makeTools();
      const agent = createAgent({
        model: scriptedModel(
          answer('', [{ name: 'search', args: { query: session }, id: session }]),
          answer('ok'),
        ),
        tools: all,
      });
      return withSession(session, () => agent.invoke({ messages: [new HumanMessage('go')] }));
    };
    await Promise.all([runOne('alpha'), runOne('beta'), runOne('gamma')]);
    for (const check of arden.checks) {
      expect(check.sessionId).toBe(check.kwargs.query);
    }
  });

  test('arden_session_id in the run metadata when no session is set', async () => {
    const { search } = makeTools();
    await search.invoke({ query: 'x' }, { metadata: { arden_session_id: 'from-config' } });
    expect(arden.checks[0]?.sessionId).toBe('from-config');
  });
});

describe('usage', () => {
  test('generate: one record per model call, with the model and counts', async () => {
    const model = scriptedModel(answer('hello'));
    await withSession('u1', () => model.invoke('hi'));
    await flush();
    expect(arden.usage).toEqual([
      expect.objectContaining({
        model: modelName,
        prompt_tokens: usage.input_tokens,
        completion_tokens: usage.output_tokens,
        session_id: 'u1',
      }),
    ]);
  });

  test('stream: the real streaming path records once, with the summed usage', async () => {
    const model = new StreamingFakeModel().respond(answer('streamed answer'));
    let text = '';
    for await (const chunk of await model.stream('hi')) text += textOf(chunk);
    expect(text).toBe('streamed answer');
    await flush();
    expect(arden.usage).toEqual([
      expect.objectContaining({
        model: modelName,
        prompt_tokens: usage.input_tokens,
        completion_tokens: usage.output_tokens,
      }),
    ]);
  });

  test('stream of a model without streaming (falls back to invoke) records once', async () => {
    const model = scriptedModel(answer('whole'));
    for await (const _chunk of await model.stream('hi')) {
      // drain
    }
    await flush();
    expect(arden.usage).toHaveLength(1);
  });

  test('an agent streamed with streamMode "messages" records each model call once', async () => {
    const { all } = makeTools();
    const model = new StreamingFakeModel()
      .respond(answer('', [{ name: 'search', args: { query: 'q' }, id: 'm1' }]))
      .respond(answer('final'));
    const agent = createAgent({ model, tools: all });
    const stream = await agent.stream(
      { messages: [new HumanMessage('go')] },
      { streamMode: 'messages' },
    );
    for await (const _chunk of stream) {
      // drain
    }
    await flush();
    expect(
      arden.usage.map((event) => [event.model, event.prompt_tokens, event.completion_tokens]),
    ).toEqual([
      [modelName, 12, 7],
      [modelName, 12, 7],
    ]);
  });

  test('install({ usage: false }) records none', async () => {
    install({ usage: false });
    await scriptedModel(answer('x')).invoke('hi');
    await flush();
    expect(arden.usage).toHaveLength(0);
  });

  test('ArdenUsageHandler records when the patch is off, and stays quiet when it is on', async () => {
    await scriptedModel(answer('x')).invoke('hi', { callbacks: [new ArdenUsageHandler()] });
    await flush();
    expect(arden.usage).toHaveLength(1);
    uninstall();
    await withSession('handler', () =>
      scriptedModel(answer('y')).invoke('hi', { callbacks: [new ArdenUsageHandler()] }),
    );
    await flush();
    expect(arden.usage).toHaveLength(2);
    expect(arden.usage[1]).toMatchObject({
      model: modelName,
      prompt_tokens: 12,
      session_id: 'handler',
    });
  });
});

describe('explicit wrappers', () => {
  test('protectTools: per-tool names, checked once although the class is patched too', async () => {
    const { ran, search, dropTable } = makeTools();
    const tools = protectTools([search, dropTable], { toolNamePrefix: 'kb.' });
    const agent = createAgent({
      model: scriptedModel(
        answer('', [
          { name: 'search', args: { query: 'a' }, id: 'p1' },
          { name: 'drop_table', args: { table: 'b' }, id: 'p2' },
        ]),
        answer('done'),
      ),
      tools,
    });
    arden.setDecisions({ 'kb.drop_table': 'block' });
    const result = await agent.invoke({ messages: [new HumanMessage('go')] });
    expect(ran).toEqual(['search']);
    expect(arden.checks.map((check) => check.toolName)).toEqual(['kb.search', 'kb.drop_table']);
    expect(textOf(toolMessages(result.messages)[1])).toMatch(/blocked/);
    // The originals are untouched (still checked by the class patch under their own names).
    await search.invoke({ query: 'c' });
    expect(arden.checks.at(-1)?.toolName).toBe('search');
    expect(tools[0]?.name).toBe('search');
    expect(tools[0]?.description).toBe('Search the knowledge base.');
  });

  test('protectTools works without the automatic patch', async () => {
    uninstall();
    const { ran, refund } = makeTools();
    const [guarded] = protectTools([refund]);
    const run = guarded!.invoke({ amount: 5 });
    const held = await arden.nextPending();
    arden.approve(held.actionId);
    expect(await run).toBe('refunded 5');
    expect(ran).toEqual(['refund']);
  });

  test("protectTools approvalMode 'async' answers at once and runs the tool when approved", async () => {
    const { ran, refund } = makeTools();
    const approved: unknown[] = [];
    const [guarded] = protectTools([refund], {
      approvalModes: { refund: 'async' },
      onApproval: (result) => {
        approved.push(result);
      },
    });
    const message = await guarded!.invoke({
      name: 'refund',
      args: { amount: 8 },
      id: 'a1',
      type: 'tool_call',
    });
    expect(ToolMessage.isInstance(message)).toBe(true);
    expect(textOf(message)).toMatch(/waiting for a human approval/);
    expect(ran).toEqual([]);
    arden.approve(arden.pending()[0]!.actionId);
    await flush();
    expect(ran).toEqual(['refund']);
    expect(approved).toHaveLength(1);
  });

  test('ardenMiddleware: checks in wrapToolCall, once, and a denial does not fail the run', async () => {
    uninstall();
    install({ toolNamePrefix: 'patched.' });
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [
          { name: 'search', args: { query: 'a' }, id: 'w1' },
          { name: 'drop_table', args: { table: 'b' }, id: 'w2' },
        ]),
        answer('done'),
      ),
      tools: all,
      middleware: [ardenMiddleware()],
    });
    const result = await agent.invoke({ messages: [new HumanMessage('go')] });
    expect(ran).toEqual(['search']);
    expect(arden.checks.map((check) => check.toolName)).toEqual(['search', 'drop_table']);
    const denial = toolMessages(result.messages)[1];
    expect(denial?.status).toBe('error');
    expect(textOf(denial)).toMatch(/blocked/);
    expect(textOf(result.messages.at(-1))).toBe('done');
  });

  test('ardenMiddleware leaves tools wrapped by protectTools to their wrapper: one check per call', async () => {
    uninstall();
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [
          { name: 'search', args: { query: 'a' }, id: 'p1' },
          { name: 'drop_table', args: { table: 'b' }, id: 'p2' },
        ]),
        answer('done'),
      ),
      tools: protectTools(all, { toolNamePrefix: 'billing.' }),
      middleware: [ardenMiddleware(), ardenMiddleware({ approval: 'interrupt', name: 'Again' })],
    });
    await agent.invoke({ messages: [new HumanMessage('go')] });
    // Checked once, under the wrapper's name — not a second time under the middleware's (where
    // drop_table is blocked; billing.drop_table has no decision here, so it is allowed).
    expect(arden.checks.map((check) => check.toolName)).toEqual([
      'billing.search',
      'billing.drop_table',
    ]);
    expect(ran).toEqual(['search', 'drop_table']);
  });

  test('ardenMiddleware holds a call until approved', async () => {
    uninstall();
    const { ran, all } = makeTools();
    const agent = createAgent({
      model: scriptedModel(
        answer('', [{ name: 'refund', args: { amount: 1 }, id: 'h1' }]),
        answer('ok'),
      ),
      tools: all,
      middleware: [ardenMiddleware()],
    });
    const run = agent.invoke({ messages: [new HumanMessage('go')] });
    arden.approve((await arden.nextPending()).actionId);
    await run;
    expect(ran).toEqual(['refund']);
  });
});

describe('ArdenCallbackHandler (observe only)', () => {
  test('logs every tool call without enforcing', async () => {
    uninstall();
    const { ran, all } = makeTools();
    const handler = new ArdenCallbackHandler({ includeOutput: true });
    const agent = createAgent({
      model: scriptedModel(
        answer('', [
          { name: 'search', args: { query: 'a' }, id: 'o1' },
          { name: 'drop_table', args: { table: 'b' }, id: 'o2' },
        ]),
        answer('done'),
      ),
      tools: all,
    });
    await withSession('observed', () =>
      agent.invoke({ messages: [new HumanMessage('go')] }, { callbacks: [handler] }),
    );
    await handler.flush();
    await flush();
    expect(ran).toEqual(['search', 'drop_table']);
    expect(arden.checks.map((check) => [check.toolName, check.sessionId])).toEqual([
      ['search', 'observed'],
      ['drop_table', 'observed'],
    ]);
    expect(arden.checks[0]?.metadata).toMatchObject({
      observe_only: true,
      output: '3 results for a',
    });
    expect(arden.checks[1]?.kwargs).toEqual({ table: 'b' });
  });
});
