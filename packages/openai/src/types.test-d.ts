import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { describe, expectTypeOf, it } from 'vitest';
import { ArdenToolExecutor, recordUsage, trackUsage } from './index';

describe('types', () => {
  it('trackUsage returns the client with its own type', () => {
    const client = trackUsage(new OpenAI({ apiKey: 'sk' }));
    expectTypeOf(client).toEqualTypeOf<OpenAI>();
  });

  it('toolMessages accepts message.tool_calls and yields message params', async () => {
    const client = new OpenAI({ apiKey: 'sk' });
    const executor = new ArdenToolExecutor().register(
      'add',
      ({ a, b }: { a: number; b: number }) => a + b,
    );
    const completion = await client.chat.completions.create({ model: 'm', messages: [] });
    const message = completion.choices[0]!.message;
    const messages: ChatCompletionMessageParam[] = [message];
    messages.push(...(await executor.toolMessages(message.tool_calls)));
    messages.push(...(await executor.toolMessages(message)));
    expectTypeOf(await executor.run('add', '{"a":1,"b":2}')).toEqualTypeOf<string>();
  });

  it('recordUsage returns what it was given', async () => {
    const client = new OpenAI({ apiKey: 'sk' });
    const completion = await client.chat.completions.create({ model: 'm', messages: [] });
    expectTypeOf(recordUsage(completion)).toEqualTypeOf(completion);
  });
});
