import {
  configure,
  flush,
  PolicyDeniedError,
  registeredAdapters,
  uninstallAdapters,
  withSession,
} from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import { generateText, isStepCount, type ModelMessage, streamText, wrapLanguageModel } from 'ai';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  adapterName,
  ardenToolApproval,
  ardenUsageMiddleware,
  guardTools,
  install,
  recordLanguageModelUsage,
  resolveArdenApprovals,
  uninstall,
} from './index';
import { generatingModel, makeTools, responseModelId, streamingModel, usage } from './test-helpers';

let arden: TestArden;

beforeEach(() => {
  arden = createTestArden({ decisions: { drop_table: 'block', refund: 'requires_approval' } });
  configure(arden.options());
});

afterEach(async () => {
  await flush();
  uninstallAdapters();
});

/** The tool results the model received in its prompt on call `index`. */
function toolResultsSeen(model: { doGenerateCalls: { prompt: unknown }[] }, index: number) {
  const prompt = model.doGenerateCalls[index]?.prompt as {
    role: string;
    content: {
      type: string;
      toolName?: string;
      output?: { type: string; value?: unknown; reason?: string };
    }[];
  }[];
  return prompt
    .filter((message) => message.role === 'tool')
    .flatMap((message) => message.content)
    .filter((part) => part.type === 'tool-result')
    .map((part) => ({ tool: part.toolName, output: part.output }));
}

const blockedAndAllowed = [
  {
    calls: [
      { name: 'search', input: { query: 'refund policy' }, id: 'call_1' },
      { name: 'drop_table', input: { table: 'users' }, id: 'call_2' },
    ],
  },
  { text: 'Searched; the drop was blocked.' },
];

describe('automatic interception (configure → registerTelemetry)', () => {
  test('registers on import, and configure() installs it', () => {
    expect(registeredAdapters()).toContain(adapterName);
  });

  test('an allowed tool runs; a blocked one does not, the model is told why, and the run ends with an answer', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(...blockedAndAllowed);
    const result = await generateText({
      model,
      tools,
      prompt: 'clean up',
      stopWhen: isStepCount(3),
    });

    expect(ran).toEqual(['search']);
    expect(result.text).toBe('Searched; the drop was blocked.');
    const seen = toolResultsSeen(model, 1);
    expect(seen[0]).toEqual({
      tool: 'search',
      output: { type: 'text', value: '3 results for refund policy' },
    });
    expect(seen[1]?.tool).toBe('drop_table');
    expect(seen[1]?.output?.type).toBe('error-text');
    expect(String(seen[1]?.output?.value)).toMatch(/blocked this call to "drop_table" by policy/);
    const error = result.steps[0]?.content.find((part) => part.type === 'tool-error');
    expect(PolicyDeniedError.isInstance((error as { error?: unknown } | undefined)?.error)).toBe(
      true,
    );

    expect(arden.checks.map((check) => [check.toolName, check.decision])).toEqual([
      ['search', 'allow'],
      ['drop_table', 'block'],
    ]);
    expect(arden.checks[0]?.kwargs).toEqual({ query: 'refund policy' });
    expect(arden.checks[0]?.metadata).toMatchObject({
      framework: 'ai-sdk',
      tool_call_id: 'call_1',
    });
    await flush();
    expect(arden.results).toEqual([
      expect.objectContaining({ actionId: arden.checks[0]?.actionId, status: 'succeeded' }),
    ]);
  });

  test('a held call waits; approved, it runs once', async () => {
    const { ran, tools } = makeTools();
    const run = generateText({
      model: generatingModel(
        { calls: [{ name: 'refund', input: { amount: 40 }, id: 'r1' }] },
        { text: 'Refunded.' },
      ),
      tools,
      prompt: 'refund',
      stopWhen: isStepCount(3),
    });
    const held = await arden.nextPending();
    expect(ran).toEqual([]);
    arden.approve(held.actionId);
    const result = await run;
    expect(ran).toEqual(['refund']);
    expect(result.text).toBe('Refunded.');
  });

  test('a held call that is denied does not run; the model is told, with the notes', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 900 }, id: 'r2' }] },
      { text: 'Sorry.' },
    );
    const run = generateText({ model, tools, prompt: 'refund', stopWhen: isStepCount(3) });
    arden.deny((await arden.nextPending()).actionId, 'over the limit');
    const result = await run;
    expect(ran).toEqual([]);
    expect(result.text).toBe('Sorry.');
    expect(String(toolResultsSeen(model, 1)[0]?.output?.value)).toMatch(
      /denied this call to "refund": over the limit/,
    );
  });

  test('streamText: tools are checked the same way', async () => {
    const { ran, tools } = makeTools();
    const result = streamText({
      model: streamingModel(...blockedAndAllowed),
      tools,
      prompt: 'clean up',
      stopWhen: isStepCount(3),
    });
    expect(await result.text).toBe('Searched; the drop was blocked.');
    expect(ran).toEqual(['search']);
    expect(arden.checks.map((check) => check.decision)).toEqual(['allow', 'block']);
  });

  test('a tool name prefix from install(); uninstall() lets tools run unchecked', async () => {
    install({ toolNamePrefix: 'support.' });
    const { ran, tools } = makeTools();
    await generateText({
      model: generatingModel(
        { calls: [{ name: 'search', input: { query: 'x' }, id: 'p1' }] },
        { text: 'ok' },
      ),
      tools,
      prompt: 'go',
      stopWhen: isStepCount(2),
    });
    expect(arden.checks[0]?.toolName).toBe('support.search');
    uninstall();
    await generateText({
      model: generatingModel(
        { calls: [{ name: 'drop_table', input: { table: 'x' }, id: 'p2' }] },
        { text: 'ok' },
      ),
      tools,
      prompt: 'go',
      stopWhen: isStepCount(2),
    });
    expect(ran).toEqual(['search', 'drop_table']);
    expect(arden.checks).toHaveLength(1);
  });

  test('the gap: a call that overrides telemetry is not intercepted (guardTools covers it)', async () => {
    const { ran, tools } = makeTools();
    await generateText({
      model: generatingModel(
        { calls: [{ name: 'drop_table', input: { table: 'x' }, id: 'g1' }] },
        { text: 'ok' },
      ),
      tools,
      prompt: 'go',
      stopWhen: isStepCount(2),
      telemetry: { isEnabled: false },
    });
    expect(ran).toEqual(['drop_table']);
    const guarded = makeTools();
    await generateText({
      model: generatingModel(
        { calls: [{ name: 'drop_table', input: { table: 'x' }, id: 'g2' }] },
        { text: 'ok' },
      ),
      tools: guardTools(guarded.tools),
      prompt: 'go',
      stopWhen: isStepCount(2),
      telemetry: { isEnabled: false },
    });
    expect(guarded.ran).toEqual([]);
  });
});

