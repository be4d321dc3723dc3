/**
 * A local fake of the Anthropic Messages API for tests that drive the real Claude Code CLI or the
 * real Claude Agent SDK offline. It answers `POST /v1/messages` (streaming SSE, or JSON when the
 * request does not stream) from a script: turn N of the script answers the request whose
 * conversation holds N assistant messages, so the model "calls" the scripted tools, then reads
 * their results and ends with a text. Requests without tools (side queries such as titles) get
 * a short text. Every request is recorded, so a test can assert on the `tool_result` text the
 * tool (or Arden's denial) produced.
 *
 * ```ts
 * const fake = await startFakeAnthropic({
 *   script: [{ toolUses: [{ name: 'Bash', input: { command: 'echo hi' } }] }, { text: 'Done.' }],
 * });
 * // ANTHROPIC_BASE_URL=fake.url ANTHROPIC_API_KEY=anything claude -p "go"
 * fake.toolResults(); // [{ toolUseId, name: 'Bash', text: 'hi', isError: false }]
 * await fake.close();
 * ```
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One tool call the fake model makes. */
export interface ScriptedToolUse {
  /** The tool's name as the agent lists it: `Bash`, `Write`, `mcp__github__create_issue`. */
  name: string;
  /** The tool's input. */
  input: Record<string, unknown>;
  /** The `tool_use` id. Default: `toolu_fake_<turn>_<index>`. */
  id?: string;
}

/** One answer of the fake model: tool calls (`stop_reason: tool_use`), or a final text. */
export type ScriptedTurn =
  | { toolUses: ScriptedToolUse[]; text?: string; usage?: FakeUsage }
  | { text: string; usage?: FakeUsage };

/** The usage the fake reports for a turn. Default: 100 input and 20 output tokens. */
export interface FakeUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
}

/** A request the fake received. */
export interface RecordedRequest {
  method: string;
  /** The path with its query, for example `/v1/messages?beta=true`. */
  path: string;
  /** The parsed JSON body (`undefined` when the body was not JSON). */
  body: any;
}

/** A `tool_result` block the agent sent back, with the name of the tool it answers. */
export interface ToolResult {
  toolUseId: string;
  /** The tool's name, from the scripted `tool_use` of that id (`undefined` if unknown). */
  name: string | undefined;
  /** The result's text (text blocks joined by newlines). */
  text: string;
  isError: boolean;
}

/** Options of {@link startFakeAnthropic}. */
export interface FakeAnthropicOptions {
  /** The turns of the model, in order. */
  script: ScriptedTurn[];
  /** The model name reported when the request names none. Default `claude-sonnet-4-5`. */
  model?: string;
}

/** A running fake. */
export interface FakeAnthropic {
  /** The base URL to give as `ANTHROPIC_BASE_URL`, for example `http://127.0.0.1:41234`. */
  url: string;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  /** The `POST /v1/messages` requests that carried tools (the agent's own turns). */
  agentRequests(): RecordedRequest[];
  /** The `tool_result` blocks of the last agent request (each tool call's answer, once). */
  toolResults(): ToolResult[];
  /** Stops the server. */
  close(): Promise<void>;
}

const defaultUsage: FakeUsage = { inputTokens: 100, outputTokens: 20 };

function turnUsage(usage: FakeUsage | undefined) {
  const value = usage ?? defaultUsage;
  return {
    input_tokens: value.inputTokens,
    output_tokens: value.outputTokens,
    cache_read_input_tokens: value.cacheReadInputTokens ?? 0,
    cache_creation_input_tokens: value.cacheCreationInputTokens ?? 0,
  };
}

/** The content blocks of turn `index` (a text past the end of the script). */
function contentOf(script: ScriptedTurn[], index: number): { blocks: any[]; usage: any } {
  const turn = script[index] ?? { text: 'The script has no more turns.' };
  const blocks: any[] = [];
  if (turn.text !== undefined) blocks.push({ type: 'text', text: turn.text });
  if ('toolUses' in turn) {
    turn.toolUses.forEach((use, position) => {
      blocks.push({
        type: 'tool_use',
        id: use.id ?? `toolu_fake_${index}_${position}`,
        name: use.name,
        input: use.input,
      });
    });
  }
  return { blocks, usage: turnUsage(turn.usage) };
}

function sse(response: ServerResponse, type: string, data: unknown): void {
  response.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
}

function streamMessage(response: ServerResponse, message: any): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': `req_fake_${message.id}`,
  });
  sse(response, 'message_start', {
    type: 'message_start',
    message: {
      ...message,
      content: [],
      stop_reason: null,
      usage: { ...message.usage, output_tokens: 1 },
    },
  });
  message.content.forEach((block: any, index: number) => {
    if (block.type === 'text') {
      sse(response, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      sse(response, 'content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'text_delta', text: block.text },
      });
    } else {
      sse(response, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      sse(response, 'content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
    }
    sse(response, 'content_block_stop', { type: 'content_block_stop', index });
  });
  sse(response, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  sse(response, 'message_stop', { type: 'message_stop' });
  response.end();
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((block) => block?.type === 'text' && typeof block.text === 'string')
    .map((block) => block.text as string)
    .join('\n');
}

/** Starts the fake on a free port of 127.0.0.1. */
export async function startFakeAnthropic(options: FakeAnthropicOptions): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const toolNames = new Map<string, string>();
  let messageCount = 0;

  const server = createServer(async (request, response) => {
    const text = await readBody(request);
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const path = request.url ?? '/';
    requests.push({ method: request.method ?? 'GET', path, body });
    const route = path.split('?')[0];
    if (request.method === 'POST' && route === '/v1/messages/count_tokens') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ input_tokens: 100 }));
      return;
    }
    if (request.method !== 'POST' || route !== '/v1/messages' || !body) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          type: 'error',
          error: { type: 'not_found_error', message: `The fake has no ${route}` },
        }),
      );
      return;
    }
    const messages: any[] = Array.isArray(body.messages) ? body.messages : [];
    const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
    const turn = hasTools
      ? contentOf(
          options.script,
          messages.filter((message) => message?.role === 'assistant').length,
        )
      : { blocks: [{ type: 'text', text: 'Fake side answer.' }], usage: turnUsage(undefined) };
    for (const block of turn.blocks) {
      if (block.type === 'tool_use') toolNames.set(block.id, block.name);
    }
    messageCount++;
    const message = {
      id: `msg_fake_${messageCount}`,
      type: 'message',
      role: 'assistant',
      model: typeof body.model === 'string' ? body.model : (options.model ?? 'claude-sonnet-4-5'),
      content: turn.blocks,
      stop_reason: turn.blocks.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: turn.usage,
    };
    if (body.stream) {
      streamMessage(response, message);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const agentRequests = () =>
    requests.filter(
      (request) =>
        request.path.split('?')[0] === '/v1/messages' &&
        Array.isArray(request.body?.tools) &&
        request.body.tools.length > 0,
    );

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    agentRequests,
    toolResults() {
      const last = agentRequests().at(-1);
      const results: ToolResult[] = [];
      for (const message of last?.body?.messages ?? []) {
        if (message?.role !== 'user' || !Array.isArray(message.content)) continue;
        for (const block of message.content) {
          if (block?.type !== 'tool_result') continue;
          results.push({
            toolUseId: block.tool_use_id,
            name: toolNames.get(block.tool_use_id),
            text: textOf(block.content),
            isError: block.is_error === true,
          });
        }
      }
      return results;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
