import { type Arden, estimateTokens, getArden, logTokenUsage, tokenCount } from '@arden/core';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { LLMResult } from '@langchain/core/outputs';
import { sessionOf } from './guard';
import { usageActive } from './state';

/** One chat model call's usage, as LangChain reports it. */
export interface ChatUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
}

interface UsageMetadataLike {
  input_tokens?: number;
  output_tokens?: number;
}

interface MessageLike {
  usage_metadata?: UsageMetadataLike;
  response_metadata?: Record<string, unknown>;
}

function count(value: unknown): number {
  return tokenCount(value) ?? 0;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * The model's name: what the provider answered (`response_metadata.model_name`, or `model` for
 * Anthropic and Ollama), else what LangChain traces (`ls_model_name`), else the model's fields.
 */
export function modelNameOf(
  model: unknown,
  responseMetadata: Record<string, unknown> | undefined,
  lsModelName?: unknown,
): string {
  const fields = model as { model?: unknown; modelName?: unknown; _llmType?: () => string };
  return (
    text(responseMetadata?.model_name) ??
    text(responseMetadata?.model) ??
    text(responseMetadata?.modelName) ??
    text(lsModelName) ??
    text(fields?.model) ??
    text(fields?.modelName) ??
    (typeof fields?._llmType === 'function' ? text(fields._llmType()) : undefined) ??
    'unknown'
  );
}

function lsModelNameOf(model: unknown, callOptions: unknown): unknown {
  try {
    const params = (
      model as { getLsParams?: (options: unknown) => { ls_model_name?: unknown } }
    ).getLsParams?.(callOptions ?? {});
    return params?.ls_model_name;
  } catch {
    return undefined;
  }
}

/** @internal Usage of each prompt of a `_generateUncached` result (one entry per prompt). */
export function usageOfResult(
  model: unknown,
  result: LLMResult | undefined,
  callOptions: unknown,
): ChatUsage[] {
  const found: ChatUsage[] = [];
  const lsModelName = lsModelNameOf(model, callOptions);
  for (const generations of result?.generations ?? []) {
    const message = (generations?.[0] as { message?: MessageLike } | undefined)?.message;
    const usage = message?.usage_metadata;
    if (!usage) continue;
    found.push({
      model: modelNameOf(model, message?.response_metadata, lsModelName),
      promptTokens: count(usage.input_tokens),
      completionTokens: count(usage.output_tokens),
    });
  }
  if (found.length === 0) {
    // Older integrations report usage only in llmOutput.tokenUsage.
    const tokenUsage = result?.llmOutput?.tokenUsage as
      | { promptTokens?: number; completionTokens?: number }
      | undefined;
    if (tokenUsage && (tokenUsage.promptTokens || tokenUsage.completionTokens)) {
      const first = (result?.generations?.[0]?.[0] as { message?: MessageLike } | undefined)
        ?.message;
      found.push({
        model: modelNameOf(
          model,
          {
            ...(result?.llmOutput as Record<string, unknown> | undefined),
            ...first?.response_metadata,
          },
          lsModelName,
        ),
        promptTokens: count(tokenUsage.promptTokens),
        completionTokens: count(tokenUsage.completionTokens),
      });
    }
  }
  return found;
}

/**
 * @internal Adds up the usage of streamed chunks (as LangChain's own chunk concatenation does:
 * providers send usage once, in the last chunk, or as deltas).
 */
export class StreamUsage {
  private prompt = 0;
  private completion = 0;
  private seen = false;
  private responseMetadata: Record<string, unknown> = {};

  add(chunk: unknown): void {
    const message = chunk as MessageLike | undefined;
    const usage = message?.usage_metadata;
    if (usage) {
      this.seen = true;
      this.prompt += count(usage.input_tokens);
      this.completion += count(usage.output_tokens);
    }
    if (message?.response_metadata) {
      for (const [key, value] of Object.entries(message.response_metadata)) {
        if (value !== undefined && value !== null && value !== '')
          this.responseMetadata[key] = value;
      }
    }
  }

