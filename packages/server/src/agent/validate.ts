import { ExactJsonError, isExactUint, parseExactJsonMembers } from '@arden/policy';
import { PayloadTooLargeError, ValidationError } from '../errors';
import { maxJsonDepth } from '../http/respond';
import { withoutNul } from '../text';
import type { UsageInput } from '../usage/service';

/**
 * A validated `POST /policy/check` body. The values are exact (integers as `bigint`, see
 * `parseExactJson`): what the policy engine sees. The `…Json` texts are the same arguments byte
 * for byte as the agent sent them: what is stored and sent back.
 */
export interface CheckInput {
  toolName: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  argsJson: string;
  kwargsJson: string;
  metadataJson: string | null;
  sessionId: string | null;
}

/** A validated `POST /v1/actions/{id}/result` body. */
export interface ResultInput {
  status: 'succeeded' | 'failed';
  durationMs: number | null;
  error: string | null;
  result: unknown;
}

const maxToolName = 256;
const maxSessionId = 256;
const maxModel = 200;
/** Events accepted in one `POST /token-usage` batch. */
export const maxUsageBatch = 1_000;
const maxResultBytes = 64 * 1024;

/** Whether `value` is a JSON object (not an array or null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isExactUint(value)) return 'a number';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function requireObjectBody(body: unknown, shape: string): Record<string, unknown> {
  if (!isObject(body)) {
    throw new ValidationError(`The body must be a JSON object (${shape}); got ${kind(body)}.`);
  }
  return body;
}

// PostgreSQL text cannot hold NUL, and no tool, model or session name needs one.
function refuseNul(value: string, field: string): string {
  if (value.includes('\u0000')) {
    throw new ValidationError(`${field} must not contain NUL (\\u0000) characters.`, field);
  }
  return value;
}

function sessionOf(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  // ardenpy's set_session(123) sends the number: it is the session "123".
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (isExactUint(value)) return String(value.valueOf());
  if (typeof value !== 'string') {
    throw new ValidationError(
      `${field} must be a string (or a number, read as its digits); got ${kind(value)}.`,
      field,
    );
  }
  if (value.length > maxSessionId) {
    throw new ValidationError(`${field} is longer than ${maxSessionId} characters.`, field);
  }
  return refuseNul(value, field);
}

// A JSON object of the check body: not an array, and not a uint (which is an object to JS).
function isCheckObject(value: unknown): value is Record<string, unknown> {
  return isObject(value) && !isExactUint(value);
}

function parseCheckText(
  text: string,
  maxValues: number,
): {
  object: Record<string, unknown>;
  sources: Map<string, string>;
} {
  try {
    const { value, sources } = parseExactJsonMembers(text, { maxDepth: maxJsonDepth, maxValues });
    return { object: value, sources };
  } catch (error) {
    if (!(error instanceof ExactJsonError)) throw error;
    if (error.code === 'too_many_values') {
      throw new PayloadTooLargeError(maxValues, 'ARDEN_CHECK_VALUE_LIMIT');
    }
    if (error.code === 'too_deep') {
      throw new ValidationError(
        `The JSON body is nested more than ${maxJsonDepth} levels deep; flatten the tool arguments.`,
        error.path || undefined,
      );
    }
    if (error.code === 'syntax') {
      throw new ValidationError(
        `The request body is not valid JSON (${error.path ? `in ${error.path}: ` : ''}${error.reason}). Send a JSON object {"tool_name", "args", "kwargs", "metadata"} with Content-Type: application/json.`,
      );
    }
    throw new ValidationError(`${error.path}: ${error.reason}.`, error.path);
  }
}

/**
 * Validates a check body as ardenpy and `@arden/core` send it, from its text: the arguments are
 * read exactly (integers beyond 2^53 are not rounded) and their text is kept as sent. A body of
 * more than `maxValues` JSON values (`ARDEN_CHECK_VALUE_LIMIT`) is refused with a 413 as soon as
 * the parse passes it.
 */
export function parseCheck(text: string, maxValues: number = Number.POSITIVE_INFINITY): CheckInput {
  const { object, sources } = parseCheckText(text, maxValues);
  const toolName = object.tool_name;
  if (toolName === undefined || toolName === null) {
    throw new ValidationError(
      'tool_name is required: the name of the tool being called, for example "stripe.issue_refund".',
      'tool_name',
    );
  }
  if (typeof toolName !== 'string') {
    throw new ValidationError(`tool_name must be a string; got ${kind(toolName)}.`, 'tool_name');
  }
  if (toolName.trim() === '' || toolName.length > maxToolName) {
    throw new ValidationError(
      `tool_name must be 1–${maxToolName} characters, for example "stripe.issue_refund".`,
      'tool_name',
    );
  }
  const args = object.args ?? [];
  if (!Array.isArray(args)) {
    throw new ValidationError(
      `args must be an array of positional arguments (or omitted); got ${kind(args)}.`,
      'args',
    );
  }
  const kwargs = object.kwargs ?? {};
  if (!isCheckObject(kwargs)) {
    throw new ValidationError(
      `kwargs must be an object of named arguments (or omitted); got ${kind(kwargs)}.`,
      'kwargs',
    );
  }
  const metadata = object.metadata ?? null;
  if (metadata !== null && !isCheckObject(metadata)) {
    throw new ValidationError(
      `metadata must be an object or null; got ${kind(metadata)}.`,
      'metadata',
    );
  }
  refuseNul(toolName, 'tool_name');
  return {
    toolName,
    args,
    kwargs,
    metadata,
    argsJson: object.args == null ? '[]' : (sources.get('args') as string),
    kwargsJson: object.kwargs == null ? '{}' : (sources.get('kwargs') as string),
    metadataJson: metadata === null ? null : (sources.get('metadata') as string),
    sessionId: metadata ? sessionOf(metadata.session_id, 'metadata.session_id') : null,
  };
}

function tokenCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1e12) {
    throw new ValidationError(
      `${field} must be a whole number ≥ 0; got ${JSON.stringify(value) ?? 'nothing'}.`,
      field,
    );
  }
  return value;
}

function usageEvent(value: unknown, prefix: string, now: number): UsageInput {
  const event = requireObjectBody(value, '{"model", "prompt_tokens", "completion_tokens"}');
  const model = event.model;
  if (typeof model !== 'string' || model.trim() === '' || model.length > maxModel) {
    throw new ValidationError(
      `${prefix}model is required: the model's name as a string (1–${maxModel} characters), for example "gpt-4o".`,
      `${prefix}model`,
    );
  }
  const input: UsageInput = {
    model: refuseNul(model, `${prefix}model`),
    promptTokens: tokenCount(event.prompt_tokens, `${prefix}prompt_tokens`),
    completionTokens: tokenCount(event.completion_tokens, `${prefix}completion_tokens`),
    sessionId: sessionOf(event.session_id, `${prefix}session_id`),
  };
  if (event.reservation_id !== undefined && event.reservation_id !== null) {
    const reservation = event.reservation_id;
    if (typeof reservation !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(reservation)) {
      throw new ValidationError(
        `${prefix}reservation_id must be the reservation_id that POST /v1/model-calls/check answered.`,
        `${prefix}reservation_id`,
      );
    }
    input.reservationId = reservation;
  }
  if (event.occurred_at !== undefined && event.occurred_at !== null) {
    const at = typeof event.occurred_at === 'string' ? Date.parse(event.occurred_at) : Number.NaN;
    if (!Number.isFinite(at)) {
      throw new ValidationError(
        `${prefix}occurred_at must be an ISO 8601 time such as "2026-04-14T12:00:00Z".`,
        `${prefix}occurred_at`,
      );
    }
    // A client clock far in the future would skew daily totals; keep it to now.
    input.occurredAt = Math.min(at, now);
  }
  return input;
}

/** Validates `POST /token-usage`: one event, or `{events: [...]}` (the batch extension). */
export function parseUsage(body: unknown, now: number): { batch: boolean; events: UsageInput[] } {
  const object = requireObjectBody(
    body,
    '{"model", "prompt_tokens", "completion_tokens"} or {"events": [...]}',
  );
  if (object.events !== undefined) {
    if (!Array.isArray(object.events)) {
      throw new ValidationError(`events must be an array; got ${kind(object.events)}.`, 'events');
    }
    if (object.events.length === 0) {
      throw new ValidationError('events is empty; send at least one usage event.', 'events');
    }
    if (object.events.length > maxUsageBatch) {
      throw new ValidationError(
        `events holds ${object.events.length} events; send at most ${maxUsageBatch} per request.`,
        'events',
      );
    }
    return {
      batch: true,
      events: object.events.map((event, index) => usageEvent(event, `events[${index}].`, now)),
    };
  }
  return { batch: false, events: [usageEvent(object, '', now)] };
}

/** Validates an outcome report. */
export function parseResult(body: unknown): ResultInput {
  const object = requireObjectBody(body, '{"status", "duration_ms", "error"?}');
  const status = object.status;
  if (status !== 'succeeded' && status !== 'failed') {
    throw new ValidationError('status must be "succeeded" or "failed".', 'status');
  }
  const duration = object.duration_ms ?? null;
  if (
    duration !== null &&
    (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0)
  ) {
    throw new ValidationError('duration_ms must be a number of milliseconds ≥ 0.', 'duration_ms');
  }
  const error = object.error ?? null;
  if (error !== null && typeof error !== 'string') {
    throw new ValidationError(
      `error must be a string (the error message); got ${kind(error)}.`,
      'error',
    );
  }
  let result = object.result ?? null;
  if (result !== null) {
    const size = Buffer.byteLength(JSON.stringify(result));
    if (size > maxResultBytes) result = { truncated: true, bytes: size };
  }
  return {
    status,
    durationMs: duration as number | null,
    error: error === null ? null : withoutNul((error as string).slice(0, 4_000)),
    result,
  };
}
