// Budgets through a tracked `openai` client against a real Arden server (SQLite) and the fake
// OpenAI API: every create() is reserved before its request (refused over budget: the API is
// never called) and settled by its usage, streamed calls included; read back through the admin
// budgets API.
import {
  ArdenUnavailableError,
  BudgetExceededError,
  configure,
  flush,
  getArden,
  withSession,
} from '@arden/core';
import { UserAdministration } from '@arden/server';
import { startTestServer, type TestServer } from '@arden/server/testing';
import OpenAI from 'openai';
import OpenAI5 from 'openai-v5';
import OpenAI6 from 'openai-v6';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { trackUsage } from './index';
import { type FakeOpenAI, startFakeOpenAI } from './test-helpers';

let t: TestServer;
let adminToken: string | undefined;
let fake: FakeOpenAI;

beforeAll(async () => {
  t = await startTestServer({
    budgets: [{ scope: 'session', name: 'Run cap', limitTokens: 3000 }],
  });
  // The reservations are read from the admin API, whose user is made in process; on Node 20 the
  // server runs in a child process (node:sqlite), and the budget's standing is read through the
  // agent API instead (spent and reserved, without the list of reservations).
  if (t.mode === 'in-process') {
    const users = new UserAdministration(t.server.store, Date.now, {
      insecureTestPasswordHashing: true,
    });
    const { user } = await users.createUser({ email: 'admin@example.com', role: 'admin' });
    adminToken = (await users.createToken(user.id, 'budgets test')).token;
  }
});

afterAll(async () => {
  await t.close();
});

function configureArden(extra: Record<string, unknown> = {}) {
  configure({
    apiKey: t.key,
    apiUrl: t.url,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
    ...extra,
  });
}

beforeEach(async () => {
  configureArden();
  fake = await startFakeOpenAI({ usage: { prompt: 200, completion: 40 } });
});

afterEach(async () => {
  await flush();
  await fake.close();
});

const client = (options: Parameters<typeof trackUsage>[1] = {}) =>
  trackUsage(new OpenAI({ apiKey: 'sk-test', baseURL: fake.baseURL, maxRetries: 0 }), options);

interface Overview {
  budgets: any[];
  /** Only where the admin API is read (the server in process). */
  reservations?: any[];
}

/** The session budget's standing through the agent API: a model call check of nothing. */
async function standing(session: string): Promise<Overview> {
  const probe = await getArden().checkModelCall({
    model: 'gpt-4o-mini',
    estimatedInputTokens: 0,
    maxOutputTokens: 0,
    sessionId: session,
  });
  return { budgets: probe.budgets as any[] };
}

