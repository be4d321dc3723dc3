/**
 * `@arden/langchain`: Arden for LangChain.js (`@langchain/core` 1.x, `langchain` 1.x, LangGraph).
 *
 * ```ts
 * import { configure } from '@arden/core';
 * import '@arden/langchain';
 *
 * configure(); // every LangChain tool call is now checked; every chat model call's usage recorded
 * ```
 *
 * Importing this module registers the adapter with `@arden/core` (its only side effect); nothing
 * is patched until `configure()` or `install()`.
 */
import { register } from './install';

export { defaultDenialMessage, type ToolDenial } from '@arden/core';
export { ArdenCallbackHandler, type CallbackHandlerOptions } from './callbacks';
export { adapterName, install, uninstall } from './install';
export { mcpOwnToolName, type ProtectMcpToolsOptions, protectMcpTools } from './mcp';
export {
  type ArdenInterrupt,
  type ArdenMiddlewareOptions,
  type ArdenResume,
  ardenMiddleware,
  type ResolveInterruptsOptions,
  resolveArdenInterrupts,
} from './middleware';
export type { ProtectOptions, ProtectToolsOptions } from './options';
export { type InvokableTool, protectTool, protectTools } from './protect';
export type { InstallOptions } from './state';
export { ArdenUsageHandler, type ChatUsage, type UsageHandlerOptions } from './usage';

register();
