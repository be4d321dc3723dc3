import { afterEach, expect, test } from 'vitest';
import { type FakeAnthropic, startFakeAnthropic } from './index';

let fake: FakeAnthropic | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const tools = [{ name: 'Bash', description: 'runs', input_schema: { type: 'object' } }];

async function post(body: unknown): Promise<Response> {
  return fetch(`${fake?.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'anything' },
    body: JSON.stringify(body),
  });
}

function events(text: string): any[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)));
}

test('turn N answers the conversation with N assistant messages; tool results are recorded', async () => {
  fake = await startFakeAnthropic({
    script: [
      { toolUses: [{ name: 'Bash', input: { command: 'ls' } }] },
      { text: 'All done.', usage: { inputTokens: 7, outputTokens: 3 } },
    ],
  });
  const first = events(
    await (
      await post({
        model: 'claude-sonnet-4-5',
        stream: true,
        tools,
        messages: [{ role: 'user', content: 'go' }],
      })
    ).text(),
  );
  expect(first.map((event) => event.type)).toEqual([
    'message_start',
    'content_block_start',
    'content_block_delta',
    'content_block_stop',
    'message_delta',
    'message_stop',
  ]);
  expect(first[1].content_block).toMatchObject({
    type: 'tool_use',
    name: 'Bash',
    id: 'toolu_fake_0_0',
  });
  expect(JSON.parse(first[2].delta.partial_json)).toEqual({ command: 'ls' });
  expect(first[4].delta.stop_reason).toBe('tool_use');

  const second = await post({
    model: 'claude-sonnet-4-5',
    stream: false,
    tools,
    messages: [
      { role: 'user', content: 'go' },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_fake_0_0', name: 'Bash', input: {} }],
      },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'toolu_fake_0_0',
            content: [{ type: 'text', text: 'Blocked by Arden' }],
            is_error: true,
          },
        ],
      },
    ],
  });
  const message = await second.json();
  expect(message).toMatchObject({
    stop_reason: 'end_turn',
    content: [{ type: 'text', text: 'All done.' }],
    usage: { input_tokens: 7, output_tokens: 3 },
  });
  expect(fake.toolResults()).toEqual([
    { toolUseId: 'toolu_fake_0_0', name: 'Bash', text: 'Blocked by Arden', isError: true },
  ]);
  expect(fake.agentRequests()).toHaveLength(2);
});

test('a request without tools gets a side answer; unknown paths get 404', async () => {
  fake = await startFakeAnthropic({ script: [{ toolUses: [{ name: 'Bash', input: {} }] }] });
  const side = await (
    await post({ model: 'm', messages: [{ role: 'user', content: 'title?' }] })
  ).json();
  expect(side.content).toEqual([{ type: 'text', text: 'Fake side answer.' }]);
  const missing = await fetch(`${fake.url}/v1/models`);
  expect(missing.status).toBe(404);
  expect(fake.agentRequests()).toHaveLength(0);
  expect(fake.requests).toHaveLength(2);
});