describe('guardTools', () => {
  test('per-tool names; checked once although the automatic route is on; the denial is the tool result', async () => {
    const { ran, tools } = makeTools();
    arden.setDecisions({ 'kb.drop_table': 'block' });
    const model = generatingModel(...blockedAndAllowed);
    const result = await generateText({
      model,
      tools: guardTools(tools, { toolNamePrefix: 'kb.' }),
      prompt: 'go',
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual(['search']);
    expect(arden.checks.map((check) => check.toolName)).toEqual(['kb.search', 'kb.drop_table']);
    const seen = toolResultsSeen(model, 1);
    expect(seen[1]?.output?.type).toBe('text');
    expect(String(seen[1]?.output?.value)).toMatch(/blocked/);
    expect(result.text).toBe('Searched; the drop was blocked.');
  });

  test('works without configure(), holds until approved, keeps toModelOutput for real results', async () => {
    uninstall();
    const { ran, tools } = makeTools();
    const refund = {
      ...tools.refund,
      toModelOutput: ({ output }: { output: { refunded: number } }) => ({
        type: 'text' as const,
        value: `refunded ${output.refunded}`,
      }),
    };
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 5 }, id: 'w1' }] },
      { text: 'ok' },
    );
    const run = generateText({
      model,
      tools: guardTools({ refund }),
      prompt: 'go',
      stopWhen: isStepCount(2),
    });
    arden.approve((await arden.nextPending()).actionId);
    await run;
    expect(ran).toEqual(['refund']);
    expect(toolResultsSeen(model, 1)[0]?.output).toEqual({ type: 'text', value: 'refunded 5' });
  });

  test('throwOnDenial: the denial is a tool-error carrying PolicyDeniedError', async () => {
    const { tools } = makeTools();
    const result = await generateText({
      model: generatingModel(
        { calls: [{ name: 'drop_table', input: { table: 'x' }, id: 't1' }] },
        { text: 'ok' },
      ),
      tools: guardTools(tools, { throwOnDenial: true }),
      prompt: 'go',
      stopWhen: isStepCount(2),
    });
    const error = result.steps[0]?.content.find((part) => part.type === 'tool-error') as
      | { error: unknown }
      | undefined;
    expect(PolicyDeniedError.isInstance(error?.error)).toBe(true);
  });
});

