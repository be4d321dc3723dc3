// Test-only. The MCP server that `@modelcontextprotocol/conformance`'s server scenarios expect
// (the tools, resources and prompts each scenario names), written for Arden's tests from what
// those scenarios call and check — the conformance package ships no such server. Streamable HTTP
// with sessions, resumability (an event store) and DNS-rebinding protection, on the official
// MCP SDK's low-level `Server`, so every schema and result is sent exactly as written here.
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  type EventStore,
  StreamableHTTPServerTransport,
} from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  type JSONRPCMessage,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  type LoggingLevel,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  type Tool,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

/** A 1×1 PNG. */
const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/** A valid WAV file: 8 kHz, 8-bit mono, 8 samples of silence. */
function wav(): string {
  const samples = Buffer.alloc(8, 128);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + samples.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8_000, 24);
  header.writeUInt32LE(8_000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(samples.length, 40);
  return Buffer.concat([header, samples]).toString('base64');
}

const noArguments = { type: 'object' as const, properties: {} };

/** The tool the test's policy blocks: not a scenario's; it proves the gateway checks. */
export const blockedTool = 'fixture_delete_everything';

const tools: Tool[] = [
  { name: 'test_simple_text', description: 'Returns one text block', inputSchema: noArguments },
  { name: 'test_image_content', description: 'Returns a PNG image', inputSchema: noArguments },
  { name: 'test_audio_content', description: 'Returns a WAV clip', inputSchema: noArguments },
  {
    name: 'test_embedded_resource',
    description: 'Returns an embedded text resource',
    inputSchema: noArguments,
  },
  {
    name: 'test_multiple_content_types',
    description: 'Returns text, an image and a resource',
    inputSchema: noArguments,
  },
  {
    name: 'test_tool_with_logging',
    description: 'Sends three log messages while it runs',
    inputSchema: noArguments,
  },
  { name: 'test_error_handling', description: 'Always fails', inputSchema: noArguments },
  {
    name: 'test_tool_with_progress',
    description: 'Reports progress 0, 50, 100 of 100',
    inputSchema: noArguments,
  },
  {
    name: 'test_sampling',
    description: 'Asks the client to sample',
    inputSchema: {
      type: 'object',
      properties: { prompt: { type: 'string' } },
      required: ['prompt'],
    },
  },
  {
    name: 'test_elicitation',
    description: 'Asks the user for a username and an email',
    inputSchema: {
      type: 'object',
      properties: { message: { type: 'string' } },
      required: ['message'],
    },
  },
  {
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicitation whose fields have defaults',
    inputSchema: noArguments,
  },
  {
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicitation with each kind of enum field',
    inputSchema: noArguments,
  },
  {
    name: 'json_schema_2020_12_tool',
    description: 'An input schema using JSON Schema 2020-12 keywords',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: {
        address: {
          type: 'object',
          properties: { street: { type: 'string' }, city: { type: 'string' } },
        },
      },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    },
  },
  {
    name: 'test_reconnection',
    description: 'Closes its SSE stream before answering; the client resumes with Last-Event-ID',
    inputSchema: noArguments,
  },
  { name: blockedTool, description: 'Would delete everything', inputSchema: noArguments },
];

const levels: LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The calls the fixture ran, by tool name (what reached it, not what was asked of a gateway). */
export type FixtureCalls = string[];

