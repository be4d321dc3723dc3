import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTimeoutError, PayloadTooLargeError, ValidationError } from '../errors';
import { stringifyJson } from '../store/json';

/** Sends a JSON answer (unless the response was already sent or the client is gone). */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string | number>,
): void {
  if (response.headersSent || response.destroyed) return;
  const text = stringifyJson(body);
  const length = Buffer.byteLength(text);
  response.writeHead(
    status,
    headers === undefined
      ? // The usual answer: its headers as one flat list (no object built and walked per answer).
        [
          'content-type',
          'application/json; charset=utf-8',
          'content-length',
          String(length),
          'cache-control',
          'no-store',
          'x-content-type-options',
          'nosniff',
        ]
      : {
          'content-type': 'application/json; charset=utf-8',
          'content-length': length,
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          ...headers,
        },
  );
  response.end(response.req?.method === 'HEAD' ? undefined : text);
}

/** Sends `{"error": message}` (and the field, when known). */
export function sendError(
  response: ServerResponse,
  status: number,
  message: string,
  extra: Record<string, unknown> = {},
  headers?: Record<string, string | number>,
): void {
  sendJson(response, status, { error: message, ...extra }, headers);
}

/** The client went away before its body arrived; nothing can be answered. */
export class ClientGoneError extends Error {}

/** How long a body may take when nothing set its time (`setBodyTimeout`), in ms. */
export const defaultBodyTimeoutMs = 10_000;

const bodyTimeout = Symbol.for('arden.bodyTimeoutMs');

/**
 * Sets how long the body of `request` may take to arrive, in ms, counted from when it is read.
 * The server sets its unauthenticated limit on every request, and a route raises it once the
 * caller has authenticated.
 */
export function setBodyTimeout(request: IncomingMessage, timeoutMs: number): void {
  (request as IncomingMessage & { [bodyTimeout]?: number })[bodyTimeout] = timeoutMs;
}

/**
 * Reads the body up to `limit` bytes. Throws `PayloadTooLargeError` as soon as the declared or
 * received size passes the limit (without buffering the rest), and `BodyTimeoutError` when the
 * body has not arrived within its time (`setBodyTimeout`; default 10 s). `setting` is the one the
 * 413 names for raising the limit (`ARDEN_BODY_LIMIT` unless said).
 */
export function readBody(
  request: IncomingMessage,
  limit: number,
  setting?: PayloadTooLargeError['setting'],
): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new PayloadTooLargeError(limit, setting));
  }
  if (
    declared !== undefined &&
    request.readableFlowing === null &&
    request.readableLength === Number(declared) &&
    request.readableLength > 0
  ) {
    // The whole declared body came with the headers (the usual case) and waits in the stream:
    // take it now rather than a few ticks later through its events.
    const buffered = request.read() as Buffer;
    request.resume();
    return Promise.resolve(buffered);
  }
  const timeoutMs =
    (request as IncomingMessage & { [bodyTimeout]?: number })[bodyTimeout] ?? defaultBodyTimeoutMs;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    // A body trickled in a byte at a time would otherwise hold the connection (and its buffer)
    // until Node's request timeout.
    const timer = setTimeout(() => {
      request.pause();
      finish(new BodyTimeoutError(timeoutMs));
    }, timeoutMs);
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('aborted', onAborted);
      if (error) reject(error);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.pause();
        finish(new PayloadTooLargeError(limit, setting));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = () => finish(new ClientGoneError('request stream failed'));
    const onAborted = () => finish(new ClientGoneError('client aborted'));
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('aborted', onAborted);
  });
}

/**
 * Reads and parses a JSON body. Throws `ValidationError` (400) for a body that is not JSON, or
 * whose Content-Type says it is something else.
 */
export async function readJson(request: IncomingMessage, limit: number): Promise<unknown> {
  return parseJsonBody(await readJsonText(request, limit));
}

/**
 * A JSON body's text parsed (with `reviver`, when given), as `readJson` parses it: throws
 * `ValidationError` for invalid JSON or a value nested deeper than `maxJsonDepth`.
 */
export function parseJsonBody(
  text: string,
  reviver?: (key: string, value: unknown, context?: { source?: string }) => unknown,
): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1]);
  } catch (error) {
    throw new ValidationError(
      `The request body is not valid JSON (${(error as Error).message.slice(0, 200)}). Send a JSON object with Content-Type: application/json.`,
    );
  }
  if (nestedDeeperThan(value, maxJsonDepth)) {
    throw new ValidationError(
      `The JSON body is nested more than ${maxJsonDepth} levels deep; flatten the tool arguments.`,
    );
  }
  return value;
}

/**
 * Reads a body that should be JSON as text, for a route that parses it itself. Throws
 * `ValidationError` (400) for an empty body or a Content-Type that says it is something else.
 */
export async function readJsonText(
  request: IncomingMessage,
  limit: number,
  setting?: PayloadTooLargeError['setting'],
): Promise<string> {
  const type = request.headers['content-type'];
  if (type && !/json|^text\/plain/i.test(type)) {
    throw new ValidationError(
      `Content-Type "${type.slice(0, 100)}" is not JSON. Send the body as JSON with Content-Type: application/json.`,
      'Content-Type',
    );
  }
  const body = await readBody(request, limit, setting);
  if (body.length === 0) {
    throw new ValidationError(
      'The request body is empty. Send a JSON object with Content-Type: application/json.',
    );
  }
  return body.toString('utf8');
}

/** How deeply a JSON body may nest (deeper values could not be stored or evaluated safely). */
export const maxJsonDepth = 64;

// Iterative, so a hostile body cannot overflow the stack while being checked.
function nestedDeeperThan(root: unknown, limit: number): boolean {
  if (root === null || typeof root !== 'object') return false;
  const stack: [object, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [object, number];
    if (depth > limit) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
