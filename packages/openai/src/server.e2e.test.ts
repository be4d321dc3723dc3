// End to end against a real Arden server (@arden/server on the embedded store, 127.0.0.1,
// port 0, a temporary data directory) and the fake OpenAI API: a Chat Completions tool loop with
// ArdenToolExecutor, approvals decided through the server's approval service, usage recorded by
// trackUsage.
import { configure, flush, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArdenToolExecutor, trackUsage } from './index';
import { type FakeOpenAI, type FakeToolCall, startFakeOpenAI } from './test-helpers';

let t: TestServer;
let fake: FakeOpenAI | undefined;
const ran: string[] = [];

beforeAll(async () => {
  t = await startTestServer({
    environment: 'test',
    policies: [
      { name: 'Never delete accounts', tool: 'delete_account', action: 'block' },
      { name: 'Refunds need a human', tool: 'issue_refund', action: 'requires_approval' },
      {
        name: 'Big credits need a human',
        tool: 'issue_credit',
        rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
        default: 'allow',
      },
    ],
  });
});

afterAll(async () => {
  await t.close();
});

beforeEach(() => {
  ran.length = 0;
  configure({
    apiKey: t.key,
    apiUrl: t.url,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
  });
});

afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await flush();
});

const executor = () =>
  new ArdenToolExecutor()
    .register('lookup_customer', ({ email }: { email: string }) => {
      ran.push('lookup_customer');
      return `customer cus_1 (${email})`;
    })
    .register('delete_account', () => {
      ran.push('delete_account');
      return 'deleted';
    })
    .register('issue_refund', ({ amount }: { amount: number }) => {
      ran.push('issue_refund');
      return `refunded $${amount}`;
    })
    .register('issue_credit', ({ amount }: { amount: number }) => {
      ran.push('issue_credit');
      return `credited $${amount}`;
    });

async function chatLoop(toolCalls: FakeToolCall[], stream = false) {
  fake = await startFakeOpenAI({ toolCalls, usage: { prompt: 200, completion: 40 } });
  const client = trackUsage(
    new OpenAI({ apiKey: 'sk-test', baseURL: fake.baseURL, maxRetries: 0 }),
  );
  const tools = executor();
  const messages: any[] = [{ role: 'user', content: 'help' }];
  for (let turn = 0; turn < 5; turn++) {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    const message = completion.choices[0]!.message;
    messages.push(message);
    if (!message.tool_calls?.length) {
      if (stream) {
        const streamed = await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages,
          stream: true,
          stream_options: { include_usage: true },
        });
        for await (const _chunk of streamed) {
          // drain
        }
      }
      return message.content ?? '';
    }
    messages.push(...(await tools.toolMessages(message.tool_calls)));
  }
  throw new Error('The loop did not end.');
}

const actions = (sessionId: string) => t.actions({ sessionId });
const nextPending = (sessionId: string) => t.nextPending({ sessionId });

let sessionCounter = 0;
const newSession = () => `openai-e2e-${Date.now()}-${++sessionCounter}`;

