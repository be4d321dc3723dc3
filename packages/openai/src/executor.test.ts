import {
  ApprovalTimeoutError,
  configure,
  createArden,
  flush,
  PolicyDeniedError,
  withSession,
} from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import OpenAI from 'openai';
import OpenAI5 from 'openai-v5';
import OpenAI6 from 'openai-v6';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArdenToolExecutor } from './index';
import { type FakeOpenAI, type FakeToolCall, startFakeOpenAI } from './test-helpers';

let arden: TestArden;
let fake: FakeOpenAI | undefined;
const ran: string[] = [];

const toolDefinitions = ['lookup_customer', 'delete_account', 'issue_refund'].map((name) => ({
  type: 'function' as const,
  function: { name, parameters: { type: 'object', properties: {} } },
}));

function makeExecutor(options: ConstructorParameters<typeof ArdenToolExecutor>[0] = {}) {
  return new ArdenToolExecutor(options)
    .register('lookup_customer', async ({ email }: { email: string }) => {
      ran.push('lookup_customer');
      return { id: 'cus_1', email };
    })
    .register('delete_account', async () => {
      ran.push('delete_account');
      return 'deleted';
    })
    .register('issue_refund', async ({ amount }: { amount: number }) => {
      ran.push('issue_refund');
      return `refunded $${amount}`;
    });
}

type Client = {
  chat: { completions: { create: (body: any) => Promise<any> } };
};

/** A plain Chat Completions tool loop, as the OpenAI docs write it. */
async function chatLoop(client: Client, executor: ArdenToolExecutor) {
  const messages: any[] = [{ role: 'user', content: 'help me' }];
  for (let turn = 0; turn < 5; turn++) {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      tools: toolDefinitions,
    });
    const message = completion.choices[0].message;
    messages.push(message);
    if (!message.tool_calls?.length) return { answer: message.content as string, messages };
    messages.push(...(await executor.toolMessages(message.tool_calls)));
  }
  throw new Error('The loop did not end.');
}

async function clientFor(toolCalls: FakeToolCall[], Client: typeof OpenAI = OpenAI) {
  fake = await startFakeOpenAI({ toolCalls });
  return new Client({
    apiKey: 'sk-test',
    baseURL: fake.baseURL,
    maxRetries: 0,
  }) as unknown as Client;
}

beforeEach(() => {
  ran.length = 0;
  arden = createTestArden({
    decisions: { delete_account: 'block', issue_refund: 'requires_approval' },
  });
  configure(arden.options());
});

afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await flush();
});

