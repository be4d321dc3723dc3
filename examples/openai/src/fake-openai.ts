// A stand-in for the OpenAI API, so the example runs without a key: a local HTTP server that
// answers Chat Completions like the real API (JSON, and SSE when streaming). Its model calls the
// tools below in its first turn, then answers with every tool result it received.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const toolCalls = [
  { name: 'lookup_customer', arguments: { email: 'ada@example.com' } },
  { name: 'delete_account', arguments: { customerId: 'cus_123' } },
  { name: 'issue_refund', arguments: { customerId: 'cus_123', amount: 150 } },
];

interface Message {
  role: string;
  content?: unknown;
  tool_call_id?: string;
  tool_calls?: { id: string; function: { name: string } }[];
}

function answer(messages: Message[]) {
  const names = new Map<string, string>();
  for (const message of messages) {
    for (const call of message.tool_calls ?? []) names.set(call.id, call.function.name);
  }
  const results = messages.filter((message) => message.role === 'tool');
  if (results.length === 0) {
    return {
      role: 'assistant',
      content: null,
      tool_calls: toolCalls.map((call, index) => ({
        id: `call_${Date.now()}_${index}`,
        type: 'function',
        function: { name: call.name, arguments: JSON.stringify(call.arguments) },
      })),
    };
  }
  const lines = results.map(
    (result) => `${names.get(result.tool_call_id ?? '')} → ${result.content}`,
  );
  return { role: 'assistant', content: `Done.\n  ${lines.join('\n  ')}` };
}

/** Starts the fake API on 127.0.0.1 and returns its base URL (for `new OpenAI({ baseURL })`). */
export async function startFakeOpenAI(): Promise<{ baseURL: string; close: () => void }> {
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const message = answer(body.messages);
    const base = {
      id: `chatcmpl-${Date.now()}`,
      created: Math.floor(Date.now() / 1000),
      model: 'gpt-4o-mini-2024-07-18',
    };
    const usage = { prompt_tokens: 300, completion_tokens: 60, total_tokens: 360 };
    const finish = message.tool_calls ? 'tool_calls' : 'stop';
    if (!body.stream) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message, finish_reason: finish, logprobs: null }],
          usage,
        }),
      );
      return;
    }
    const send = (data: unknown) => response.write(`data: ${JSON.stringify(data)}\n\n`);
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (choices: unknown[], extra = {}) => ({
      ...base,
      object: 'chat.completion.chunk',
      choices,
      ...extra,
    });
    send(
      chunk([
        {
          index: 0,
          delta: { role: 'assistant', content: message.content ?? '' },
          finish_reason: null,
        },
      ]),
    );
    send(chunk([{ index: 0, delta: {}, finish_reason: finish }]));
    if (body.stream_options?.include_usage) send(chunk([], { usage }));
    response.end('data: [DONE]\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseURL: `http://127.0.0.1:${port}/v1`, close: () => server.close() };
}
