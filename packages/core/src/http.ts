import {
  ArdenApiError,
  ArdenUnavailableError,
  ConfigurationError,
  withoutFinalStop,
} from './errors';
import { type NetModule, socketTransport } from './http1';
import { stringifyWire } from './json-safe';
import type { ResolvedOptions } from './options';
import { getBuiltin, getProcess, readEnv, sleep } from './runtime';
import { TimeoutError, type Transport, type TransportResponse } from './transport';
import { version } from './version';

function fetchTransport(fetchImplementation: typeof globalThis.fetch): Transport {
  return async (request) => {
    const response = await fetchImplementation(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    const text = await response.text();
    return {
      status: response.status,
      header: (name) => response.headers.get(name) ?? undefined,
      text,
    };
  };
}

interface NodeHttpModule {
  Agent: new (options: Record<string, unknown>) => { destroy(): void };
  request(
    url: URL,
    options: Record<string, unknown>,
    callback: (response: NodeResponse) => void,
  ): NodeRequest;
}
interface NodeResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  setEncoding(encoding: string): void;
  on(event: string, listener: (...args: any[]) => void): void;
}
interface NodeRequest {
  on(event: string, listener: (...args: any[]) => void): void;
  setTimeout(milliseconds: number, callback: () => void): void;
  destroy(error?: Error): void;
  end(body?: string): void;
}

// On Node, a keep-alive `node:http` agent: a round trip costs less than half of `fetch`'s
// (measured in bench/), which matters because every tool call pays it.
function nodeTransport(apiUrl: string): Transport | undefined {
  const isHttps = apiUrl.startsWith('https:');
  const module = getBuiltin<NodeHttpModule>(isHttps ? 'node:https' : 'node:http');
  if (!module?.Agent || !module.request) return undefined;
  const agent = new module.Agent({ keepAlive: true, keepAliveMsecs: 1_000, maxFreeSockets: 16 });
  const transport: Transport = (request) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const outgoing = module.request(
        new URL(request.url),
        { method: request.method, headers: request.headers, agent },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
          });
          response.on('end', () => {
            resolve({
              status: response.statusCode ?? 0,
              header: (name) => {
                const value = response.headers[name.toLowerCase()];
                return Array.isArray(value) ? value[0] : value;
              },
              text,
            });
          });
          response.on('error', reject);
        },
      );
      outgoing.setTimeout(request.timeoutMs, () => {
        outgoing.destroy(new TimeoutError(`timed out after ${request.timeoutMs} ms`));
      });
      outgoing.on('error', reject);
      outgoing.end(request.body);
    });
  transport.close = () => agent.destroy();
  return transport;
}

/**
 * On Node: the socket client (http1.ts) for `http:` URLs, `node:http(s)` for `https:`, for
 * proxied set-ups (NODE_USE_ENV_PROXY) and when ARDEN_HTTP_TRANSPORT=node-http. Undefined
 * elsewhere (then `fetch`).
 */
function platformTransport(apiUrl: string): Transport | undefined {
  const choice = readEnv('ARDEN_HTTP_TRANSPORT');
  if (choice !== undefined && !['fetch', 'node-http', 'socket'].includes(choice)) {
    throw new ConfigurationError(
      `ARDEN_HTTP_TRANSPORT is "${choice.slice(0, 40)}"; use socket (the default on Node for http: URLs), node-http or fetch, or unset it.`,
      { option: 'ARDEN_HTTP_TRANSPORT' },
    );
  }
  if (choice === 'fetch') return undefined;
  if (choice !== 'node-http' && !envProxyEnabled()) {
    const transport = socketTransport(apiUrl, getBuiltin<NetModule>('node:net'));
    if (transport) return transport;
  }
  return nodeTransport(apiUrl);
}

// Node's proxy support from the environment (NODE_USE_ENV_PROXY=1 or --use-env-proxy) applies
// to node:http and fetch only; with it on, the socket client stands aside.
function envProxyEnabled(): boolean {
  if (readEnv('NODE_USE_ENV_PROXY') !== undefined) return true;
  const flags = [
    ...((getProcess() as { execArgv?: string[] } | undefined)?.execArgv ?? []),
    readEnv('NODE_OPTIONS') ?? '',
  ];
  return flags.some((flag) => flag.includes('--use-env-proxy'));
}

