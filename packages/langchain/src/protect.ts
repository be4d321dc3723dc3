import { ConfigurationError, type EditedCall, resolveAdapterOptions } from '@arden/core';
import { ToolMessage } from '@langchain/core/messages';
import {
  editedToolInput,
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
  const guard = (
    input: unknown,
    config: unknown,
    run: (edited?: EditedCall) => Promise<unknown>,
  ): Promise<unknown> =>
    runGuardedCall({
      toolName: tool.name,
      args: isToolCall(input) ? input.args : input,
      toolCallId: toolCallIdOf(input, config),
      config,
      run,
      options: resolved,
      ToolMessage: () => ToolMessage as unknown as ToolMessageConstructor,
    });
  const originalCall = (tool as { call?: unknown }).call as
    | ((...args: unknown[]) => Promise<unknown>)
    | undefined;
  if (typeof originalCall !== 'function') {
    defineMethod(
      protectedTool,
      'invoke',
      function invoke(this: T, input: unknown, config?: unknown) {
        return guard(input, config, (edited) =>
          tool.invoke.call(this ?? protectedTool, editedToolInput(input, edited), config),
        );
      },
    );
    return protectedTool;
  }
  // A LangChain tool also runs through its public (deprecated) `call`, so both are guarded. The
  // checked `invoke` runs on a view whose `call` is the original: `StructuredTool.invoke` calls
  // `this.call`, which would otherwise check the same call again.
  defineMethod(protectedTool, 'call', function call(this: T, input: unknown, ...rest: unknown[]) {
    return guard(input, rest[0], (edited) =>
      originalCall.call(this ?? protectedTool, editedToolInput(input, edited), ...rest),
    );
  });
  defineMethod(protectedTool, 'invoke', function invoke(this: T, input: unknown, config?: unknown) {
    const unchecked = Object.create(this ?? protectedTool) as T;
    defineMethod(unchecked, 'call', originalCall);
    return guard(input, config, (edited) =>
      tool.invoke.call(unchecked, editedToolInput(input, edited), config),
    );
  });
  return protectedTool;
}

function defineMethod(target: object, key: string, value: (...args: never[]) => unknown): void {
  Object.defineProperty(target, key, { configurable: true, writable: true, value });
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