  result(model: unknown, callOptions: unknown): ChatUsage | undefined {
    if (!this.seen) return undefined;
    return {
      model: modelNameOf(model, this.responseMetadata, lsModelNameOf(model, callOptions)),
      promptTokens: this.prompt,
      completionTokens: this.completion,
    };
  }
}

/** @internal Records usage on the default instance (never throws). */
export function record(
  usage: ChatUsage,
  sessionId: string | undefined,
  reservationId: string | null = null,
): void {
  logTokenUsage({
    ...usage,
    ...(sessionId === undefined ? {} : { sessionId }),
    ...(reservationId ? { reservationId } : {}),
  });
}

/** Output tokens reserved for a call whose model sets no `maxTokens`. */
const defaultReservedOutputTokens = 4096;

/**
 * @internal Asks Arden before a chat model call (budgets), on the default instance: the
 * reservation id, or null when no budget applies or Arden is not configured. Rejects with
 * `BudgetExceededError` when the call is over budget (the model is not called).
 */
export async function reserve(
  model: unknown,
  input: unknown,
  callOptions: unknown,
  sessionId: string | undefined,
): Promise<string | null> {
  let arden: Arden;
  try {
    arden = getArden();
  } catch {
    return null;
  }
  const fields = model as { maxTokens?: unknown } | undefined;
  const options = callOptions as { maxTokens?: unknown; max_tokens?: unknown } | undefined;
  const maxTokens = [options?.maxTokens, options?.max_tokens, fields?.maxTokens].find(
    (value): value is number => typeof value === 'number' && value > 0,
  );
  const reservation = await arden.checkModelCall({
    model: modelNameOf(model, undefined, lsModelNameOf(model, callOptions)),
    estimatedInputTokens: estimateTokens(input),
    maxOutputTokens: maxTokens ?? defaultReservedOutputTokens,
    ...(sessionId === undefined ? {} : { sessionId }),
  });
  return reservation.reservationId;
}

/** Options of `ArdenUsageHandler`. */
export interface UsageHandlerOptions {
  /** The Arden instance to record on. Default: the one `configure()` made. */
  arden?: Arden | (() => Arden);
  /**
   * Record even while the automatic patch records usage (which would count each call twice).
   * Default false: the handler stays quiet while `configure()`/`install()` records usage.
   */
  always?: boolean;
}

/**
 * A LangChain callback handler that records the token usage of every chat model call it sees,
 * for apps that do not want the automatic patch (`configure()` already records usage, so the
 * handler stays quiet then). Pass it in `callbacks: [new ArdenUsageHandler()]`.
 */
export class ArdenUsageHandler extends BaseCallbackHandler {
  name = 'ArdenUsageHandler';
  // Run inline (not on LangChain's background queue) so the session of the caller is seen.
  override awaitHandlers = true;
  private readonly runs = new Map<
    string,
    { session: string | undefined; model: string | undefined }
  >();
  private readonly settings: UsageHandlerOptions;

  constructor(options: UsageHandlerOptions = {}) {
    super();
    this.settings = options;
  }

  override handleChatModelStart(
    _llm: unknown,
    _messages: unknown,
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    const invocation = extraParams?.invocation_params as Record<string, unknown> | undefined;
    this.runs.set(runId, {
      session: sessionOf({ metadata }),
      model: text(invocation?.model) ?? text(metadata?.ls_model_name),
    });
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    const run = this.runs.get(runId);
    this.runs.delete(runId);
    if (!this.settings.always && usageActive()) return;
    for (const usage of usageOfResult({ model: run?.model }, output, undefined)) {
      const event = { ...usage, ...(run?.session === undefined ? {} : { sessionId: run.session }) };
      try {
        const arden = this.settings.arden;
        const instance =
          arden === undefined ? getArden() : typeof arden === 'function' ? arden() : arden;
        instance.logTokenUsage(event);
      } catch {
        // Not configured: usage logging never breaks the agent.
      }
    }
  }

  override handleLLMError(_error: unknown, runId: string): void {
    this.runs.delete(runId);
  }
}
