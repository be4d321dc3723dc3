/**
 * `@arden/openai-agents`: Arden for the OpenAI Agents SDK (`@openai/agents`).
 *
 * ```ts
 * import { configure } from '@arden/core';
 * import '@arden/openai-agents';
 *
 * configure(); // every function tool of every agent is now checked; every model call's usage recorded
 * ```
 *
 * Importing this module registers the adapter with `@arden/core` (that is its only side effect);
 * nothing is patched until `configure()` or `install()`.
 */
import { register } from './install';

export { defaultDenialMessage, type ToolDenial } from '@arden/core';
export {
  type InterruptionAction,
  interruptionAction,
  type ResolvedInterruptions,
  type ResolveInterruptionsOptions,
  resolveInterruptions,
} from './approvals';
export {
  type HostedMcpApproval,
  hostedMcpApproval,
} from './hosted-mcp';
export { adapterName, type InstallOptions, install, uninstall } from './install';
export {
  guardAgentTools,
  type ProtectToolOptions,
  protectFunctionTool,
  protectFunctionTools,
} from './protect';
export type { ApprovalRoute, ProtectOptions } from './state';
export {
  trackModelUsage,
  trackProviderUsage,
  type UsageTrackingOptions,
} from './usage';

register();