/** Options of one request. */
export interface RequestOptions {
  /** Time limit for this request; defaults to `timeoutMs`. */
  timeoutMs?: number;
  /** Retries after network errors, 5xx and 429; defaults to `retryAttempts`. */
  retryAttempts?: number;
  /** Extra headers (the W3C trace context of a traced check). */
  headers?: Record<string, string>;
}

const maxBackoffMs = 4_000;
const maxRetryAfterMs = 10_000;

/** Delay before retry `attempt` (0-based): exponential backoff with full jitter. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxBackoffMs, 200 * 2 ** attempt);
  return Math.round(random() * ceiling);
}

/**
 * The agent API client: JSON over one keep-alive connection pool, with a time limit per
 * request and retries (exponential backoff with jitter) on network errors, 5xx and 429 only.
 */
export class HttpClient {
  private readonly transport: Transport;

  constructor(private readonly options: ResolvedOptions) {
    this.transport =
      (options.fetch ? fetchTransport(options.fetch) : platformTransport(options.apiUrl)) ??
      fetchTransport(globalThis.fetch.bind(globalThis));
  }

  /** Sends one request and returns the parsed JSON body of a 2xx answer. */
  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    requestOptions: RequestOptions = {},
  ): Promise<T> {
    const timeoutMs = requestOptions.timeoutMs ?? this.options.timeoutMs;
    const retries = requestOptions.retryAttempts ?? this.options.retryAttempts;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-api-key': this.options.apiKey,
      'user-agent': `arden-ts/${version}`,
    };
    if (requestOptions.headers) Object.assign(headers, requestOptions.headers);
    const payload = body === undefined ? undefined : stringifyWire(body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const url = this.options.apiUrl + path;
    let lastFault: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      let response: TransportResponse;
      try {
        response = await this.transport({ method, url, headers, body: payload, timeoutMs });
      } catch (error) {
        // A request that cannot be written (a bad header value, a URL it cannot hold) fails the
        // same way every time: no retry, and not "unreachable".
        if (ConfigurationError.isInstance(error)) throw error;
        lastFault = error;
        this.options.logger.debug('request failed', { path, attempt, error: describe(error) });
        if (attempt < retries) await sleep(backoffDelay(attempt));
        continue;
      }
      if (response.status >= 200 && response.status < 300) {
        try {
          return (response.text === '' ? {} : JSON.parse(response.text)) as T;
        } catch (cause) {
          throw new ArdenUnavailableError({
            message: `Arden server at ${this.options.apiUrl} answered ${path} with a body that is not JSON. Is ARDEN_API_URL pointing at an Arden server?`,
            cause,
          });
        }
      }
      if (response.status >= 500 || response.status === 429) {
        lastFault = new ArdenApiError({
          statusCode: response.status,
          path,
          apiUrl: this.options.apiUrl,
          ...errorDetail(response.text),
        });
        if (attempt < retries) {
          const retryAfter = Number(response.header('retry-after'));
          await sleep(
            Number.isFinite(retryAfter) && retryAfter > 0
              ? Math.min(retryAfter * 1000, maxRetryAfterMs)
              : backoffDelay(attempt),
          );
        }
        continue;
      }
      throw new ArdenApiError({
        statusCode: response.status,
        path,
        apiUrl: this.options.apiUrl,
        ...errorDetail(response.text),
      });
    }
    throw new ArdenUnavailableError({
      message: `Arden server at ${this.options.apiUrl} could not be reached for ${path} after ${retries + 1} attempt(s): ${describe(lastFault)}. Is the server running (arden start)?`,
      cause: lastFault,
    });
  }

  /** Releases pooled connections. */
  close(): void {
    this.transport.close?.();
  }
}

/** The error text of an answer, and whether it has the shape of an Arden error. */
function errorDetail(text: string): { detail?: string; fromArden: boolean } {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; detail?: unknown } | null;
    const detail = parsed?.error ?? parsed?.detail;
    if (typeof detail === 'string') return { detail, fromArden: true };
  } catch {
    // Not JSON: handled below.
  }
  const detail = text.slice(0, 200);
  return detail ? { detail, fromArden: false } : { fromArden: false };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code =
      (error as { code?: unknown; cause?: { code?: unknown } }).code ??
      (error as { cause?: { code?: unknown } }).cause?.code;
    const message = withoutFinalStop(error.message);
    return code ? `${message} (${String(code)})` : message;
  }
  return String(error);
}
