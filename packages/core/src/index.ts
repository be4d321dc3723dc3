import {
  Arden,
  type GuardOptions,
  guardWith,
  type HandledWebhook,
  type HandleWebhookOptions,
  type PendingApproval,
  type WebhookHandlers,
} from './arden';
import type { ModelCallRequest, ModelCallReservation } from './budgets';
import type { ArdenOptions } from './options';
import { getArden, installAdapters, registry } from './registry';
import type { TokenUsage } from './usage';

/**
 * Configures the default Arden instance that the module-level functions and the adapters use,
 * and installs the auto-patching of every adapter the app has imported. Call it once at
 * start-up; calling it again replaces the instance. Throws `ConfigurationError` naming a bad option.
 */
export function configure(options: ArdenOptions = {}): Arden {
  const instance = new Arden(options);
  const shared = registry();
  const previous = shared.defaultInstance;
  shared.defaultInstance = instance;
  if (previous) void previous.shutdown();
  installAdapters();
  return instance;
}

/**
 * Creates an independent Arden instance (its own key, pool and queues), for apps that need
 * several configurations. It does not install adapters or become the default.
 */
export function createArden(options: ArdenOptions = {}): Arden {
  return new Arden(options);
}

/**
 * Wraps `fn` so that every call is checked against Arden's policies before it runs:
 * allowed calls run, blocked ones throw `PolicyDeniedError`, and calls that need approval wait
 * (or, with `approvalMode: 'async' | 'webhook'`, return a `PendingApproval`). Uses the default
 * instance at call time, so it may be called before `configure()`.
 */
