import { type Arden, ardenResolver, estimateTokens, getArden, tokenCount } from '@arden/core';
import type { Model, ModelProvider, ModelResponse } from '@openai/agents';
import { adapterState } from './state';

/** Options of `trackModelUsage()` and `trackProviderUsage()`. */
export interface UsageTrackingOptions {
  /** The model name to record when neither the response nor the model object names one. */
  modelName?: string;
  /** The Arden instance to use. Default: the one `configure()` made, looked up at call time. */
  arden?: Arden | (() => Arden);
}

interface TrackedModel {
  explicit: boolean;
  arden: (() => Arden) | undefined;
  modelName: string | undefined;
}

const modelKey = Symbol.for('arden.openai-agents.model');
const providerKey = Symbol.for('arden.openai-agents.provider');

interface UsageLike {
  inputTokens?: unknown;
  outputTokens?: unknown;
  input_tokens?: unknown;
  output_tokens?: unknown;
}

function nameOf(model: object, response: ModelResponse | undefined, fallback: string | undefined) {
  const fromResponse = (response?.providerData as { model?: unknown } | undefined)?.model;
  if (typeof fromResponse === 'string' && fromResponse) return fromResponse;
  // The SDK's OpenAI models keep their name in `_model`; custom models often in `model` or `name`.
  const record = model as { _model?: unknown; model?: unknown; name?: unknown };
  for (const candidate of [record._model, record.model, record.name]) {
    if (typeof candidate === 'string' && candidate) return candidate;
  }
  return fallback ?? 'unknown';
}

/** Output tokens reserved for a call whose model settings set no `maxTokens`. */
const defaultReservedOutputTokens = 4096;

/**
 * Asks Arden before a model call (budgets): the reservation id, or null when no budget applies
 * or Arden is not configured. Rejects with `BudgetExceededError` when the call is over budget.
 */
async function reserve(
  model: object,
  tracked: TrackedModel,
  request: { input?: unknown; systemInstructions?: unknown; modelSettings?: unknown } | undefined,
): Promise<string | null> {
  if (!tracked.explicit && !adapterState().installed) return null;
  let arden: Arden;
  try {
    arden = (tracked.arden ?? adapterState().options.resolveArden ?? getArden)();
  } catch {
    return null;
  }
  const maxTokens = (request?.modelSettings as { maxTokens?: unknown } | undefined)?.maxTokens;
  const reservation = await arden.checkModelCall({
    model: nameOf(model, undefined, tracked.modelName),
    estimatedInputTokens: estimateTokens([request?.systemInstructions, request?.input]),
    maxOutputTokens: typeof maxTokens === 'number' ? maxTokens : defaultReservedOutputTokens,
  });
  return reservation.reservationId;
}

function record(
  model: object,
  tracked: TrackedModel,
  response: ModelResponse | undefined,
  reservationId: string | null = null,
) {
  if (!tracked.explicit && !adapterState().installed) return;
  const usage = response?.usage as UsageLike | undefined;
  if (!usage) return;
  const promptTokens = tokenCount(usage.inputTokens, usage.input_tokens);
  const completionTokens = tokenCount(usage.outputTokens, usage.output_tokens);
  if (promptTokens === undefined && completionTokens === undefined) return;
  try {
    const arden = (tracked.arden ?? adapterState().options.resolveArden ?? getArden)();
    arden.logTokenUsage({
      model: nameOf(model, response, tracked.modelName),
      promptTokens: promptTokens ?? 0,
      completionTokens: completionTokens ?? 0,
      ...(reservationId ? { reservationId } : {}),
    });
  } catch {
    // Not configured: usage logging never breaks the agent.
  }
}

async function* trackStream(
  model: object,
  tracked: TrackedModel,
  request: Parameters<typeof reserve>[2],
  start: (request: any) => AsyncIterable<unknown>,
): AsyncIterable<any> {
  // Asked before the stream starts; its final usage (response_done) settles the reservation.
  const reservationId = await reserve(model, tracked, request);
  for await (const event of start(request)) {
    if ((event as { type?: unknown }).type === 'response_done') {
      record(model, tracked, (event as { response?: ModelResponse }).response, reservationId);
    }
    yield event;
  }
}

/**
 * @internal Records the usage of every call of `model` (`getResponse`, and `getStreamedResponse`
 * when its `response_done` event arrives). Patches the object in place, once; returns it.
 */
export function trackModel<M>(
  model: M,
  options: { explicit: boolean; arden?: () => Arden; modelName?: string | undefined },
): M {
  if (!model || typeof model !== 'object') return model;
  const target = model as unknown as Model & Record<symbol, TrackedModel | undefined>;
  if (typeof target.getResponse !== 'function') return model;
  const existing = target[modelKey];
  if (existing) {
    if (options.modelName) existing.modelName = options.modelName;
    if (options.explicit) {
      existing.explicit = true;
      existing.arden = options.arden ?? existing.arden;
    }
    return model;
  }
  const tracked: TrackedModel = {
    explicit: options.explicit,
    arden: options.arden,
    modelName: options.modelName,
  };
  Object.defineProperty(target, modelKey, { value: tracked, configurable: true });
  const getResponse = target.getResponse;
  const getStreamedResponse = target.getStreamedResponse;
  target.getResponse = async function (this: unknown, request) {
    const reservationId = await reserve(target, tracked, request);
    const response = await getResponse.call(this, request);
    record(target, tracked, response, reservationId);
    return response;
  };
  if (typeof getStreamedResponse === 'function') {
    target.getStreamedResponse = function (this: unknown, request) {
      return trackStream(target, tracked, request, (call) => getStreamedResponse.call(this, call));
    };
  }
  return model;
}

/** @internal Tracks every model a provider hands out, named as it was asked for. */
export function trackProvider<P>(
  provider: P,
  options: { explicit: boolean; arden?: () => Arden },
): P {
  if (!provider || typeof provider !== 'object') return provider;
  const target = provider as unknown as ModelProvider & Record<symbol, boolean | undefined>;
  if (typeof target.getModel !== 'function' || target[providerKey]) return provider;
  Object.defineProperty(target, providerKey, { value: true, configurable: true });
  const getModel = target.getModel;
  target.getModel = function (this: unknown, modelName?: string) {
    const model = getModel.call(this, modelName);
    const track = (resolved: Model) => trackModel(resolved, { ...options, modelName });
    return model instanceof Promise ? model.then(track) : track(model);
  };
  return provider;
}

// Without the option, `undefined`: the installed options' instance is looked up at call time.
function resolveArdenOption(arden: UsageTrackingOptions['arden']): (() => Arden) | undefined {
  return arden === undefined ? undefined : ardenResolver(arden);
}

/**
 * Records the token usage of every call of a `Model` (plain and streamed) with Arden, without
 * installing the automatic patches. Returns the same model. Use it with `protectFunctionTools`
 * when you prefer explicit wrappers to `configure()`'s automatic interception.
 */
export function trackModelUsage<M extends Model>(model: M, options: UsageTrackingOptions = {}): M {
  return trackModel(model, {
    explicit: true,
    arden: resolveArdenOption(options.arden),
    modelName: options.modelName,
  });
}

/**
 * Records the token usage of every model a `ModelProvider` hands out (for example the
 * `OpenAIProvider` you pass to `new Runner({ modelProvider })`). Returns the same provider.
 */
export function trackProviderUsage<P extends ModelProvider>(
  provider: P,
  options: Omit<UsageTrackingOptions, 'modelName'> = {},
): P {
  return trackProvider(provider, { explicit: true, arden: resolveArdenOption(options.arden) });
}
