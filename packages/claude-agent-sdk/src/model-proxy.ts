// The model calls of the Claude Agent SDK are made by its Claude Code child process, against the
// Anthropic Messages API at ANTHROPIC_BASE_URL. To check them against the agent's budgets before
// they are sent, `queryWithArden` points the child's ANTHROPIC_BASE_URL at this loopback proxy
// (one per process, started on first use on 127.0.0.1, port 0). Each query has its own route,
// `/arden/<random token>/`, so a call is checked and recorded with its query's options and
// session, and a refusal reaches the query that made the call:
//
// - `POST /v1/messages`: Arden is asked first (`checkModelCall`: an estimate of the input tokens,
//   the request's `max_tokens`); refused, the child gets an Anthropic-shaped error (400, not
//   retried) and the query throws `BudgetExceededError` to the developer; allowed, the request is
//   forwarded unchanged to the real upstream (the query's ANTHROPIC_BASE_URL, else
//   api.anthropic.com) and the answer streamed back as it comes, while its usage is read
//   (JSON `usage`, or SSE `message_start`/`message_delta`) and recorded with the reservation,
//   which settles it. A failed call (an upstream error, no usage) settles with no tokens: its
//   reservation is given back at once.
// - Anything else (`/v1/messages/count_tokens`, …): forwarded as is.
//
// Headers (the API key, `authorization`) are forwarded untouched and never logged.
import { randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Arden, estimateTokens, tokenCount } from '@arden/core';

/** The Anthropic API the proxy forwards to when the query sets no ANTHROPIC_BASE_URL. */
export const defaultAnthropicBaseUrl = 'https://api.anthropic.com';

/** The output tokens reserved when a request sets no `max_tokens` (the API requires it). */
const defaultReservedOutputTokens = 4096;

/** One query's route through the proxy. */
export interface ModelRoute {
  /** The base URL to give the child as ANTHROPIC_BASE_URL. */
  readonly url: string;
  /** The first refusal or failure to ask Arden, for the query to throw. */
  readonly failure: unknown;
  /** Stops routing (the query ended); calls already in flight finish. */
  close(): void;
}

/** What a route needs from its query. */
export interface RouteOptions {
  /** The real Anthropic API base URL. */
  upstream: string;
  /** The Arden instance, looked up for each call (throws when not configured). */
  arden: () => Arden;
  /** The Arden session of a call, given the SDK's session id (from the request's header). */
  session: (sdkSessionId: string | undefined) => string | undefined;
}

interface Route extends RouteOptions {
  failure: unknown;
}

const routes = new Map<string, Route>();
let started: Promise<{ server: Server; port: number }> | undefined;

/** Starts the proxy once per process (on first use). */
function proxy(): Promise<{ server: Server; port: number }> {
  started ??= new Promise((resolve, reject) => {
    const server = createServer((request, response) => {
      handle(request, response).catch(() => {
        if (!response.headersSent) {
          answerError(response, 500, 'api_error', 'The Arden model proxy failed.');
        } else response.destroy();
      });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      // Never keeps the process alive: the queries that use it do.
      server.unref();
      resolve({ server, port: (server.address() as AddressInfo).port });
    });
  });
  started.catch(() => {
    started = undefined;
  });
  return started;
}

/** Opens a route for one query: its base URL is the child's ANTHROPIC_BASE_URL. */
export async function openModelRoute(options: RouteOptions): Promise<ModelRoute> {
  const { port } = await proxy();
  const token = randomBytes(16).toString('hex');
  const route: Route = { ...options, failure: undefined };
  routes.set(token, route);
  return {
    url: `http://127.0.0.1:${port}/arden/${token}`,
    get failure() {
      return route.failure;
    },
    close: () => {
      routes.delete(token);
    },
  };
}

function answerError(response: ServerResponse, status: number, type: string, message: string) {
  const body = JSON.stringify({ type: 'error', error: { type, message } });
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    // The CLI does not retry what it is told not to.
    'x-should-retry': 'false',
  });
  response.end(body);
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

// Hop-by-hop headers, and the ones the proxy sets itself.
const dropped = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'content-length',
  'accept-encoding',
]);

function forwardedHeaders(headers: IncomingHttpHeaders, length: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !dropped.has(name)) out[name] = value;
  }
  // Plain bodies, so the usage can be read from the answer.
  out['accept-encoding'] = 'identity';
  out['content-length'] = String(length);
  return out;
}

/** Token counts read from an answer of the Messages API. */
interface SeenUsage {
  input: number;
  cacheRead: number;
  cacheCreation: number;
  output: number;
  seen: boolean;
}

function takeUsage(into: SeenUsage, usage: unknown): void {
  if (!usage || typeof usage !== 'object') return;
  const counts = usage as Record<string, unknown>;
  const input = tokenCount(counts.input_tokens);
  const cacheRead = tokenCount(counts.cache_read_input_tokens);
  const cacheCreation = tokenCount(counts.cache_creation_input_tokens);
  const output = tokenCount(counts.output_tokens);
  // message_delta's counts are cumulative: the latest of each is the call's.
  if (input !== undefined) into.input = input;
  if (cacheRead !== undefined) into.cacheRead = cacheRead;
  if (cacheCreation !== undefined) into.cacheCreation = cacheCreation;
  if (output !== undefined) into.output = output;
  into.seen = true;
}

