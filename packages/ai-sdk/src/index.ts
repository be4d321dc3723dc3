/**
 * `@arden/ai-sdk`: Arden for the Vercel AI SDK (`ai` 7).
 *
 * ```ts
 * import { configure } from '@arden/core';
 * import '@arden/ai-sdk';
 *
 * configure(); // every tool execution is now checked; every model call's usage recorded
 * ```
 *
 * Importing this module registers the adapter with `@arden/core` (its only side effect); nothing
 * is registered with the `ai` package until `configure()` or `install()`.
 */
import { register } from './install';

export { defaultDenialMessage, type ToolDenial } from '@arden/core';
export {
  actionIdOfReason,
  ardenToolApproval,
  type ResolveApprovalsOptions,
  type ResolvedApprovals,
  resolveArdenApprovals,
} from './approval';
export { adapterName, install, uninstall } from './install';
export type { GuardToolsOptions, ProtectOptions } from './options';
export type { InstallOptions } from './state';
export { guardMcpTools, guardTools } from './tools';
export {
  ardenUsageMiddleware,
  type LanguageModelCallEnd,
  recordLanguageModelUsage,
  type UsageMiddlewareOptions,
} from './usage';

register();
