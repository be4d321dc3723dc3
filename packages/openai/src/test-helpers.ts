// A fake OpenAI API for this package's tests: a node:http server on 127.0.0.1 (port 0) that
// answers Chat Completions and Responses requests like the real API, in JSON and in SSE.
// Not part of the published entry.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One tool call the fake model makes. */
export interface FakeToolCall {
  name: string;
  args: Record<string, unknown>;
}

/** Options of `startFakeOpenAI()`. */
export interface FakeOpenAIOptions {
  /** Tool calls the model makes in its first turn (all at once, as parallel calls). */
  toolCalls?: FakeToolCall[];
  /** The model name the API reports. */
  model?: string;
  /** Tokens reported per request. */
  usage?: { prompt: number; completion: number };
}

/** The fake server. */
export interface FakeOpenAI {
  /** The `baseURL` for `new OpenAI({ baseURL })`. */
  baseURL: string;
  /** Every request body received, in order. */
  requests: { path: string; body: any }[];
  close(): Promise<void>;
}

interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: { id: string; function: { name: string } }[];
  tool_call_id?: string;
}

let counter = 0;

/** What the model says next: tool calls in its first turn, then every tool result it got. */
function nextTurn(messages: ChatMessage[], options: FakeOpenAIOptions) {
  const names = new Map<string, string>();
  for (const message of messages) {
    for (const call of message.tool_calls ?? []) names.set(call.id, call.function.name);
  }
  const results = messages.filter((message) => message.role === 'tool');
  if (results.length === 0 && (options.toolCalls?.length ?? 0) > 0) {
    return {
      toolCalls: (options.toolCalls ?? []).map((call) => ({
        id: `call_${++counter}`,
        type: 'function' as const,
        function: { name: call.name, arguments: JSON.stringify(call.args) },
      })),
      content: null,
    };
  }
  const summary = results
    .map((result) => `${names.get(result.tool_call_id ?? '') ?? '?'}=${String(result.content)}`)
    .join(' | ');
  return { toolCalls: undefined, content: `done: ${summary}` };
}

async function readJson(request: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function sendJson(response: ServerResponse, body: unknown) {
  response.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake' });
  response.end(JSON.stringify(body));
}

function sendEvents(response: ServerResponse, events: { event?: string; data: unknown }[]) {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_fake' });
  for (const { event, data } of events) {
    response.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
  }
  response.end('data: [DONE]\n\n');
}

function chatCompletion(body: any, options: FakeOpenAIOptions, response: ServerResponse) {
  const model = options.model ?? 'gpt-4o-mini-2024-07-18';
  const usage = options.usage ?? { prompt: 50, completion: 10 };
  const turn = nextTurn(body.messages ?? [], options);
  const id = `chatcmpl-${++counter}`;
  const created = Math.floor(Date.now() / 1000);
  const usageBody = {
    prompt_tokens: usage.prompt,
    completion_tokens: usage.completion,
    total_tokens: usage.prompt + usage.completion,
  };
  const finish = turn.toolCalls ? 'tool_calls' : 'stop';
  if (!body.stream) {
    sendJson(response, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: turn.content,
            refusal: null,
            ...(turn.toolCalls ? { tool_calls: turn.toolCalls } : {}),
          },
          finish_reason: finish,
          logprobs: null,
        },
      ],
      usage: usageBody,
    });
    return;
  }
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    data: { id, object: 'chat.completion.chunk', created, model, choices, ...extra },
  });
  const events = [
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
  ];
  if (turn.toolCalls) {
    turn.toolCalls.forEach((call, index) => {
      events.push(
        chunk([{ index: 0, delta: { tool_calls: [{ index, ...call }] }, finish_reason: null }]),
      );
    });
  } else {
    for (const piece of (turn.content ?? '').match(/.{1,8}/gs) ?? []) {
      events.push(chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]));
    }
  }
  events.push(chunk([{ index: 0, delta: {}, finish_reason: finish }]));
  if (body.stream_options?.include_usage) events.push(chunk([], { usage: usageBody }));
  sendEvents(response, events);
}

function responsesCreate(body: any, options: FakeOpenAIOptions, response: ServerResponse) {
  const model = options.model ?? 'gpt-4o-mini-2024-07-18';
  const usage = options.usage ?? { prompt: 50, completion: 10 };
  const text = `echo: ${typeof body.input === 'string' ? body.input : 'items'}`;
  const result = {
    id: `resp_${++counter}`,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    model,
    status: 'completed',
    output: [
      {
        type: 'message',
        id: `msg_${counter}`,
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text, annotations: [] }],
      },
    ],
    usage: {
      input_tokens: usage.prompt,
      output_tokens: usage.completion,
      total_tokens: usage.prompt + usage.completion,
    },
  };
  if (!body.stream) {
    sendJson(response, result);
    return;
  }
  sendEvents(response, [
    {
      event: 'response.created',
      data: {
        type: 'response.created',
        response: { ...result, status: 'in_progress', usage: null },
      },
    },
    {
      event: 'response.output_text.delta',
      data: { type: 'response.output_text.delta', item_id: `msg_${counter}`, delta: text },
    },
    { event: 'response.completed', data: { type: 'response.completed', response: result } },
  ]);
}

/** Starts the fake API. */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: FakeOpenAI['requests'] = [];
  const server = createServer(async (request, response) => {
    const body = await readJson(request);
    const path = request.url ?? '';
    requests.push({ path, body });
    if (request.method === 'POST' && path === '/v1/chat/completions') {
      chatCompletion(body, options, response);
    } else if (request.method === 'POST' && path === '/v1/responses') {
      responsesCreate(body, options, response);
    } else {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: `No route ${request.method} ${path}` } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