/** Reads the usage of an SSE stream as its chunks pass by (`message_start`, `message_delta`). */
function sseReader(usage: SeenUsage): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    let end = pending.search(/\r?\n\r?\n/);
    while (end !== -1) {
      const event = pending.slice(0, end);
      pending = pending.slice(end).replace(/^\r?\n\r?\n/, '');
      for (const line of event.split(/\r?\n/)) {
        if (!line.startsWith('data:')) continue;
        try {
          const data = JSON.parse(line.slice(5).trim());
          if (data?.type === 'message_start') takeUsage(usage, data.message?.usage);
          else if (data?.type === 'message_delta') takeUsage(usage, data.usage);
        } catch {
          // Not JSON: not a usage event.
        }
      }
      end = pending.search(/\r?\n\r?\n/);
    }
  };
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const match = /^\/arden\/([0-9a-f]{32})(\/.*)?$/.exec(request.url ?? '');
  const route = match ? routes.get(match[1] as string) : undefined;
  if (!match || !route) {
    answerError(
      response,
      404,
      'not_found_error',
      'This is the Arden model proxy of a query that has ended (or an unknown route).',
    );
    return;
  }
  const path = match[2] ?? '/';
  const body = await readBody(request);
  const method = request.method ?? 'GET';
  const headers = forwardedHeaders(request.headers, body.length);
  if (method !== 'POST' || path.split('?')[0] !== '/v1/messages') {
    forward(route, path, method, headers, body, response, undefined);
    return;
  }
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const model = typeof parsed?.model === 'string' ? parsed.model : 'unknown';
  const header = request.headers['x-claude-code-session-id'];
  const session = route.session(typeof header === 'string' ? header : undefined);
  let arden: Arden;
  let reservationId: string | null;
  try {
    arden = route.arden();
    const reservation = await arden.checkModelCall({
      model,
      estimatedInputTokens: estimateTokens([parsed?.system, parsed?.messages, parsed?.tools]),
      maxOutputTokens: tokenCount(parsed?.max_tokens) ?? defaultReservedOutputTokens,
      ...(session === undefined ? {} : { sessionId: session }),
    });
    reservationId = reservation.reservationId;
  } catch (error) {
    // Refused, or Arden could not be asked (onUnavailable: 'allow' answers instead of throwing):
    // the call is not sent, and the query throws the reason to the developer.
    route.failure ??= error;
    const message = error instanceof Error ? error.message : String(error);
    answerError(
      response,
      400,
      'invalid_request_error',
      `Arden refused this model call: ${message}`,
    );
    return;
  }
  forward(route, path, method, headers, body, response, (usage) => {
    try {
      arden.logTokenUsage({
        model,
        promptTokens: usage.input + usage.cacheRead + usage.cacheCreation,
        completionTokens: usage.output,
        ...(session === undefined ? {} : { sessionId: session }),
        ...(reservationId ? { reservationId } : {}),
      });
    } catch {
      // Recording usage never breaks the agent.
    }
  });
}

/**
 * Sends the request upstream and streams the answer back; `settle` (a checked model call) is
 * called once with the usage read from the answer: none (zeros) when the call failed.
 */
function forward(
  route: Route,
  path: string,
  method: string,
  headers: OutgoingHttpHeaders,
  body: Buffer,
  response: ServerResponse,
  settle: ((usage: SeenUsage) => void) | undefined,
): void {
  const usage: SeenUsage = { input: 0, cacheRead: 0, cacheCreation: 0, output: 0, seen: false };
  let settled = false;
  const finish = () => {
    if (settled || !settle) return;
    settled = true;
    settle(usage);
  };
  let target: URL;
  try {
    target = new URL(`${route.upstream.replace(/\/+$/, '')}${path}`);
  } catch {
    finish();
    answerError(response, 500, 'api_error', 'The upstream ANTHROPIC_BASE_URL is not a URL.');
    return;
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const upstream = send(target, { method, headers }, (answer) => {
    const status = answer.statusCode ?? 502;
    const answerHeaders: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && name !== 'connection' && name !== 'transfer-encoding') {
        answerHeaders[name] = value;
      }
    }
    response.writeHead(status, answerHeaders);
    const type = String(answer.headers['content-type'] ?? '');
    const readSse = settle && status < 400 && type.includes('text/event-stream');
    const onChunk = readSse ? sseReader(usage) : undefined;
    const json: Buffer[] | undefined =
      settle && status < 400 && type.includes('application/json') ? [] : undefined;
    answer.on('data', (chunk: Buffer) => {
      onChunk?.(chunk);
      json?.push(chunk);
      response.write(chunk);
    });
    answer.on('end', () => {
      if (json) {
        try {
          takeUsage(usage, JSON.parse(Buffer.concat(json).toString('utf8'))?.usage);
        } catch {
          // No usage in the answer: settled with none.
        }
      }
      finish();
      response.end();
    });
    answer.on('error', () => {
      finish();
      response.destroy();
    });
  });
  upstream.on('error', () => {
    finish();
    if (!response.headersSent) {
      answerError(response, 502, 'api_error', 'The Arden model proxy could not reach the API.');
    } else response.destroy();
  });
  // The child went away mid-call: stop the upstream call; what was read so far settles it.
  response.on('close', () => {
    if (!response.writableFinished) upstream.destroy();
    finish();
  });
  upstream.end(body);
}
