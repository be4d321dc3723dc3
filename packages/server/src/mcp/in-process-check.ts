import type { InProcessAgentApi } from '../agent/routes';
import {
  ArdenServerError,
  PayloadTooLargeError,
  RateLimitedError,
  StoreUnavailableError,
} from '../errors';
import type { Logger } from '../logger';

// The HTTP gateway's Arden client is core's, as every adapter's (the same check, wait, outcome
// reports and fail-closed rules), but its checks do not leave the process: a `POST
// /policy/check` goes straight to the agent API's own check (agent/routes.ts) — the same key
// authentication and rate limit, memory, budgets, logging and group commit, receipt and live
// event — instead of over loopback HTTP to this server. Everything else the client sends (the
// long-poll of a held call, outcome reports, a cancel) still goes over loopback: rare, and off
// the call's path.

/** A `fetch` for core's `Arden` that answers `POST <apiUrl>/policy/check` in process. */
export function inProcessFetch(
  api: InProcessAgentApi,
  apiUrl: string,
  key: string,
  bodyLimit: number,
  logger: Logger,
): typeof globalThis.fetch {
  const checkUrl = `${apiUrl}/policy/check`;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    if (init?.method !== 'POST' || String(input) !== checkUrl || typeof init.body !== 'string') {
      return globalThis.fetch(input, init);
    }
    const started = performance.now();
    try {
      const principal = await api.authenticateKey(key);
      if (Buffer.byteLength(init.body) > bodyLimit)
        throw new PayloadTooLargeError(bodyLimit, 'ARDEN_CHECK_BODY_LIMIT');
      const { body, answered } = await api.check(principal, init.body, started);
      queueMicrotask(answered);
      return json(200, body);
    } catch (error) {
      return errorAnswer(error, logger);
    }
  }) as typeof globalThis.fetch;
}

/**
 * The answer as core's fetch transport reads it (`status`, `headers.get`, `text()`) — not a
 * whole `Response`, whose streams would cost more than the check's own answer does.
 */
function json(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Response {
  const text = JSON.stringify(body);
  const all: Record<string, string> = { 'content-type': 'application/json', ...headers };
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (name: string) => all[name.toLowerCase()] ?? null },
    text: async () => text,
    json: async () => JSON.parse(text),
  } as unknown as Response;
}

/** The answer the server's error handler (server.ts) gives for the same error. */
function errorAnswer(error: unknown, logger: Logger): Response {
  if (error instanceof StoreUnavailableError) {
    return json(503, { error: error.message }, { 'retry-after': String(error.retryAfterSeconds) });
  }
  if (ArdenServerError.isInstance(error) && error.status < 500) {
    const field = (error as { field?: string }).field;
    return json(
      error.status,
      { error: error.message, ...(field ? { field } : {}) },
      error instanceof RateLimitedError ? { 'retry-after': String(error.retryAfterSeconds) } : {},
    );
  }
  logger.error('An MCP gateway check failed', {
    error,
    stack: error instanceof Error ? error.stack : undefined,
  });
  return json(500, {
    error:
      'Internal server error during the check; the details are in the server log. Retry the call.',
  });
}