export function guardTool<F extends (...args: any[]) => any>(
  toolName: string,
  fn: F,
  options?: GuardOptions<Awaited<ReturnType<F>>> & { approvalMode?: 'wait' },
): (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>;
export function guardTool<F extends (...args: any[]) => any>(
  toolName: string,
  fn: F,
  options: GuardOptions<Awaited<ReturnType<F>>> & { approvalMode: 'async' | 'webhook' },
): (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>> | PendingApproval>;
export function guardTool<F extends (...args: any[]) => any>(
  toolName: string,
  fn: F,
  options: GuardOptions<Awaited<ReturnType<F>>> = {},
): (...args: Parameters<F>) => Promise<unknown> {
  return guardWith(getArden, toolName, fn, options);
}

/** Records one LLM call's token usage on the default instance. Returns at once; never throws. */
export function logTokenUsage(usage: TokenUsage): void {
  try {
    getArden().logTokenUsage(usage);
  } catch {
    // Not configured: usage logging must never break the agent.
  }
}

/**
 * Asks Arden before a model call, on the default instance: reserves its estimated cost against
 * the agent's budgets, or throws `BudgetExceededError`. See `Arden.checkModelCall`.
 */
export function checkModelCall(request: ModelCallRequest): Promise<ModelCallReservation> {
  return getArden().checkModelCall(request);
}

/** Sends queued usage and waits for background reports on the default instance. */
export async function flush(): Promise<void> {
  await registry().defaultInstance?.flush();
}

/** Registers webhook handlers for a tool's decisions on the default instance. */
export function onWebhook(toolName: string, handlers: WebhookHandlers): () => void {
  return getArden().onWebhook(toolName, handlers);
}

/** Verifies and dispatches one webhook delivery on the default instance. */
export function handleWebhook(
  body: string | Uint8Array,
  headers: Headers | Record<string, string | string[] | undefined>,
  options?: HandleWebhookOptions,
): Promise<HandledWebhook> {
  return getArden().handleWebhook(body, headers, options);
}

export {
  type AdapterApprovalOptions,
  type AdapterOptions,
  approvalModeOf,
  ardenResolver,
  ardenToolName,
  blockedError,
  decisionOf,
  defaultDenialMessage,
  denialOf,
  denialText,
  type HeldDecision,
  heldRunRefused,
  isPendingApproval,
  patchMethod,
  pendingApprovalMessage,
  type ResolvedAdapterOptions,
  type ResumedCall,
  resolveAdapterOptions,
  runsUnchecked,
  sharedState,
  type ToolDenial,
  type ToolDenialReason,
  type ToolNaming,
  tokenCount,
  unconfirmedHeldRun,
  validateGuardArguments,
} from './adapter-kit';
export {
  type ApprovalEvent,
  type ApprovalMode,
  Arden,
  buildCallContext,
  type CallContext,
  type CheckResult,
  type GuardOptions,
  guardedToolName,
  type HandledWebhook,
  type HandleWebhookOptions,
  type PendingApproval,
  type WebhookEvent,
  type WebhookHandlers,
} from './arden';
export {
  estimateTokens,
  type ModelCallRequest,
  type ModelCallReservation,
} from './budgets';
export type { DecidedCall, EditedCall } from './call-types';
export { decidedCall } from './checks';
export { editedCallNote, withEditedCallNote, withMcpEditNote } from './edit-note';
export {
  ApprovalTimeoutError,
  ArdenApiError,
  ArdenError,
  ArdenUnavailableError,
  type BudgetAmount,
  BudgetExceededError,
  type BudgetInfo,
  ConfigurationError,
  type DenialReason,
  PolicyDeniedError,
  WebhookVerificationError,
} from './errors';
export {
  assertDecisionCoversCall,
  type CheckedCall,
  editNotRunnable,
  exactCall,
  notTheExactCall,
} from './exact-call';
export { editedParameters } from './guard';
export { isPlainObject, type JsonValue, stringifyWire, toJsonSafe } from './json-safe';
export { createConsoleLogger, type Logger, type LogLevel, silentLogger } from './logger';
// The MCP gateways' shared checking (the stdio gateway and guardMcpClient in @arden/mcp, the
// server's Streamable HTTP gateway): one source for naming, checking and wording denials.
export {
  type CheckMcpToolCallOptions,
  type CheckOutcome,
  checkMcpToolCall,
  type DeniedToolResult,
  deniedToolResult,
  type EditedMcpCall,
  invalidToolCallText,
  type McpToolAnnotations,
  type McpToolCall,
  mcpCheckMetadata,
  pickAnnotations,
  recordHeldCallCancelled,
  toolCallParams,
  type WaitHooks,
} from './mcp-check';
export { InexactNumberError, parseExactJson, sourceTextAccess } from './mcp-exact-json';
export { ambiguousKey, foldKey } from './mcp-keys';
export { isValidMcpServerName, mcpToolName, parseMcpToolName } from './mcp-names';
export { type ReportedCall, reportToolOutcome } from './mcp-outcome';
export {
  loadFromPackageCopy,
  type ModuleWatchGaps,
  type ModuleWatchOptions,
  moduleAnnouncement,
  watchModules,
} from './module-watch';
export {
  type ArdenOptions,
  defaultApiUrl,
  type Environment,
  environmentOfKey,
  type ResolvedOptions,
  type UnavailableBehaviour,
} from './options';
export {
  approversOf,
  assertReceiptCoversCall,
  batchedReceiptPrefix,
  type DecodedReceipt,
  decodeReceipt,
  type ReceiptCall,
  type ReceiptClaims,
  type ReceiptDecider,
  type ReceiptDecision,
  type ReceiptFailure,
  type ReceiptPublicKey,
  type ReceiptRoot,
  ReceiptVerificationError,
  receiptRootType,
  receiptType,
  sha256Hex,
  type VerifyReceiptOptions,
  verifyReceipt,
} from './receipts';
export {
  type ArdenAdapter,
  getArden,
  registerAdapter,
  registeredAdapters,
  uninstallAdapters,
} from './registry';
export { clearSession, getSession, setSession, withSession } from './session';
export { signWebhookPayload, verifyWebhookSignature } from './signature';
export type { TokenUsage, UsageStats } from './usage';
export { version } from './version';
export type * from './wire';