function mcpServer(calls: FixtureCalls): Server {
  const server = new Server(
    { name: 'arden-conformance-fixture', version: '1.0.0' },
    {
      capabilities: {
        tools: {},
        resources: { subscribe: true },
        prompts: {},
        completions: {},
        logging: {},
      },
    },
  );
  let minimum: LoggingLevel = 'info';
  const subscriptions = new Set<string>();
  server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    minimum = request.params.level;
    return {};
  });

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
  server.setRequestHandler(
    CallToolRequestSchema,
    async (request, extra): Promise<CallToolResult> => {
      const name = request.params.name;
      const args = request.params.arguments ?? {};
      calls.push(name);
      const related = { relatedRequestId: extra.requestId };
      const log = async (level: LoggingLevel, data: string) => {
        if (levels.indexOf(level) < levels.indexOf(minimum)) return;
        await extra.sendNotification({ method: 'notifications/message', params: { level, data } });
      };
      switch (name) {
        case 'test_simple_text':
          return {
            content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
          };
        case 'test_image_content':
          return { content: [{ type: 'image', data: png, mimeType: 'image/png' }] };
        case 'test_audio_content':
          return { content: [{ type: 'audio', data: wav(), mimeType: 'audio/wav' }] };
        case 'test_embedded_resource':
          return {
            content: [
              {
                type: 'resource',
                resource: {
                  uri: 'test://embedded-resource',
                  mimeType: 'text/plain',
                  text: 'This is an embedded resource content.',
                },
              },
            ],
          };
        case 'test_multiple_content_types':
          return {
            content: [
              { type: 'text', text: 'Multiple content types test:' },
              { type: 'image', data: png, mimeType: 'image/png' },
              {
                type: 'resource',
                resource: {
                  uri: 'test://mixed-content-resource',
                  mimeType: 'application/json',
                  text: JSON.stringify({ test: 'data', value: 123 }),
                },
              },
            ],
          };
        case 'test_tool_with_logging':
          await log('info', 'Tool execution started');
          await sleep(50);
          await log('info', 'Tool processing data');
          await sleep(50);
          await log('info', 'Tool execution completed');
          return { content: [{ type: 'text', text: 'Logged three messages.' }] };
        case 'test_error_handling':
          return {
            isError: true,
            content: [
              { type: 'text', text: 'This tool intentionally returns an error for testing' },
            ],
          };
        case 'test_tool_with_progress': {
          const progressToken = request.params._meta?.progressToken;
          for (const progress of [0, 50, 100]) {
            if (progressToken !== undefined) {
              await extra.sendNotification({
                method: 'notifications/progress',
                params: { progressToken, progress, total: 100 },
              });
            }
            if (progress < 100) await sleep(50);
          }
          return { content: [{ type: 'text', text: 'Progress reported.' }] };
        }
        case 'test_sampling': {
          if (!server.getClientCapabilities()?.sampling) {
            return {
              isError: true,
              content: [{ type: 'text', text: 'The client cannot sample.' }],
            };
          }
          const sampled = await server.createMessage(
            {
              messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt) } }],
              maxTokens: 100,
            },
            related,
          );
          const said =
            sampled.content.type === 'text' ? sampled.content.text : sampled.content.type;
          return { content: [{ type: 'text', text: `LLM response: ${said}` }] };
        }
        case 'test_elicitation':
        case 'test_elicitation_sep1034_defaults':
        case 'test_elicitation_sep1330_enums': {
          if (!server.getClientCapabilities()?.elicitation) {
            return {
              isError: true,
              content: [{ type: 'text', text: 'The client cannot elicit.' }],
            };
          }
          const elicited = await server.elicitInput(elicitation(name, args), related);
          const summary = `action=${elicited.action}, content=${JSON.stringify(elicited.content ?? {})}`;
          return {
            content: [
              {
                type: 'text',
                text:
                  name === 'test_elicitation'
                    ? `User response: ${summary}`
                    : `Elicitation completed: ${summary}`,
              },
            ],
          };
        }
        case 'json_schema_2020_12_tool':
          return { content: [{ type: 'text', text: JSON.stringify(args) }] };
        case 'test_reconnection':
          // Ends the POST's SSE stream (the event store keeps what follows); the client comes
          // back with GET and Last-Event-ID and gets the result there.
          extra.closeSSEStream?.();
          await sleep(100);
          return { content: [{ type: 'text', text: 'Answered after the client reconnected.' }] };
        case blockedTool:
          return { content: [{ type: 'text', text: 'Deleted everything.' }] };
        default:
          throw new McpError(-32602, `Unknown tool: ${name}`);
      }
    },
  );

  const texts: Record<string, { name: string; text: string }> = {
    'test://static-text': {
      name: 'static-text',
      text: 'This is the content of the static text resource.',
    },
    'test://watched-resource': { name: 'watched-resource', text: 'Watched resource content.' },
  };
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [
      ...Object.entries(texts).map(([uri, { name }]) => ({
        uri,
        name,
        description: `The ${name} resource`,
        mimeType: 'text/plain',
      })),
      {
        uri: 'test://static-binary',
        name: 'static-binary',
        description: 'A PNG',
        mimeType: 'image/png',
      },
    ],
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      {
        uriTemplate: 'test://template/{id}/data',
        name: 'template-data',
        description: 'Data for an id',
        mimeType: 'application/json',
      },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const uri = request.params.uri;
    const known = texts[uri];
    if (known) return { contents: [{ uri, mimeType: 'text/plain', text: known.text }] };
    if (uri === 'test://static-binary') {
      return { contents: [{ uri, mimeType: 'image/png', blob: png }] };
    }
    const templated = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
    if (templated) {
      const id = decodeURIComponent(templated[1] as string);
      return {
        contents: [
          {
            uri,
            mimeType: 'application/json',
            text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
          },
        ],
      };
    }
    throw new McpError(-32002, `Resource not found: ${uri}`);
  });
  server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    subscriptions.add(request.params.uri);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });

  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: [
      { name: 'test_simple_prompt', description: 'A prompt without arguments' },
      {
        name: 'test_prompt_with_arguments',
        description: 'A prompt with two arguments',
        arguments: [
          { name: 'arg1', description: 'First argument', required: true },
          { name: 'arg2', description: 'Second argument', required: true },
        ],
      },
      {
        name: 'test_prompt_with_embedded_resource',
        description: 'A prompt embedding a resource',
        arguments: [{ name: 'resourceUri', description: 'The URI to embed', required: true }],
      },
      { name: 'test_prompt_with_image', description: 'A prompt with an image' },
    ],
  }));
  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const args = request.params.arguments ?? {};
    switch (request.params.name) {
      case 'test_simple_prompt':
        return {
          messages: [
            {
              role: 'user',
              content: { type: 'text', text: 'This is a simple prompt for testing.' },
            },
          ],
        };
      case 'test_prompt_with_arguments':
        return {
          messages: [
            {
              role: 'user',
              content: {
                type: 'text',
                text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'`,
              },
            },
          ],
        };
      case 'test_prompt_with_embedded_resource':
        return {
          messages: [
            {
              role: 'user',
              content: {
                type: 'resource',
                resource: {
                  uri: String(args.resourceUri),
                  mimeType: 'text/plain',
                  text: 'Embedded resource content for testing.',
                },
              },
            },
            {
              role: 'user',
              content: { type: 'text', text: 'Please process the embedded resource above.' },
            },
          ],
        };
      case 'test_prompt_with_image':
        return {
          messages: [
            { role: 'user', content: { type: 'image', data: png, mimeType: 'image/png' } },
            { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
          ],
        };
      default:
        throw new McpError(-32602, `Unknown prompt: ${request.params.name}`);
    }
  });
  server.setRequestHandler(CompleteRequestSchema, async (request) => {
    const words = ['paris', 'park', 'party', 'test', 'testing'];
    const prefix = request.params.argument.value;
    const values = words.filter((word) => word.startsWith(prefix));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  return server;
}

function elicitation(
  name: string,
  args: Record<string, unknown>,
): Parameters<Server['elicitInput']>[0] {
  if (name === 'test_elicitation_sep1034_defaults') {
    return {
      message: 'Confirm or change the defaults',
      requestedSchema: {
        type: 'object',
        properties: {
          name: { type: 'string', default: 'John Doe' },
          age: { type: 'integer', default: 30 },
          score: { type: 'number', default: 95.5 },
          status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
          verified: { type: 'boolean', default: true },
        },
      },
    };
  }
  if (name === 'test_elicitation_sep1330_enums') {
    return {
      message: 'Pick options',
      requestedSchema: {
        type: 'object',
        properties: {
          untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          titledSingle: {
            type: 'string',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
              ],
            },
          },
        },
      },
    } as Parameters<Server['elicitInput']>[0];
  }
  return {
    message: String(args.message),
    requestedSchema: {
      type: 'object',
      properties: {
        username: { type: 'string', description: "User's response" },
        email: { type: 'string', description: "User's email address" },
      },
      required: ['username', 'email'],
    },
  };
}