describe('against a real Arden server', () => {
  it('runs allowed calls, tells the model of blocked ones, logs both in the session', async () => {
    const session = newSession();
    const answer = await withSession(session, () =>
      chatLoop([
        { name: 'lookup_customer', args: { email: 'ada@example.com' } },
        { name: 'delete_account', args: { customerId: 'cus_1' } },
      ]),
    );
    expect(ran).toEqual(['lookup_customer']);
    expect(answer).toContain(
      'delete_account=Arden blocked this call to "delete_account" by policy',
    );
    const logged = await actions(session);
    expect(logged.map((action) => [action.toolName, action.decision, action.sessionId])).toEqual([
      ['lookup_customer', 'allow', session],
      ['delete_account', 'block', session],
    ]);
    expect(logged[0]?.metadata).toMatchObject({ framework: 'openai', tool: 'lookup_customer' });
  });

  it('holds a call until an approver approves it, then runs it once', async () => {
    const session = newSession();
    const loop = withSession(session, () =>
      chatLoop([{ name: 'issue_refund', args: { amount: 150 } }]),
    );
    const held = await nextPending(session);
    expect(ran).toEqual([]);
    await t.approve(held.id);
    expect(await loop).toBe('done: issue_refund=refunded $150');
    expect(ran).toEqual(['issue_refund']);
    await flush();
    const [action] = await actions(session);
    expect(action).toMatchObject({ status: 'approved', resultStatus: 'succeeded' });
  });

  it('one naming rule: ardenName is taken as written, the prefix does not apply to it', async () => {
    // Issue #12: with the prefix applied to ardenName, "support.issue_refund" matched no policy
    // and the agent's default (allow) let the held tool run at once.
    const warnings: string[] = [];
    configure({
      apiKey: t.key,
      apiUrl: t.url,
      retryAttempts: 0,
      logger: {
        debug() {},
        info() {},
        warn: (message) => warnings.push(message),
        error() {},
      },
    });
    const executor = new ArdenToolExecutor({ toolNamePrefix: 'support.' })
      .register(
        'refund',
        ({ amount }: { amount: number }) => {
          ran.push('refund');
          return `refunded $${amount}`;
        },
        { ardenName: 'issue_refund' },
      )
      .register('delete_account', () => {
        ran.push('delete_account');
        return 'deleted';
      });
    expect(executor.ardenName('refund')).toBe('issue_refund');
    const session = newSession();
    const held = withSession(session, () => executor.run('refund', { amount: 70 }));
    const pending = await nextPending(session);
    expect(pending.toolName).toBe('issue_refund');
    expect(ran).toEqual([]);
    // Expected before the denial: the call may be refused before t.deny() resolves (it does
    // when the test server runs in a child process, as on Node 20).
    const refused = expect(held).rejects.toThrow(/denied/);
    await t.deny(pending.id, 'no');
    await refused;
    expect(ran).toEqual([]);

    // A prefixed name no policy matches, while a policy exists without the prefix: the default
    // decides (allow here), and a warning names the policy, once per tool.
    expect(executor.ardenName('delete_account')).toBe('support.delete_account');
    await executor.run('delete_account', {});
    await executor.run('delete_account', {});
    expect(ran).toEqual(['delete_account', 'delete_account']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /No policy matches the tool "support\.delete_account".*a policy exists for "delete_account", which differs only by a prefix/,
    );
  });

  it('does not run a call an approver denies; the model is told why', async () => {
    const session = newSession();
    const loop = withSession(session, () =>
      chatLoop([{ name: 'issue_refund', args: { amount: 9000 } }]),
    );
    const held = await nextPending(session);
    await t.deny(held.id, 'too much');
    expect(await loop).toBe(
      'done: issue_refund=An approver denied this call to "issue_refund": too much. The tool did not run.',
    );
    expect(ran).toEqual([]);
  });

  it('runs the arguments an approver edited; the model reads what changed', async () => {
    const session = newSession();
    const loop = withSession(session, () =>
      chatLoop([{ name: 'issue_credit', args: { amount: 9000 } }]),
    );
    const held = await nextPending(session);
    await t.approve(held.id, 'ninety', { kwargs: { amount: 90 } });
    const answer = await loop;
    expect(ran).toEqual(['issue_credit']);
    // The fake model answers with the tool message it read: the note, then the result.
    expect(answer).toContain('amount: 9000 → 90');
    expect(answer).toMatch(/credited \$90$/);
  });

  it('records usage of plain and streamed completions with the model, counts and session', async () => {
    const session = newSession();
    await withSession(session, () =>
      chatLoop([{ name: 'lookup_customer', args: { email: 'a' } }], true),
    );
    await flush();
    const recorded = await t.usage({ sessionId: session });
    expect(recorded).toHaveLength(3);
    for (const event of recorded) {
      expect(event).toMatchObject({
        model: 'gpt-4o-mini-2024-07-18',
        promptTokens: 200,
        completionTokens: 40,
        sessionId: session,
        rateFound: true,
      });
    }
  });
});
