import { type Arden, ardenResolver, getSession, tokenCount } from '@arden/core';

/** Options of `recordUsage()` and `trackUsage()`. */
export interface UsageOptions {
  /** The Arden instance to use. Default: the one `configure()` made, looked up at call time. */
  arden?: Arden | (() => Arden);
  /** The session to record under. Default: the current session (`withSession`/`setSession`). */
  sessionId?: string;
}

/** Options of `trackUsage()`. */
export interface TrackUsageOptions extends UsageOptions {
  /**
   * Add `stream_options: { include_usage: true }` to streamed Chat Completions requests that do
   * not set it, so that their usage can be recorded. Default false: the extra last chunk has an
   * empty `choices` array, which code that reads `chunk.choices[0]` unguarded would trip on.
   */
  includeStreamUsage?: boolean;
}

interface UsageFields {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  input_tokens?: unknown;
  output_tokens?: unknown;
}

/**
 * Records one response's token usage with Arden: a Chat Completions `ChatCompletion` (or the
 * last streamed chunk that carries `usage`), or a Responses API `Response`. Reads `usage` and
 * `model`. Returns the response unchanged; never throws; does nothing when there is no usage.
 */
export function recordUsage<R>(response: R, options: UsageOptions = {}): R {
  const record = response as { usage?: UsageFields | null; model?: unknown } | null | undefined;
  const usage = record?.usage;
  if (!usage || typeof usage !== 'object') return response;
  const promptTokens = tokenCount(usage.prompt_tokens, usage.input_tokens);
  const completionTokens = tokenCount(usage.completion_tokens, usage.output_tokens);
  if (promptTokens === undefined && completionTokens === undefined) return response;
  try {
    ardenResolver(options.arden)().logTokenUsage({
      model: typeof record.model === 'string' && record.model ? record.model : 'unknown',
      promptTokens: promptTokens ?? 0,
      completionTokens: completionTokens ?? 0,
      ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
    });
  } catch {
    // Not configured: usage logging never breaks the caller.
  }
  return response;
}

/** The `APIPromise` surface this module relies on (openai 5, 6 and 7). */
interface APIPromiseLike {
  _thenUnwrap(transform: (data: unknown, props: unknown) => unknown): unknown;
}

/** The `Stream` surface this module relies on. */
interface StreamLike {
  iterator?: () => AsyncIterator<unknown>;
}

interface CreateHolder {
  create: (body: any, options?: any) => unknown;
}

const trackedKey = Symbol.for('arden.openai.tracked');

function usageOfEvent(event: unknown): unknown {
  // Chat Completions: the chunk that carries usage (the last one with include_usage).
  // Responses API: the `response.completed` event carries the whole response.
  const record = event as { usage?: unknown; type?: unknown; response?: unknown } | null;
  if (record?.usage) return record;
  if (record?.type === 'response.completed' || record?.type === 'response.incomplete') {
    return record.response;
  }
  return undefined;
}

/** Wraps a stream's event source (which `for await`, `tee()` and `toReadableStream()` all use). */
function trackStream(stream: unknown, options: UsageOptions): unknown {
  const target = stream as StreamLike;
  if (typeof target?.iterator !== 'function') return stream;
  const source = target.iterator.bind(stream);
  target.iterator = () => {
    const iterator = source();
    let recorded = false;
    return {
      async next(...args: [] | [unknown]) {
        const result = await iterator.next(...args);
        if (!result.done && !recorded) {
          const carrier = usageOfEvent(result.value);
          if (carrier) {
            recorded = true;
            recordUsage(carrier, options);
          }
        }
        return result;
      },
      return: iterator.return ? (value?: unknown) => iterator.return!(value) : undefined,
      throw: iterator.throw ? (error?: unknown) => iterator.throw!(error) : undefined,
    } as AsyncIterator<unknown>;
  };
  return stream;
}

function wrapCreate(holder: CreateHolder | undefined, options: TrackUsageOptions, chat: boolean) {
  if (!holder || typeof holder.create !== 'function') return;
  const record = holder as unknown as Record<symbol, boolean | undefined>;
  if (record[trackedKey]) return;
  Object.defineProperty(holder, trackedKey, { value: true, configurable: true });
  const create = holder.create;
  holder.create = function (this: unknown, body: any, requestOptions?: any) {
    let request = body;
    if (
      chat &&
      options.includeStreamUsage &&
      body?.stream === true &&
      body.stream_options?.include_usage === undefined
    ) {
      request = { ...body, stream_options: { ...body.stream_options, include_usage: true } };
    }
    const promise = create.call(this, request, requestOptions) as APIPromiseLike;
    if (typeof promise?._thenUnwrap !== 'function') return promise;
    // The call belongs to the session that made it, wherever its result is awaited or read.
    const sessionId = options.sessionId ?? getSession();
    const callOptions = sessionId === undefined ? options : { ...options, sessionId };
    // _thenUnwrap keeps the APIPromise, so .withResponse() and .asResponse() still work.
    return promise._thenUnwrap((data) =>
      request?.stream === true ? trackStream(data, callOptions) : recordUsage(data, callOptions),
    );
  };
}

/**
 * Records the token usage of every `chat.completions.create` and `responses.create` call of an
 * `OpenAI` client (and of the helpers built on them, such as `chat.completions.parse` and
 * `.stream()`), keeping their `APIPromise` (`.withResponse()` still works). Streamed calls are
 * recorded when their usage arrives: pass `stream_options: { include_usage: true }` (or
 * `includeStreamUsage: true` here). Patches the client in place, once; returns it.
 */
export function trackUsage<C extends object>(client: C, options: TrackUsageOptions = {}): C {
  const target = client as {
    chat?: { completions?: CreateHolder };
    responses?: CreateHolder;
  };
  wrapCreate(target.chat?.completions, options, true);
  wrapCreate(target.responses, options, false);
  return client;
}
