// Test doubles for this package's tests: a scripted model that implements the SDK's `Model`
// interface (plain and streamed), and an HTTP bridge that lets a child process reach an
// in-memory Arden. Not part of the published entry.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestArden } from '@arden/core/test';
import type { Model, ModelRequest, ModelResponse, StreamEvent } from '@openai/agents';

/** One tool call the scripted model makes, one per turn. */
export interface ScriptedCall {
  tool: string;
  args: Record<string, unknown>;
}

/** Options of `scriptedToolModel()`. */
export interface ScriptedToolModelOptions {
  /** The tool calls to make, one per turn, in order; then a final answer. */
  calls: ScriptedCall[];
  /** Exposed as `model.model` (as the SDK's own models do), so usage is recorded under it. */
  name?: string;
  /** Tokens reported per call. */
  usage?: { input: number; output: number };
}

let callCounter = 0;

function textOf(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map(textOf).join('');
  if (output && typeof output === 'object' && 'text' in output) {
    return String((output as { text: unknown }).text);
  }
  return JSON.stringify(output);
}

/** The tool results the model has seen so far, in order. */
export function toolResults(request: ModelRequest): { name: string; output: string }[] {
  if (typeof request.input === 'string') return [];
  return request.input
    .filter((item) => (item as { type?: string }).type === 'function_call_result')
    .map((item) => {
      const result = item as unknown as { name: string; output: unknown };
      return { name: result.name, output: textOf(result.output) };
    });
}

/**
 * A model that calls the scripted tools one per turn (the turn is the number of tool results
 * in its input, so a run resumed in another process continues where it stopped), then answers
 * `done: <tool>=<output> | …` with every tool result it received.
 */
export function scriptedToolModel(
  options: ScriptedToolModelOptions,
): Model & { model: string | undefined; requests: ModelRequest[] } {
  const usage = options.usage ?? { input: 100, output: 20 };
  const requests: ModelRequest[] = [];
  const respond = (request: ModelRequest): ModelResponse => {
    requests.push(request);
    const results = toolResults(request);
    const next = options.calls[results.length];
    const id = `resp_${++callCounter}`;
    const output: ModelResponse['output'] = next
      ? [
          {
            type: 'function_call',
            name: next.tool,
            callId: `call_${process.pid}_${callCounter}`,
            id: `fc_${callCounter}`,
            status: 'completed',
            arguments: JSON.stringify(next.args),
          },
        ]
      : [
          {
            type: 'message',
            role: 'assistant',
            status: 'completed',
            id: `msg_${callCounter}`,
            content: [
              {
                type: 'output_text',
                text: `done: ${results.map((result) => `${result.name}=${result.output}`).join(' | ')}`,
              },
            ],
          },
        ];
    return {
      usage: {
        requests: 1,
        inputTokens: usage.input,
        outputTokens: usage.output,
        totalTokens: usage.input + usage.output,
        inputTokensDetails: [],
        outputTokensDetails: [],
      },
      output,
      responseId: id,
    } as unknown as ModelResponse;
  };
  return {
    model: options.name,
    requests,
    async getResponse(request) {
      return respond(request);
    },
    async *getStreamedResponse(request): AsyncIterable<StreamEvent> {
      const response = respond(request);
      yield { type: 'response_started' };
      for (const item of response.output) {
        if (item.type === 'message' && Array.isArray(item.content)) {
          for (const part of item.content) {
            if (part.type === 'output_text') {
              yield { type: 'output_text_delta', delta: part.text };
            }
          }
        }
      }
      yield {
        type: 'response_done',
        response: {
          id: response.responseId ?? 'resp',
          usage: {
            requests: 1,
            inputTokens: response.usage.inputTokens,
            outputTokens: response.usage.outputTokens,
            totalTokens: response.usage.totalTokens,
          },
          output: response.output,
        },
      } as StreamEvent;
    },
  };
}

/**
 * Serves an in-memory Arden over HTTP on 127.0.0.1 (port 0), so that a child process can
 * reach it with `ARDEN_API_URL`.
 */
export async function serveTestArden(
  arden: TestArden,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [key, value] of Object.entries(request.headers)) {
      if (typeof value === 'string') headers.set(key, value);
    }
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const answer = await arden.fetch(`http://arden.test${request.url}`, {
      method: request.method ?? 'GET',
      headers,
      ...(body && request.method !== 'GET' ? { body } : {}),
    });
    response.writeHead(answer.status, { 'content-type': 'application/json' });
    response.end(await answer.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let hostedCounter = 0;

/**
 * A model that hosts an MCP tool as OpenAI does: turn 1 asks for approval of github's delete_file
 * (OpenAI's `mcp_approval_request`, with `request` as its arguments — or, an object, as the
 * request's fields: `server_label`, `name`, `arguments`), turn 2 answers.
 */
export function approvalRequestingModel(
  request: string | Record<string, unknown> = '{"path":"README.md"}',
): Model & { requests: ModelRequest[] } {
  const fields =
    typeof request === 'string'
      ? { server_label: 'github', name: 'delete_file', arguments: request }
      : request;
  const requests: ModelRequest[] = [];
  const usage = {
    requests: 1,
    inputTokens: 1,
    outputTokens: 1,
    totalTokens: 2,
    inputTokensDetails: [],
    outputTokensDetails: [],
  };
  return {
    requests,
    async getResponse(request) {
      requests.push(request);
      hostedCounter += 1;
      const output =
        requests.length === 1
          ? [
              {
                type: 'hosted_tool_call',
                name: fields.name ?? '',
                id: `mcpr_${hostedCounter}`,
                status: 'completed',
                providerData: {
                  type: 'mcp_approval_request',
                  id: `mcpr_${hostedCounter}`,
                  ...fields,
                },
              },
            ]
          : [
              {
                type: 'message',
                role: 'assistant',
                status: 'completed',
                id: `msg_${hostedCounter}`,
                content: [{ type: 'output_text', text: 'done' }],
              },
            ];
      return { usage, output, responseId: `resp_${hostedCounter}` } as unknown as ModelResponse;
    },
    // biome-ignore lint/correctness/useYield: not streamed in these tests
    async *getStreamedResponse() {
      throw new Error('not streamed');
    },
  };
}

/** The approval response the SDK sent back to the hosted MCP tool's model. */
export function approvalResponse(model: { requests: ModelRequest[] }) {
  const input = model.requests[1]?.input;
  const items = Array.isArray(input) ? input : [];
  const response = items.find(
    (item) => (item as { name?: string }).name === 'mcp_approval_response',
  ) as { providerData?: { approve: boolean; reason?: string; approval_request_id: string } };
  return response?.providerData;
}
