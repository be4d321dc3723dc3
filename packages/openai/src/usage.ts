import { type Arden, ardenResolver, estimateTokens, getSession, tokenCount } from '@arden/core';

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
  /**
   * Ask Arden before each call and reserve its estimated cost against the agent's budgets (a
   * call over budget throws `BudgetExceededError` and the API is never called); the call's usage
   * settles the reservation. Default true; false only records usage.
   */
  budgets?: boolean;
  /** Output tokens to reserve when a call sets no `max_tokens` (or its siblings). Default 4096. */
  defaultMaxOutputTokens?: number;
}

/** Output tokens reserved for a call that sets no maximum. */
const defaultReservedOutputTokens = 4096;

/** @internal What a tracked call records with its usage. */
interface RecordOptions extends UsageOptions {
  reservationId?: string | null;
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
  return record(response, options);
}

function record<R>(response: R, options: RecordOptions): R {
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
      ...(options.reservationId ? { reservationId: options.reservationId } : {}),
    });
  } catch {
    // Not configured: usage logging never breaks the caller.
  }
  return response;
}

/** The `APIPromise` surface this module relies on (openai 5, 6 and 7). */
interface APIPromiseLike {
  _thenUnwrap(transform: (data: unknown, props: unknown) => unknown): APIPromiseLike;
  withResponse?(): Promise<unknown>;
  asResponse?(): Promise<unknown>;
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
function trackStream(stream: unknown, options: RecordOptions): unknown {
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
            record(carrier, options);
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

/** The Arden instance of a call, or undefined when none is configured (nothing to ask). */
function ardenOf(options: UsageOptions): Arden | undefined {
  try {
    return ardenResolver(options.arden)();
  } catch {
    return undefined;
  }
}

/** The most output tokens a request may produce, as it sets them. */
function maxOutputOf(body: any, fallback: number): number {
  for (const value of [body?.max_completion_tokens, body?.max_tokens, body?.max_output_tokens]) {
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  }
  return fallback;
}

/**
 * The `APIPromise` of a checked call: a `Promise` of the parsed data that asks Arden first and
 * only then calls the original `create()`. Like `APIPromise` it parses only when awaited, and
 * `.withResponse()`, `.asResponse()` and `_thenUnwrap()` (which the client's own helpers use)
 * reach the real `APIPromise` once the check has allowed the call.
 */
class CheckedAPIPromise<T> extends Promise<T> {
  readonly #call: Promise<{ promise: APIPromiseLike }>;
  #parsed: Promise<T> | undefined;

  constructor(call: Promise<{ promise: APIPromiseLike }>) {
    // A no-op executor, as APIPromise's: then/catch/finally below read the call.
    super((resolve) => resolve(null as T));
    this.#call = call;
  }

  static override get [Symbol.species]() {
    return Promise;
  }

  #parse(): Promise<T> {
    this.#parsed ??= this.#call.then(({ promise }) => promise as unknown as T);
    return this.#parsed;
  }

  override then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#parse().then(onfulfilled, onrejected);
  }

  override catch<B = never>(
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<T | B> {
    return this.#parse().catch(onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#parse().finally(onfinally);
  }

  withResponse(): Promise<unknown> {
    return this.#call.then(({ promise }) => promise.withResponse!());
  }

  asResponse(): Promise<unknown> {
    return this.#call.then(({ promise }) => promise.asResponse!());
  }

  _thenUnwrap(transform: (data: unknown, props: unknown) => unknown): CheckedAPIPromise<unknown> {
    return new CheckedAPIPromise(
      this.#call.then(({ promise }) => ({ promise: promise._thenUnwrap(transform) })),
    );
  }
}

function wrapCreate(holder: CreateHolder | undefined, options: TrackUsageOptions, chat: boolean) {
  if (!holder || typeof holder.create !== 'function') return;
  const marker = holder as unknown as Record<symbol, boolean | undefined>;
  if (marker[trackedKey]) return;
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
    // The call belongs to the session that made it, wherever its result is awaited or read.
    const sessionId = options.sessionId ?? getSession();
    const callOptions: RecordOptions =
      sessionId === undefined ? { ...options } : { ...options, sessionId };
    // _thenUnwrap keeps the APIPromise, so .withResponse() and .asResponse() still work.
    const start = (): unknown => {
      const promise = create.call(this, request, requestOptions) as APIPromiseLike;
      if (typeof promise?._thenUnwrap !== 'function') return promise;
      return promise._thenUnwrap((data) =>
        request?.stream === true ? trackStream(data, callOptions) : record(data, callOptions),
      );
    };
    const arden = options.budgets === false ? undefined : ardenOf(options);
    if (!arden) return start();
    // Budgets: Arden is asked before create() runs, so a refused call never reaches the API.
    const check = arden.checkModelCall({
      model: typeof request?.model === 'string' ? request.model : 'unknown',
      estimatedInputTokens: chat
        ? estimateTokens([request?.messages, request?.tools])
        : estimateTokens([request?.instructions, request?.input, request?.tools]),
      maxOutputTokens: maxOutputOf(
        request,
        options.defaultMaxOutputTokens ?? defaultReservedOutputTokens,
      ),
      ...(sessionId === undefined ? {} : { sessionId }),
    });
    return new CheckedAPIPromise(
      check.then((reservation) => {
        callOptions.reservationId = reservation.reservationId;
        return { promise: start() as APIPromiseLike };
      }),
    );
  };
}

/**
 * Records the token usage of every `chat.completions.create` and `responses.create` call of an
 * `OpenAI` client (and of the helpers built on them, such as `chat.completions.parse` and
 * `.stream()`), keeping their `APIPromise` (`.withResponse()` still works). Streamed calls are
 * recorded when their usage arrives: pass `stream_options: { include_usage: true }` (or
 * `includeStreamUsage: true` here). With Arden configured, each call is first checked against the
 * agent's budgets (`budgets: false` to skip): over budget it rejects with `BudgetExceededError` and
 * the API is never called; its usage settles the reservation. Patches the client in place, once;
 * returns it.
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
