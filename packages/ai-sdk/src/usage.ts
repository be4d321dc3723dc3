import { type Arden, estimateTokens, getArden, getSession, tokenCount } from '@arden/core';
import type { LanguageModelMiddleware } from 'ai';
import { firstTime } from './state';

/** Set on a model call's provider metadata once Arden recorded its usage (so it is not counted twice). */
export const usageMarker = 'arden';

interface V4Usage {
  inputTokens?: { total?: number | undefined } | number | undefined;
  outputTokens?: { total?: number | undefined } | number | undefined;
}

function tokens(value: V4Usage['inputTokens']): number {
  return tokenCount(typeof value === 'object' && value !== null ? value.total : value) ?? 0;
}

function instanceOf(arden: Arden | (() => Arden) | undefined): Arden | undefined {
  try {
    return arden === undefined ? getArden() : typeof arden === 'function' ? arden() : arden;
  } catch {
    // Not configured: usage logging never breaks the agent.
    return undefined;
  }
}

/** @internal Records one model call's usage (never throws). */
export function recordUsage(
  arden: Arden | (() => Arden) | undefined,
  model: string,
  usage: V4Usage | undefined,
  sessionId: string | undefined = getSession(),
  reservationId?: string | null,
): void {
  if (!usage) return;
  instanceOf(arden)?.logTokenUsage({
    model,
    promptTokens: tokens(usage.inputTokens),
    completionTokens: tokens(usage.outputTokens),
    ...(sessionId === undefined ? {} : { sessionId }),
    ...(reservationId ? { reservationId } : {}),
  });
}

/** Output tokens reserved for a call that sets no `maxOutputTokens`. */
export const defaultReservedOutputTokens = 4096;

/**
 * @internal Asks Arden before a model call (budgets): resolves with the reservation id, or
 * null when no budget applies or Arden is not configured; rejects with `BudgetExceededError`.
 */
async function reserve(
  arden: Arden | (() => Arden) | undefined,
  model: string,
  params: { prompt?: unknown; maxOutputTokens?: number | undefined },
  sessionId: string | undefined,
  fallbackMaxOutput: number,
): Promise<string | null> {
  const instance = instanceOf(arden);
  if (!instance) return null;
  const reservation = await instance.checkModelCall({
    model,
    estimatedInputTokens: estimateTokens(params.prompt),
    maxOutputTokens: params.maxOutputTokens ?? fallbackMaxOutput,
    ...(sessionId === undefined ? {} : { sessionId }),
  });
  return reservation.reservationId;
}

function marked(providerMetadata: unknown): Record<string, Record<string, unknown>> {
  const existing = (providerMetadata ?? {}) as Record<string, Record<string, unknown>>;
  return { ...existing, [usageMarker]: { ...existing[usageMarker], usageRecorded: true } };
}

/** Options of `ardenUsageMiddleware()`. */
export interface UsageMiddlewareOptions {
  /** The Arden instance to record on. Default: the one `configure()` made. */
  arden?: Arden | (() => Arden);
  /**
   * Ask Arden before each model call and reserve its estimated cost against the agent's
   * budgets (a call over budget throws `BudgetExceededError` and the model is not called);
   * the usage record settles the reservation. Default true; false only records usage.
   */
  budgets?: boolean;
  /** Output tokens to reserve when the call sets no `maxOutputTokens`. Default 4096. */
  defaultMaxOutputTokens?: number;
}

/**
 * A language model middleware that records the token usage of every call of the wrapped model
 * (generate and stream, in `generateText`, `streamText`, `generateObject`, agents …), under the
 * model id the provider answered with:
 *
 * ```ts
 * const model = wrapLanguageModel({ model: openai('gpt-4o'), middleware: ardenUsageMiddleware() });
 * ```
 *
 * It marks the call's provider metadata (`providerMetadata.arden.usageRecorded`) so that the
 * automatic route of `configure()` does not count it again.
 */
export function ardenUsageMiddleware(
  options: UsageMiddlewareOptions = {},
): LanguageModelMiddleware {
  const fallbackMaxOutput = options.defaultMaxOutputTokens ?? defaultReservedOutputTokens;
  return {
    specificationVersion: 'v4',
    async wrapGenerate({ doGenerate, model, params }) {
      const sessionId = getSession();
      const reservationId =
        options.budgets === false
          ? null
          : await reserve(options.arden, model.modelId, params, sessionId, fallbackMaxOutput);
      const result = await doGenerate();
      recordUsage(
        options.arden,
        result.response?.modelId ?? model.modelId,
        result.usage,
        sessionId,
        reservationId,
      );
      return { ...result, providerMetadata: marked(result.providerMetadata) as never };
    },
    async wrapStream({ doStream, model, params }) {
      // The stream is read later, perhaps outside the caller's async context: keep its session.
      const sessionId = getSession();
      const reservationId =
        options.budgets === false
          ? null
          : await reserve(options.arden, model.modelId, params, sessionId, fallbackMaxOutput);
      const result = await doStream();
      let modelId = model.modelId;
      const stream = result.stream.pipeThrough(
        new TransformStream({
          transform(part, controller) {
            if (part.type === 'response-metadata' && part.modelId) modelId = part.modelId;
            if (part.type === 'finish') {
              // The final usage settles the reservation made before the stream started.
              recordUsage(options.arden, modelId, part.usage, sessionId, reservationId);
              controller.enqueue({
                ...part,
                providerMetadata: marked(part.providerMetadata) as never,
              });
              return;
            }
            controller.enqueue(part);
          },
        }),
      );
      return { ...result, stream };
    },
  };
}

/** The parts of `onLanguageModelCallEnd`'s event that Arden reads. */
export interface LanguageModelCallEnd {
  callId: string;
  responseId?: string;
  modelId: string;
  usage: { inputTokens: number | undefined; outputTokens: number | undefined };
  providerMetadata?: unknown;
}

/**
 * @internal Records the usage of a model call's end event, once: not when the usage middleware
 * already did, and not twice for one call (the automatic route and an explicit callback).
 */
export function recordCallEnd(
  arden: Arden | (() => Arden) | undefined,
  event: LanguageModelCallEnd,
  sessionId: string | undefined = getSession(),
): void {
  const metadata = event.providerMetadata as Record<string, Record<string, unknown>> | undefined;
  if (metadata?.[usageMarker]?.usageRecorded === true) return;
  if (!firstTime(`${event.callId}|${event.responseId ?? ''}`)) return;
  recordUsage(arden, event.modelId, event.usage, sessionId);
}

/**
 * An `onLanguageModelCallEnd` callback that records each model call's usage — for calls that
 * override telemetry (so the automatic route does not see them) or apps that did not call
 * `configure()`:
 *
 * ```ts
 * await generateText({ model, prompt, onLanguageModelCallEnd: recordLanguageModelUsage() });
 * ```
 */
export function recordLanguageModelUsage(options: UsageMiddlewareOptions = {}) {
  return (event: LanguageModelCallEnd): void => recordCallEnd(options.arden, event);
}
