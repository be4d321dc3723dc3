import { configure, flush, withSession } from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import OpenAI from 'openai';
import OpenAI5 from 'openai-v5';
import OpenAI6 from 'openai-v6';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordUsage, trackUsage } from './index';
import { type FakeOpenAI, startFakeOpenAI } from './test-helpers';

let arden: TestArden;
let fake: FakeOpenAI;

beforeEach(async () => {
  arden = createTestArden();
  configure(arden.options());
  fake = await startFakeOpenAI({
    model: 'gpt-4o-mini-2024-07-18',
    usage: { prompt: 120, completion: 30 },
  });
});

afterEach(async () => {
  await fake.close();
  await flush();
});

function client() {
  return new OpenAI({ apiKey: 'sk-test', baseURL: fake.baseURL, maxRetries: 0 });
}

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('trackUsage: chat.completions.create', () => {
  it('records a completion with the model the API reports and its token counts', async () => {
    const openai = trackUsage(client());
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(completion.choices[0]?.message.content).toBe('done: ');
    await flush();
    expect(arden.usage).toMatchObject([
      { model: 'gpt-4o-mini-2024-07-18', prompt_tokens: 120, completion_tokens: 30 },
    ]);
  });

  it('keeps the APIPromise: .withResponse() and ._request_id still work', async () => {
    const openai = trackUsage(client());
    const { data, response, request_id } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages })
      .withResponse();
    expect(response.status).toBe(200);
    expect(request_id).toBe('req_fake');
    expect(data.usage?.prompt_tokens).toBe(120);
    const raw = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages })
      .asResponse();
    expect(raw.headers.get('x-request-id')).toBe('req_fake');
    await flush();
    expect(arden.usage).toHaveLength(1);
  });

  it('records a stream when its last chunk carries usage (include_usage)', async () => {
    const openai = trackUsage(client());
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('done: ');
    await flush();
    expect(arden.usage).toMatchObject([
      { model: 'gpt-4o-mini-2024-07-18', prompt_tokens: 120, completion_tokens: 30 },
    ]);
  });

  it('records a stream read through .withResponse(), tee() or toReadableStream()', async () => {
    const openai = trackUsage(client());
    const body = {
      model: 'gpt-4o-mini',
      messages,
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const { data: first } = await openai.chat.completions.create(body).withResponse();
    for await (const _chunk of first) {
      // drain
    }
    const [left, right] = (await openai.chat.completions.create(body)).tee();
    for await (const _chunk of left) {
      // drain
    }
    for await (const _chunk of right) {
      // drain
    }
    const readable = (await openai.chat.completions.create(body)).toReadableStream();
    const reader = readable.getReader();
    while (!(await reader.read()).done) {
      // drain
    }
    await flush();
    expect(arden.usage).toHaveLength(3);
  });

  it('adds include_usage to streams when includeStreamUsage is set', async () => {
    const openai = trackUsage(client(), { includeStreamUsage: true });
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
    });
    for await (const _chunk of stream) {
      // drain
    }
    expect(fake.requests[0]?.body.stream_options).toEqual({ include_usage: true });
    await flush();
    expect(arden.usage).toHaveLength(1);
  });

  it('records nothing for a stream without usage, and does not change the request', async () => {
    const openai = trackUsage(client());
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
    });
    for await (const _chunk of stream) {
      // drain
    }
    expect(fake.requests[0]?.body.stream_options).toBeUndefined();
    await flush();
    expect(arden.usage).toHaveLength(0);
  });

  it('records once when a client is tracked twice', async () => {
    const openai = trackUsage(trackUsage(client()));
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
    await flush();
    expect(arden.usage).toHaveLength(1);
  });

  it('covers the helpers built on create (parse, stream)', async () => {
    const openai = trackUsage(client());
    await openai.chat.completions.parse({ model: 'gpt-4o-mini', messages });
    const runner = openai.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages,
      stream_options: { include_usage: true },
    });
    await runner.finalChatCompletion();
    await flush();
    expect(arden.usage).toHaveLength(2);
  });

  it('carries the session of the call', async () => {
    const openai = trackUsage(client());
    await withSession('chat-session', () =>
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages }),
    );
    await flush();
    expect(arden.usage[0]?.session_id).toBe('chat-session');
  });
});

describe('trackUsage: responses.create', () => {
  it('records a response and a streamed response (response.completed)', async () => {
    const openai = trackUsage(client());
    const response = await openai.responses.create({ model: 'gpt-4o-mini', input: 'hi' });
    expect(response.output_text).toBe('echo: hi');
    const stream = await openai.responses.create({
      model: 'gpt-4o-mini',
      input: 'hi',
      stream: true,
    });
    for await (const _event of stream) {
      // drain
    }
    await flush();
    expect(arden.usage).toMatchObject([
      { model: 'gpt-4o-mini-2024-07-18', prompt_tokens: 120, completion_tokens: 30 },
      { model: 'gpt-4o-mini-2024-07-18', prompt_tokens: 120, completion_tokens: 30 },
    ]);
  });
});

describe('recordUsage', () => {
  it('records a completion and returns it unchanged', async () => {
    const completion = await client().chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(recordUsage(completion)).toBe(completion);
    await flush();
    expect(arden.usage).toMatchObject([
      { model: 'gpt-4o-mini-2024-07-18', prompt_tokens: 120, completion_tokens: 30 },
    ]);
  });

  it('ignores responses without usage and never throws', async () => {
    expect(recordUsage(null)).toBeNull();
    expect(recordUsage({ model: 'x' })).toEqual({ model: 'x' });
    await flush();
    expect(arden.usage).toHaveLength(0);
  });
});

describe.each([
  ['openai 5', OpenAI5],
  ['openai 6', OpenAI6],
])('trackUsage with %s', (_label, Client) => {
  it('records plain and streamed completions and keeps withResponse()', async () => {
    const openai = trackUsage(
      new (Client as unknown as typeof OpenAI)({
        apiKey: 'sk',
        baseURL: fake.baseURL,
        maxRetries: 0,
      }),
    );
    const { request_id } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages })
      .withResponse();
    expect(request_id).toBe('req_fake');
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _chunk of stream) {
      // drain
    }
    await flush();
    expect(arden.usage).toHaveLength(2);
  });
});
