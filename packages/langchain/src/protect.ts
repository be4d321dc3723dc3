import { ConfigurationError, resolveAdapterOptions } from '@arden/core';
import { ToolMessage } from '@langchain/core/messages';
import {
  guardedKey,
  isToolCall,
  runGuardedCall,
  type ToolMessageConstructor,
  toolCallIdOf,
} from './guard';
import type { ProtectToolsOptions } from './options';

/** What `protectTools` needs of a tool: a name and `invoke` (LangChain tools and tool-like runnables). */
export interface InvokableTool {
  name: string;
  invoke(input: any, config?: any): Promise<any>;
}

/**
 * Returns a tool that checks every call with Arden before `tool` runs, with per-tool options
 * (name prefix or names, approval modes, throwing on denial). The original is not modified: the
 * result delegates to it (it keeps its class, name, schema and description), and the automatic
 * patch of `configure()` leaves it alone, so its calls are checked once.
 */
export function protectTool<T extends InvokableTool>(
  tool: T,
  options: ProtectToolsOptions = {},
): T {
  if (!tool || typeof tool.invoke !== 'function' || typeof tool.name !== 'string') {
    throw new ConfigurationError(
      'protectTools() needs LangChain tools: objects with a name and an invoke() method.',
      { option: 'tools' },
    );
  }
  const resolved = resolveAdapterOptions(options);
  const protectedTool = Object.create(tool) as T;
  Object.defineProperty(protectedTool, guardedKey, { value: true });
  Object.defineProperty(protectedTool, 'invoke', {
    configurable: true,
    writable: true,
    value: function invoke(this: T, input: unknown, config?: unknown) {
      return runGuardedCall({
        toolName: tool.name,
        args: isToolCall(input) ? input.args : input,
        toolCallId: toolCallIdOf(input, config),
        config,
        run: () => tool.invoke.call(this ?? protectedTool, input, config),
        options: resolved,
        ToolMessage: () => ToolMessage as unknown as ToolMessageConstructor,
      });
    },
  });
  return protectedTool;
}

/**
 * Wraps LangChain tools so that every call is checked by Arden before the tool runs — the
 * explicit alternative to the automatic patch of `configure()`, for per-tool names and approval
 * modes. A blocked or denied call does not run; the model receives a `ToolMessage` with
 * `status: 'error'` saying so (or `PolicyDeniedError` is thrown, with `throwOnDenial`).
 *
 * ```ts
 * const tools = protectTools([searchTool, refundTool], {
 *   toolNamePrefix: 'support.',
 *   approvalModes: { refund: 'wait' },
 * });
 * ```
 */
export function protectTools<T extends InvokableTool>(
  tools: readonly T[],
  options: ProtectToolsOptions = {},
): T[] {
  if (!Array.isArray(tools)) {
    throw new ConfigurationError('protectTools(tools) needs an array of LangChain tools.', {
      option: 'tools',
    });
  }
  return tools.map((tool) => protectTool(tool, options));
}