describe('ArdenToolExecutor in a Chat Completions loop', () => {
  it('runs an allowed call, checked once with its arguments as kwargs', async () => {
    const client = await clientFor([
      { name: 'lookup_customer', args: { email: 'ada@example.com' } },
    ]);
    const { answer, messages } = await chatLoop(client, makeExecutor());
    expect(ran).toEqual(['lookup_customer']);
    expect(answer).toBe('done: lookup_customer={"id":"cus_1","email":"ada@example.com"}');
    expect(messages[2]).toMatchObject({
      role: 'tool',
      tool_call_id: expect.stringMatching(/^call_/),
    });
    expect(arden.checks).toMatchObject([
      {
        toolName: 'lookup_customer',
        kwargs: { email: 'ada@example.com' },
        decision: 'allow',
        metadata: {
          framework: 'openai',
          tool: 'lookup_customer',
          call_id: messages[2].tool_call_id,
        },
      },
    ]);
    await flush();
    expect(arden.results).toMatchObject([{ status: 'succeeded' }]);
  });

  it('does not run a blocked call; the model is told and the loop reaches a final answer', async () => {
    const client = await clientFor([
      { name: 'delete_account', args: { customerId: 'cus_1' } },
      { name: 'lookup_customer', args: { email: 'a@b.c' } },
    ]);
    const { answer } = await chatLoop(client, makeExecutor());
    expect(ran).toEqual(['lookup_customer']);
    expect(answer).toContain(
      'delete_account=Arden blocked this call to "delete_account" by policy: test decision: block. The tool did not run.',
    );
    expect(answer).toContain('lookup_customer={"id":"cus_1"');
    // The model received the denial as the tool message.
    const second = fake!.requests[1]!.body.messages;
    expect(second.filter((message: any) => message.role === 'tool')).toHaveLength(2);
  });

  it('holds a call until an approver approves it, then runs it once', async () => {
    const client = await clientFor([{ name: 'issue_refund', args: { amount: 150 } }]);
    const loop = chatLoop(client, makeExecutor());
    const held = await arden.nextPending();
    expect(held).toMatchObject({ toolName: 'issue_refund', kwargs: { amount: 150 } });
    expect(ran).toEqual([]);
    arden.approve(held.actionId);
    const { answer } = await loop;
    expect(ran).toEqual(['issue_refund']);
    expect(answer).toBe('done: issue_refund=refunded $150');
    expect(arden.checks).toHaveLength(1);
  });

  it('does not run a call an approver denies; the model is told why', async () => {
    const client = await clientFor([{ name: 'issue_refund', args: { amount: 9000 } }]);
    const loop = chatLoop(client, makeExecutor());
    arden.deny((await arden.nextPending()).actionId, 'over the limit');
    const { answer } = await loop;
    expect(ran).toEqual([]);
    expect(answer).toBe(
      'done: issue_refund=An approver denied this call to "issue_refund": over the limit. The tool did not run.',
    );
  });

  it('answers every call of a parallel turn, in order, each with its tool_call_id', async () => {
    const executor = makeExecutor();
    const calls = [
      {
        id: 'a',
        type: 'function' as const,
        function: { name: 'lookup_customer', arguments: '{"email":"x"}' },
      },
      { id: 'b', type: 'function' as const, function: { name: 'delete_account', arguments: '{}' } },
      { id: 'c', type: 'function' as const, function: { name: 'no_such_tool', arguments: '{}' } },
    ];
    const messages = await executor.toolMessages({ tool_calls: calls });
    expect(messages.map((message) => message.tool_call_id)).toEqual(['a', 'b', 'c']);
    expect(messages[1]?.content).toContain('blocked');
    expect(messages[2]?.content).toBe(
      'There is no tool named "no_such_tool". Use one of: lookup_customer, delete_account, issue_refund.',
    );
    expect(arden.checks.map((check) => check.toolName)).toEqual([
      'lookup_customer',
      'delete_account',
    ]);
    expect(await executor.toolMessages(undefined)).toEqual([]);
  });

  it('runs custom tool calls with their raw input', async () => {
    const executor = new ArdenToolExecutor().register('shell', (input: string) => `ran ${input}`);
    const [message] = await executor.toolMessages([
      { id: 'x', type: 'custom', custom: { name: 'shell', input: 'ls -la' } },
    ]);
    expect(message?.content).toBe('ran ls -la');
    expect(arden.checks[0]).toMatchObject({ toolName: 'shell', args: ['ls -la'] });
  });

  it('throws instead of answering when throwOnDenial is set', async () => {
    const executor = makeExecutor({ throwOnDenial: true });
    await expect(
      executor.toolMessages([{ id: 'b', function: { name: 'delete_account', arguments: '{}' } }]),
    ).rejects.toSatisfy((error) => PolicyDeniedError.isInstance(error));
  });

  it('uses the prefix, per-tool names (as written, without the prefix) and a custom denial message', async () => {
    arden.setDecisions({ 'stripe.refund': 'block', 'payments.lookup': 'block' });
    const executor = new ArdenToolExecutor({
      toolNamePrefix: 'payments.',
      denialMessage: (denial) => `NO ${denial.reason} ${denial.toolName}`,
    })
      .register('issue_refund', () => 'refunded', { ardenName: 'stripe.refund' })
      .register('lookup', () => 'found');
    const messages = await executor.toolMessages([
      { id: 'r', function: { name: 'issue_refund', arguments: '{"amount":1}' } },
      { id: 'l', function: { name: 'lookup', arguments: '{}' } },
    ]);
    expect(messages.map((message) => message.content)).toEqual([
      'NO blocked stripe.refund',
      'NO blocked payments.lookup',
    ]);
  });

  it('passes tool errors to the model when asked to, and rethrows them by default', async () => {
    const failing = () => {
      throw new Error('database down');
    };
    const quiet = new ArdenToolExecutor({ toolErrors: 'message' }).register('lookup', failing);
    const [message] = await quiet.toolMessages([
      { id: 'x', function: { name: 'lookup', arguments: '{}' } },
    ]);
    expect(message?.content).toBe('The tool "lookup" failed: database down');
    const loud = new ArdenToolExecutor().register('lookup', failing);
    await expect(
      loud.toolMessages([{ id: 'x', function: { name: 'lookup', arguments: '{}' } }]),
    ).rejects.toThrow('database down');
    await flush();
    expect(arden.results.map((result) => result.status)).toEqual(['failed', 'failed']);
  });

  it('tells the model when Arden cannot be reached (fail closed)', async () => {
    configure({
      ...arden.options(),
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const [message] = await makeExecutor().toolMessages([
      { id: 'x', function: { name: 'lookup_customer', arguments: '{}' } },
    ]);
    expect(ran).toEqual([]);
    expect(message?.content).toContain('could not be reached');
  });

  it('answers that an async-mode call awaits approval, and runs it once approved', async () => {
    const approved: unknown[] = [];
    const executor = new ArdenToolExecutor().register(
      'issue_refund',
      async ({ amount }: { amount: number }) => {
        ran.push('issue_refund');
        return amount;
      },
      { approvalMode: 'async', onApproval: (result) => approved.push(result) },
    );
    const [message] = await executor.toolMessages([
      { id: 'x', function: { name: 'issue_refund', arguments: '{"amount":5}' } },
    ]);
    expect(message?.content).toMatch(/waiting for human approval \(Arden action act_/);
    expect(ran).toEqual([]);
    arden.approve(arden.pending()[0]!.actionId);
    await flush();
    expect(ran).toEqual(['issue_refund']);
    expect(approved).toEqual([5]);
  });
});

describe('ArdenToolExecutor.run', () => {
  it('returns the content, parsing JSON arguments or taking them parsed', async () => {
    const executor = makeExecutor();
    expect(await executor.run('lookup_customer', '{"email":"a"}')).toBe(
      '{"id":"cus_1","email":"a"}',
    );
    expect(await executor.run('lookup_customer', { email: 'b' })).toBe(
      '{"id":"cus_1","email":"b"}',
    );
  });

  it('raises PolicyDeniedError for a blocked call, which does not run', async () => {
    await expect(makeExecutor().run('delete_account', {})).rejects.toMatchObject({
      name: 'PolicyDeniedError',
      reason: 'blocked',
      toolName: 'delete_account',
    });
    expect(ran).toEqual([]);
  });

  it('raises ApprovalTimeoutError when nobody decides in time', async () => {
    arden = createTestArden({ decisions: { issue_refund: 'requires_approval' }, longPoll: false });
    configure({ ...arden.options(), maxWaitMs: 50 });
    await expect(makeExecutor().run('issue_refund', { amount: 1 })).rejects.toSatisfy((error) =>
      ApprovalTimeoutError.isInstance(error),
    );
  });

  it('refuses an unknown tool with a ConfigurationError that says how to register it', async () => {
    await expect(makeExecutor().run('nope', {})).rejects.toThrow('executor.register("nope", fn)');
  });

  it('uses an Arden instance of its own when given', async () => {
    const other = createTestArden({ defaultDecision: 'block' });
    const executor = makeExecutor({ arden: createArden(other.options()) });
    const [message] = await executor.toolMessages([
      { id: 'x', function: { name: 'lookup_customer', arguments: '{}' } },
    ]);
    expect(message?.content).toContain('blocked');
    expect(other.checks).toHaveLength(1);
    expect(arden.checks).toHaveLength(0);
  });
});

describe('sessions', () => {
  it('carries each concurrent session onto its checks', async () => {
    const executor = makeExecutor();
    await Promise.all(
      ['s1', 's2', 's3'].map((session) =>
        withSession(session, () => executor.run('lookup_customer', { email: session })),
      ),
    );
    expect(arden.checks).toHaveLength(3);
    for (const check of arden.checks) expect(check.sessionId).toBe(check.kwargs.email);
  });
});

describe.each([
  ['openai 5', OpenAI5],
  ['openai 6', OpenAI6],
  ['openai 7', OpenAI],
])('with %s', (_label, Client) => {
  it('runs the loop: allowed, blocked, final answer', async () => {
    const client = await clientFor(
      [
        { name: 'lookup_customer', args: { email: 'a' } },
        { name: 'delete_account', args: {} },
      ],
      Client as unknown as typeof OpenAI,
    );
    const { answer } = await chatLoop(client, makeExecutor());
    expect(ran).toEqual(['lookup_customer']);
    expect(answer).toContain('delete_account=Arden blocked');
  });
});
