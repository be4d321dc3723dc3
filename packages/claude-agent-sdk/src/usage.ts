import type { Query, SDKMessage, query as sdkQuery } from '@anthropic-ai/claude-agent-sdk';
import { type Arden, resolveAdapterOptions, tokenCount } from '@arden/core';
import { sessionOf, type WithArdenOptions, withArden } from './guard';

/** One model's token counts, as {@link resultUsage} reads them from a result message. */
export interface ModelTokens {
  model: string;
  /** Input tokens, cache reads and cache writes included (the SDK counts them apart). */
  promptTokens: number;
  completionTokens: number;
  /** The cost the SDK computed for this model, in USD. */
  costUsd: number | undefined;
}

/**
 * The token usage per model of a result message (`type: 'result'`), from its `modelUsage`;
 * empty for any other message. Input tokens include cache reads and writes.
 */
export function resultUsage(message: SDKMessage): ModelTokens[] {
  if (message.type !== 'result') return [];
  const usage = (message as { modelUsage?: Record<string, Record<string, unknown>> }).modelUsage;
  if (!usage || typeof usage !== 'object') return [];
  const models: ModelTokens[] = [];
  for (const [model, counts] of Object.entries(usage)) {
    if (!counts || typeof counts !== 'object') continue;
    const prompt =
      (tokenCount(counts.inputTokens) ?? 0) +
      (tokenCount(counts.cacheReadInputTokens) ?? 0) +
      (tokenCount(counts.cacheCreationInputTokens) ?? 0);
    const completion = tokenCount(counts.outputTokens) ?? 0;
    if (prompt === 0 && completion === 0) continue;
    models.push({
      model,
      promptTokens: prompt,
      completionTokens: completion,
      costUsd: typeof counts.costUSD === 'number' ? counts.costUSD : undefined,
    });
  }
  return models;
}

/**
 * Records the token usage of a result message in Arden, one event per model (from
 * `modelUsage`), under the session of `options` (the app's session, else the SDK's
 * `session_id`). Arden prices the tokens with its pricing table. Does nothing for other
 * messages; never throws. Returns what it recorded.
 */
export function recordResultUsage(
  message: SDKMessage,
  options: Pick<WithArdenOptions, 'arden' | 'sessionId'> = {},
): ModelTokens[] {
  const models = resultUsage(message);
  if (models.length === 0) return models;
  try {
    const arden: Arden = resolveAdapterOptions(options).resolveArden();
    const session = sessionOf(options, (message as { session_id?: string }).session_id);
    for (const model of models) {
      arden.logTokenUsage({
        model: model.model,
        promptTokens: model.promptTokens,
        completionTokens: model.completionTokens,
        ...(session === undefined ? {} : { sessionId: session }),
      });
    }
  } catch {
    // Not configured: usage logging never breaks the agent.
  }
  return models;
}

/**
 * Runs the SDK's `query()` with Arden: the options go through {@link withArden}, and the usage of
 * each result message is recorded as the app reads it. Pass the SDK's own `query` function:
 *
 * ```ts
 * import { query } from '@anthropic-ai/claude-agent-sdk';
 * import { queryWithArden } from '@arden/claude-agent-sdk';
 *
 * for await (const message of queryWithArden(query, { prompt: 'Tidy the repo', options: {} })) {
 *   if (message.type === 'result') console.log(message.total_cost_usd);
 * }
 * ```
 */
export function queryWithArden(
  query: typeof sdkQuery,
  params: Parameters<typeof sdkQuery>[0],
  arden: WithArdenOptions = {},
): Query {
  const running = query({ prompt: params.prompt, options: withArden(params.options, arden) });
  const next = running.next.bind(running);
  running.next = async (...args: [] | [unknown]) => {
    const step = await next(...(args as []));
    if (!step.done) recordResultUsage(step.value, arden);
    return step;
  };
  // The SDK's iterator is an inner generator: iterate the query itself, through `next` above
  // (its `return` and `throw` clean up the query as the inner one's do).
  running[Symbol.asyncIterator] = () => running;
  return running;
}