/** The session's budget and reservations from the admin API, once `ready` (nothing held). */
async function overview(
  session: string,
  ready = (body: Overview) => body.budgets[0]?.reserved_tokens === 0,
) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    if (adminToken === undefined) {
      const body = await standing(session);
      if (ready(body) || Date.now() > deadline) return body;
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    const response = await fetch(
      `${t.url}/api/v1/agents/${t.agentId}/budgets/${t.environment}?session=${session}`,
      { headers: { authorization: `Bearer ${adminToken}` } },
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as Overview;
    if (ready(body) || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const messages = [{ role: 'user' as const, content: 'Summarise the ticket' }];

describe('@arden/openai budgets against a real Arden server', () => {
  it('refuses a call over budget with BudgetExceededError, and the API is never called', async () => {
    const refused = await withSession('oai-over', () =>
      client().chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 5000 }),
    ).catch((error: unknown) => error);
    expect(BudgetExceededError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({
      budget: { name: 'Run cap', limitTokens: 3000 },
      spent: { tokens: 0 },
      reserved: { tokens: 0 },
    });
    expect(fake.requests).toHaveLength(0);
    // The Responses API's max_output_tokens counts the same way.
    const responses = await withSession('oai-over', () =>
      client().responses.create({ model: 'gpt-4o-mini', input: 'hi', max_output_tokens: 4000 }),
    ).catch((error: unknown) => error);
    expect(BudgetExceededError.isInstance(responses)).toBe(true);
    expect(fake.requests).toHaveLength(0);
  });

  it('reserves before the call and settles with its actual usage, keeping withResponse()', async () => {
    const { data, request_id } = await withSession('oai-1', () =>
      client()
        .chat.completions.create({ model: 'gpt-4o-mini', messages, max_completion_tokens: 1000 })
        .withResponse(),
    );
    expect(data.choices[0]?.message.content).toMatch(/^done/);
    expect(request_id).toBe('req_fake');
    expect(fake.requests).toHaveLength(1);
    await flush();
    const body = await overview('oai-1');
    expect(body.budgets[0]).toMatchObject({ spent_tokens: 240, reserved_tokens: 0 });
    if (body.reservations) {
      expect(body.reservations).toHaveLength(1);
      expect(body.reservations[0]).toMatchObject({ status: 'settled', actual_tokens: 240 });
      // Reserved: the estimate of the messages plus the call's max_completion_tokens.
      expect(body.reservations[0].reserved_tokens).toBeGreaterThan(1000);
    }
  });

  it('settles a streamed call with its final usage chunk, and a Responses stream with response.completed', async () => {
    await withSession('oai-stream', async () => {
      const stream = await client().chat.completions.create({
        model: 'gpt-4o-mini',
        messages,
        max_tokens: 800,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toMatch(/^done/);
      const responses = await client().responses.create({
        model: 'gpt-4o-mini',
        input: 'hi',
        max_output_tokens: 500,
        stream: true,
      });
      for await (const _event of responses) {
        // drain
      }
    });
    await flush();
    const body = await overview('oai-stream');
    expect(body.budgets[0]).toMatchObject({ spent_tokens: 480, reserved_tokens: 0 });
    if (body.reservations) {
      expect(body.reservations.map((reservation: any) => reservation.status)).toEqual([
        'settled',
        'settled',
      ]);
    }
  });

  it('refuses the call when Arden cannot be reached, unless onUnavailable is allow', async () => {
    configureArden({ apiUrl: 'http://127.0.0.1:9' });
    const refused = await client()
      .chat.completions.create({ model: 'gpt-4o-mini', messages })
      .catch((error: unknown) => error);
    expect(ArdenUnavailableError.isInstance(refused)).toBe(true);
    expect(fake.requests).toHaveLength(0);
    configureArden({ apiUrl: 'http://127.0.0.1:9', onUnavailable: 'allow' });
    const completion = await client().chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(completion.choices[0]?.message.content).toMatch(/^done/);
    expect(fake.requests).toHaveLength(1);
  });

  it('budgets: false only records usage', async () => {
    const completion = await withSession('oai-off', () =>
      client({ budgets: false }).chat.completions.create({
        model: 'gpt-4o-mini',
        messages,
        max_tokens: 5000,
      }),
    );
    expect(completion.usage?.total_tokens).toBe(240);
    await flush();
    const body = await overview('oai-off');
    expect(body.budgets[0]).toMatchObject({ spent_tokens: 240, reserved_tokens: 0 });
    if (body.reservations) expect(body.reservations).toHaveLength(0);
  });

  it.each([
    ['openai 5', OpenAI5],
    ['openai 6', OpenAI6],
    ['openai 7', OpenAI],
  ] as const)(
    'keeps the client helpers working on %s: parse(), stream(), asResponse()',
    async (_name, Client) => {
      const tracked = trackUsage(
        new Client({ apiKey: 'sk-test', baseURL: fake.baseURL, maxRetries: 0 }) as OpenAI,
      );
      const session = `oai-helpers-${_name.replace(' ', '')}`;
      await withSession(session, async () => {
        // parse() builds on create()._thenUnwrap(); stream() awaits create() with stream: true.
        const parsed = await tracked.chat.completions.parse({
          model: 'gpt-4o-mini',
          messages,
          max_tokens: 100,
        });
        expect(parsed.choices[0]?.message.content).toMatch(/^done/);
        const stream = tracked.chat.completions.stream({
          model: 'gpt-4o-mini',
          messages,
          max_tokens: 100,
          stream_options: { include_usage: true },
        });
        expect((await stream.finalChatCompletion()).choices[0]?.message.content).toMatch(/^done/);
        const raw = await tracked.chat.completions
          .create({ model: 'gpt-4o-mini', messages, max_tokens: 100 })
          .asResponse();
        expect(raw.headers.get('x-request-id')).toBe('req_fake');
        const refused = await tracked.chat.completions
          .parse({ model: 'gpt-4o-mini', messages, max_tokens: 5000 })
          .catch((error: unknown) => error);
        expect(BudgetExceededError.isInstance(refused)).toBe(true);
      });
      expect(fake.requests).toHaveLength(3);
      await flush();
      const settled = (body: Overview) =>
        (body.reservations ?? []).filter((r: any) => r.status === 'settled');
      const body = await overview(session, (read) =>
        read.reservations ? settled(read).length === 2 : read.budgets[0]?.spent_tokens === 480,
      );
      // parse() and stream() settled with their usage; asResponse() bypasses parsing, so its
      // reservation is held until it expires (the body was never read).
      expect(body.budgets[0]).toMatchObject({ spent_tokens: 480 });
      if (body.reservations) {
        expect(settled(body)).toHaveLength(2);
        expect(body.reservations).toHaveLength(3);
      }
    },
  );
});