describe('native approval route (toolApproval)', () => {
  async function deniedWithout(options: Parameters<typeof ardenToolApproval>[0]) {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 40 }, id: 'u1' }] },
      { text: 'Sorry.' },
    );
    await generateText({
      model,
      tools,
      messages: [{ role: 'user', content: 'refund 40' }],
      toolApproval: ardenToolApproval(options),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual([]);
    return toolResultsSeen(model, 1)[0]?.output as { type: string; reason: string };
  }

  test('Arden unreachable: the call is denied with the app’s denialMessage', async () => {
    configure({
      apiKey: `arden_test_${'a'.repeat(32)}`,
      apiUrl: 'http://127.0.0.1:9',
      retryAttempts: 0,
      logLevel: 'silent',
    });
    const output = await deniedWithout({
      denialMessage: (denial) => `custom: ${denial.reason} ${denial.toolName}`,
    });
    expect(output).toEqual({ type: 'execution-denied', reason: 'custom: unavailable refund' });
  });

  test('Arden refusing the check (a revoked key) denies the call and does not call it an outage', async () => {
    configure({
      apiKey: `arden_test_${'a'.repeat(32)}`,
      apiUrl: 'http://arden.invalid',
      logLevel: 'silent',
      fetch: async () =>
        new Response(JSON.stringify({ error: 'The API key is not valid.' }), {
          status: 401,
          headers: { 'content-type': 'application/json' },
        }),
    });
    const output = await deniedWithout({});
    expect(output.type).toBe('execution-denied');
    expect(output.reason).toMatch(
      /^Arden refused to check this call to "refund" \(ArdenApiError\)/,
    );
  });

  async function holdRefund() {
    const { ran, tools } = makeTools();
    const messages: ModelMessage[] = [{ role: 'user', content: 'refund 40' }];
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 40 }, id: 'n1' }] },
      { text: 'Refunded.' },
    );
    const first = await generateText({
      model,
      tools,
      messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    const request = first.content.find((part) => part.type === 'tool-approval-request') as
      | { approvalId: string; reason?: string }
      | undefined;
    return {
      ran,
      tools,
      model,
      first,
      request,
      messages: [...messages, ...first.response.messages],
    };
  }

  test('a held call becomes an SDK approval request naming the Arden action; the app approves it; it runs once', async () => {
    const { ran, tools, model, request, messages } = await holdRefund();
    const held = arden.pending()[0];
    expect(request?.reason).toContain(`(Arden action ${held?.actionId})`);
    expect(ran).toEqual([]);
    const second = await generateText({
      model,
      tools,
      messages: [
        ...messages,
        {
          role: 'tool',
          content: [
            { type: 'tool-approval-response', approvalId: request!.approvalId, approved: true },
          ],
        },
      ],
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual(['refund']);
    expect(second.text).toBe('Refunded.');
    // One check for the call: the approval function and the automatic route shared it.
    expect(arden.checks).toHaveLength(1);
  });

  test('decided in Arden: resolveArdenApprovals turns an Arden denial into the SDK response; the tool does not run', async () => {
    const { ran, tools, model, messages } = await holdRefund();
    arden.deny(arden.pending()[0]!.actionId, 'not today');
    const resolved = await resolveArdenApprovals(messages);
    expect(resolved.responses).toEqual([
      expect.objectContaining({ approved: false, reason: 'not today' }),
    ]);
    const second = await generateText({
      model,
      tools,
      messages: resolved.messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual([]);
    expect(second.text).toBe('Refunded.');
    const denied = toolResultsSeen(model, 1)[0];
    expect(denied?.output).toMatchObject({ type: 'execution-denied', reason: 'not today' });
  });

  test('decided in Arden: an approval resumes the call through the SDK', async () => {
    const { ran, tools, model, messages } = await holdRefund();
    expect((await resolveArdenApprovals(messages)).pending).toHaveLength(1);
    arden.approve(arden.pending()[0]!.actionId);
    const resolved = await resolveArdenApprovals(messages);
    await generateText({
      model,
      tools,
      messages: resolved.messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual(['refund']);
  });

  test('Arden’s denial wins over an app approval given later', async () => {
    const { ran, tools, model, request, messages } = await holdRefund();
    arden.deny(arden.pending()[0]!.actionId, 'fraud');
    await generateText({
      model,
      tools,
      messages: [
        ...messages,
        {
          role: 'tool',
          content: [
            { type: 'tool-approval-response', approvalId: request!.approvalId, approved: true },
          ],
        },
      ],
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual([]);
    expect(toolResultsSeen(model, 1)[0]?.output).toMatchObject({ type: 'execution-denied' });
  });

  test('a blocked call is denied by the SDK and the model reads why; allowed calls run', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(...blockedAndAllowed);
    const result = await generateText({
      model,
      tools,
      prompt: 'go',
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual(['search']);
    expect(result.text).toBe('Searched; the drop was blocked.');
    const denied = toolResultsSeen(model, 1)[1];
    expect(denied?.output?.type).toBe('execution-denied');
    expect(denied?.output?.reason).toMatch(/blocked this call to "drop_table"/);
    expect(arden.checks).toHaveLength(2);
  });
});

describe('sessions', () => {
  test('every check and usage record carries the session (generate and stream)', async () => {
    const { tools } = makeTools();
    await withSession('conv-1', () =>
      generateText({
        model: generatingModel(...blockedAndAllowed),
        tools,
        prompt: 'go',
        stopWhen: isStepCount(3),
      }),
    );
    await withSession('conv-2', async () => {
      const result = streamText({
        model: streamingModel(...blockedAndAllowed),
        tools,
        prompt: 'go',
        stopWhen: isStepCount(3),
      });
      await result.text;
    });
    await flush();
    expect(arden.checks.map((check) => check.sessionId)).toEqual([
      'conv-1',
      'conv-1',
      'conv-2',
      'conv-2',
    ]);
    expect(arden.usage.map((event) => event.session_id)).toEqual([
      'conv-1',
      'conv-1',
      'conv-2',
      'conv-2',
    ]);
  });

  test('concurrent runs keep their own sessions', async () => {
    const one = (session: string) => {
      const { tools } = makeTools();
      return withSession(session, () =>
        generateText({
          model: generatingModel(
            { calls: [{ name: 'search', input: { query: session }, id: session }] },
            { text: 'ok' },
          ),
          tools,
          prompt: 'go',
          stopWhen: isStepCount(2),
        }),
      );
    };
    await Promise.all([one('a'), one('b'), one('c')]);
    for (const check of arden.checks) expect(check.sessionId).toBe(check.kwargs.query);
  });
});

describe('usage', () => {
  test('generate: one record per model call, with the model and counts', async () => {
    await generateText({ model: generatingModel({ text: 'hi' }), prompt: 'hello' });
    await flush();
    expect(arden.usage).toEqual([
      expect.objectContaining({ model: responseModelId, prompt_tokens: 21, completion_tokens: 9 }),
    ]);
  });

  test('stream: one record per model call', async () => {
    const result = streamText({ model: streamingModel({ text: 'hello there' }), prompt: 'hello' });
    expect(await result.text).toBe('hello there');
    await flush();
    expect(arden.usage).toEqual([
      expect.objectContaining({ model: responseModelId, prompt_tokens: 21, completion_tokens: 9 }),
    ]);
  });

  test('the middleware records the provider’s model id, generate and stream, and the automatic route does not count it again', async () => {
    const generating = wrapLanguageModel({
      model: generatingModel({ text: 'hi' }),
      middleware: ardenUsageMiddleware(),
    });
    await generateText({ model: generating, prompt: 'hello' });
    const streaming = wrapLanguageModel({
      model: streamingModel({ text: 'hi' }),
      middleware: ardenUsageMiddleware(),
    });
    await streamText({ model: streaming, prompt: 'hello' }).text;
    await flush();
    expect(
      arden.usage.map((event) => [event.model, event.prompt_tokens, event.completion_tokens]),
    ).toEqual([
      [responseModelId, usage.inputTokens.total, usage.outputTokens.total],
      [responseModelId, usage.inputTokens.total, usage.outputTokens.total],
    ]);
  });

  test('the middleware works without configure()’s route and with telemetry off', async () => {
    uninstall();
    const model = wrapLanguageModel({
      model: generatingModel({ text: 'hi' }),
      middleware: ardenUsageMiddleware(),
    });
    await withSession('mw', () =>
      generateText({ model, prompt: 'hello', telemetry: { isEnabled: false } }),
    );
    await flush();
    expect(arden.usage).toEqual([
      expect.objectContaining({ model: responseModelId, session_id: 'mw' }),
    ]);
  });

  test('recordLanguageModelUsage as onLanguageModelCallEnd: once, even with the automatic route on', async () => {
    await generateText({
      model: generatingModel({ text: 'hi' }),
      prompt: 'hello',
      onLanguageModelCallEnd: recordLanguageModelUsage(),
    });
    await flush();
    expect(arden.usage).toHaveLength(1);
    uninstall();
    await generateText({
      model: generatingModel({ text: 'hi' }),
      prompt: 'hello',
      onLanguageModelCallEnd: recordLanguageModelUsage(),
    });
    await flush();
    expect(arden.usage).toHaveLength(2);
  });

  test('install({ usage: false }) records none', async () => {
    install({ usage: false });
    await generateText({ model: generatingModel({ text: 'hi' }), prompt: 'hello' });
    await flush();
    expect(arden.usage).toHaveLength(0);
  });
});
