import type { Query, SDKMessage, query as sdkQuery } from '@anthropic-ai/claude-agent-sdk';
import { type Arden, getSession, resolveAdapterOptions, tokenCount } from '@arden/core';
import { sessionOf, type WithArdenOptions, withArden } from './guard';
import { defaultAnthropicBaseUrl, type ModelRoute, openModelRoute } from './model-proxy';

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
 * Runs the SDK's `query()` with Arden: the options go through {@link withArden} (every tool call
 * checked), and every model call of the query is checked against the agent's budgets before it
 * is sent: the Claude Code child's ANTHROPIC_BASE_URL points at a loopback proxy of this process
 * (model-proxy.ts) that asks Arden (`checkModelCall`), forwards the call to the real API (the
 * options' ANTHROPIC_BASE_URL, else api.anthropic.com) and records its usage, which settles the
 * reservation. A call over budget is not sent: the query throws `BudgetExceededError` (and stops
 * its child). Arden unreachable: the call is not sent either and the query throws
 * `ArdenUnavailableError`, unless `onUnavailable: 'allow'`. With `modelCalls: false` the model
 * calls go straight to the API and the usage of each result message is recorded instead.
 * Pass the SDK's own `query` function:
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
  arden: QueryWithArdenOptions = {},
): Query {
  if (arden.modelCalls === false) return queryWithResultUsage(query, params, arden);
  // The proxy answers outside the app's async context: the session is taken now.
  const appSession = arden.sessionId ?? getSession();
  let sdkSession: string | undefined;
  const env = params.options?.env ?? process.env;
  const starting = openModelRoute({
    upstream: env.ANTHROPIC_BASE_URL || defaultAnthropicBaseUrl,
    arden: resolveAdapterOptions(arden).resolveArden,
    session: (header) => appSession ?? header ?? sdkSession,
  }).then((route) => {
    try {
      const options = {
        ...withArden(params.options, arden),
        env: { ...env, ANTHROPIC_BASE_URL: route.url },
      };
      return { route, running: query({ prompt: params.prompt, options }) };
    } catch (error) {
      route.close();
      throw error;
    }
  });
  return lazyQuery(starting, (message) => {
    sdkSession ??= (message as { session_id?: string }).session_id || undefined;
  });
}

/** Options of {@link queryWithArden}. */
export interface QueryWithArdenOptions extends WithArdenOptions {
  /**
   * Check every model call against the agent's budgets (through the loopback proxy) and record
   * its usage. Default true. False: the child calls the API directly, and the usage of each
   * result message is recorded (`modelUsage`); a model call is then never refused.
   */
  modelCalls?: boolean;
}

/** `queryWithArden` without model-call checks: the result messages' usage is recorded. */
function queryWithResultUsage(
  query: typeof sdkQuery,
  params: Parameters<typeof sdkQuery>[0],
  arden: WithArdenOptions,
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

interface Started {
  route: ModelRoute;
  running: Query;
}

/**
 * A `Query` whose SDK query starts once its proxy route is open (the child needs the route's
 * URL in its environment): iterating it, or any of its methods, waits for that. A model call
 * refused on the route makes the next step throw the refusal, and the query is closed.
 */
function lazyQuery(starting: Promise<Started>, onMessage: (message: SDKMessage) => void): Query {
  let current: Started | undefined;
  let closed = false;
  const ready = starting.then((started) => {
    current = started;
    if (closed) {
      started.route.close();
      started.running.close();
    }
    return started;
  });
  // A failure to start is thrown by the first step (or method) that waits for it.
  ready.catch(() => undefined);
  const target = {
    async next(...args: [] | [unknown]): Promise<IteratorResult<SDKMessage, void>> {
      const { route, running } = await ready;
      let step: IteratorResult<SDKMessage, void>;
      try {
        step = await running.next(...(args as []));
      } catch (error) {
        route.close();
        throw route.failure ?? error;
      }
      if (route.failure !== undefined) {
        // A model call was refused (or Arden could not be asked): the run stops here.
        route.close();
        running.close();
        throw route.failure;
      }
      if (step.done) route.close();
      else onMessage(step.value);
      return step;
    },
    async return(value?: unknown): Promise<IteratorResult<SDKMessage, void>> {
      const { route, running } = await ready;
      route.close();
      return running.return(value as undefined);
    },
    async throw(error?: unknown): Promise<IteratorResult<SDKMessage, void>> {
      const { route, running } = await ready;
      route.close();
      return running.throw(error);
    },
    close(): void {
      closed = true;
      current?.route.close();
      current?.running.close();
    },
    [Symbol.asyncIterator]() {
      return lazy;
    },
  };
  // Node 20 may have no Symbol.asyncDispose (`await using`).
  if (typeof Symbol.asyncDispose === 'symbol') {
    Object.defineProperty(target, Symbol.asyncDispose, {
      value: async () => {
        await target.return();
      },
    });
  }
  // Every other method of the SDK's Query (interrupt, setModel, …) answers a promise: it waits
  // for the query to start.
  const lazy = new Proxy(target, {
    get(object, property, receiver) {
      if (property in object) return Reflect.get(object, property, receiver);
      // Not a thenable (awaiting the query answers the query), and no other symbols.
      if (typeof property !== 'string' || property === 'then') return undefined;
      return (...args: unknown[]) =>
        ready.then(({ running }) => {
          const method = (running as unknown as Record<PropertyKey, unknown>)[property];
          if (typeof method !== 'function') return method;
          return (method as (...values: unknown[]) => unknown).apply(running, args);
        });
    },
  });
  return lazy as unknown as Query;
}
