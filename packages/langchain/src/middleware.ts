import { ToolMessage } from '@langchain/core/messages';
import type { AgentMiddleware } from 'langchain';
import { markGuarded, runGuardedCall, type ToolMessageConstructor } from './guard';
import { type ProtectToolsOptions, resolveOptions } from './options';

// createMiddleware() of `langchain` 1.x returns a plain object branded with this registered
// symbol; building the same object here keeps `langchain` an optional peer.
const middlewareBrand = Symbol.for('AgentMiddleware');

interface ToolCallRequestLike {
  toolCall: { name: string; args?: unknown; id?: string };
  tool?: object | undefined;
  runtime?: { configurable?: Record<string, unknown> };
}

/** Options of `ardenMiddleware()`. */
export interface ArdenMiddlewareOptions extends ProtectToolsOptions {
  /** The middleware's name in the agent. Default `'ArdenMiddleware'`. */
  name?: string;
}

/**
 * A `createAgent` middleware (langchain 1.x) whose `wrapToolCall` checks every tool call with
 * Arden before the tool runs — for apps that prefer wiring Arden into the agent over the
 * automatic patch. A blocked or denied call answers the model with a `ToolMessage`
 * (`status: 'error'`) that says so and why, and the agent continues; the tool does not run.
 * Tools it checked are not checked again by the automatic patch.
 *
 * ```ts
 * const agent = createAgent({ model, tools, middleware: [ardenMiddleware()] });
 * ```
 */
export function ardenMiddleware(options: ArdenMiddlewareOptions = {}): AgentMiddleware {
  const resolved = resolveOptions(options);
  const wrapToolCall = (
    request: ToolCallRequestLike,
    handler: (request: ToolCallRequestLike) => Promise<unknown>,
  ) => {
    const { toolCall } = request;
    return runGuardedCall({
      toolName: toolCall.name,
      args: toolCall.args,
      toolCallId: toolCall.id,
      config: { configurable: request.runtime?.configurable },
      run: () => handler(request.tool ? { ...request, tool: markGuarded(request.tool) } : request),
      options: resolved,
      ToolMessage: ToolMessage as unknown as ToolMessageConstructor,
    });
  };
  return {
    [middlewareBrand]: true,
    name: options.name ?? 'ArdenMiddleware',
    wrapToolCall,
  } as unknown as AgentMiddleware;
}