/** Keeps every message of every stream, so a client can resume after any of them. */
function memoryEventStore(): EventStore {
  const events = new Map<string, { streamId: string; message: JSONRPCMessage }>();
  return {
    async storeEvent(streamId, message) {
      const eventId = `${streamId}_${events.size}_${randomUUID()}`;
      events.set(eventId, { streamId, message });
      return eventId;
    },
    async getStreamIdForEventId(eventId) {
      return events.get(eventId)?.streamId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const streamId = events.get(lastEventId)?.streamId;
      if (streamId === undefined) throw new Error(`Unknown event id ${lastEventId}`);
      let after = false;
      for (const [eventId, event] of events) {
        if (after && event.streamId === streamId) await send(eventId, event.message);
        if (eventId === lastEventId) after = true;
      }
      return streamId;
    },
  };
}

export interface FixtureServer {
  url: string;
  calls: FixtureCalls;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

/** Starts the fixture on 127.0.0.1 (a free port); its endpoint is `<url>` = `…/mcp`. */
export async function startFixtureServer(): Promise<FixtureServer> {
  const calls: FixtureCalls = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let port = 0;
  const http: HttpServer = createServer(async (request, response) => {
    try {
      const body = request.method === 'POST' ? await readBody(request) : undefined;
      const sessionId = request.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (!transport) {
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            sessions.set(id, created);
          },
          eventStore: memoryEventStore(),
          retryInterval: 200,
          enableDnsRebindingProtection: true,
          allowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`],
          allowedOrigins: [`http://127.0.0.1:${port}`, `http://localhost:${port}`],
        });
        created.onclose = () => {
          if (created.sessionId) sessions.delete(created.sessionId);
        };
        await mcpServer(calls).connect(created);
        transport = created;
      }
      await transport.handleRequest(request, response, body);
    } catch (error) {
      if (!response.headersSent) response.writeHead(400, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32700, message: (error as Error).message },
        }),
      );
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    async close() {
      await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
