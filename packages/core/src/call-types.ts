/**
 * The public types of checks, guarded calls and webhook deliveries, in a module of their own so
 * that the modules which implement them (checks, guard, webhook receiver, adapter kit) share them
 * without importing the `Arden` class.
 */
import type { JsonValue } from './json-safe';
import type { Decision, WebhookPayload } from './wire';

/** How a call held for approval is handled. */
export type ApprovalMode = 'wait' | 'async' | 'webhook';

/** What the policy engine sees of a call. */
export interface CallContext {
  args: JsonValue[];
  kwargs: Record<string, JsonValue>;
}

/** The result of `check()`: the policy engine's decision on one call. */
export interface CheckResult {
  decision: Decision;
  actionId: string;
  reason: string | undefined;
  message: string | undefined;
  status: 'completed' | 'pending' | undefined;
  environment: string | undefined;
  policy: unknown;
  /**
   * When no policy matched the call (`reason` `no_policy_configured`): the tools of the agent's
   * policies whose name differs from the call's only by a prefix (`refund` for a call to
   * `support.refund`) — a probable naming mistake, logged once per tool as a warning.
   */
  similarPolicyTools: string[] | undefined;
  /** The server's signed receipt of this decision (see `verifyReceipt`), when it signs. */
  receipt?: string | undefined;
}

/** Returned instead of the tool's result when a call is held in `async` or `webhook` mode. */
export interface PendingApproval {
  readonly status: 'pending';
  readonly actionId: string;
  readonly toolName: string;
}

/** A decision on a held call, passed to `onApproval` and `onDenial`. */
export interface ApprovalEvent {
  actionId: string;
  toolName: string;
  status: 'approved' | 'denied';
  /** The approver's notes or the server's explanation (for example, that the approval expired). */
  message: string | undefined;
  /** The webhook that delivered the decision, in `webhook` mode. */
  webhook?: WebhookEvent;
}

/** A verified webhook delivery. */
export interface WebhookEvent {
  eventId: string | undefined;
  eventType: 'action_approved' | 'action_denied';
  actionId: string;
  toolName: string;
  agentId: string | undefined;
  environment: string | undefined;
  createdAt: string | undefined;
  context: { args: unknown[]; kwargs: Record<string, unknown> };
  approval: { adminUserId: string | undefined; notes: string | undefined };
  /**
   * Approved with edit: `context` is the edited call (what was approved); this is what changed.
   */
  edited?: { originalKwargs: Record<string, unknown>; editedBy: string | undefined };
  /** The body exactly as the server sent it. */
  payload: WebhookPayload;
}

/** Options of `guardTool()`. */
export interface GuardOptions<Result = unknown> {
  /** `'wait'` (default) holds the call until decided; `'async'` and `'webhook'` return a `PendingApproval`. */
  approvalMode?: ApprovalMode;
  /** Called with the tool's result when a held call was approved and ran (async and webhook modes). */
  onApproval?: (result: Result, event: ApprovalEvent) => unknown;
  /** Called when a held call was denied, expired, or failed when it ran (async and webhook modes). */
  onDenial?: (error: unknown, event: ApprovalEvent) => unknown;
  /** Names for positional arguments, so policies can refer to `args.<name>`. */
  argNames?: readonly string[];
  /** Extra metadata sent with each check (the session is added automatically). */
  metadata?: Record<string, unknown>;
  /**
   * Called just before the tool runs with arguments an approver edited (approve with edit), so
   * an adapter can tell the model (see `editedCallNote`).
   */
  onEdited?: (edited: EditedCall) => void;
}

/** Handlers for decisions on a tool's calls that arrive by webhook, by tool name. */
export interface WebhookHandlers {
  onApproval?: (event: WebhookEvent) => unknown;
  onDenial?: (event: WebhookEvent) => unknown;
}

/** Result of `handleWebhook()`. */
export interface HandledWebhook {
  event: WebhookEvent;
  /** True when a callback or handler received the event; false when nothing was registered. */
  handled: boolean;
  /** True when this event (or a decision on this action) was already handled by this process. */
  duplicate: boolean;
}

/** Options of `handleWebhook()`. */
export interface HandleWebhookOptions {
  /** Default: the instance's `signingKey`. */
  signingKey?: string;
  /** Default: the instance's `webhookToleranceSeconds` (300). */
  toleranceSeconds?: number;
  /** Clock for tests, in ms since the epoch. */
  now?: () => number;
}

/** @internal Any function a tool may be. */
export type AnyFunction = (...args: any[]) => any;

/** @internal The outcome of waiting for a held call: the decision and its message. */
export interface DecidedCall {
  status: 'approved' | 'denied';
  message: string | undefined;
  /** The server's signed receipt of the decision, when it signs (see `verifyReceipt`). */
  receipt?: string | undefined;
  /** Approved with edited arguments: run the call with these, and tell the model. */
  edited?: EditedCall;
  /** `app` when the app's end user decided (an in-app decision reported to Arden). */
  decidedIn?: 'app';
}

/** The arguments an approver changed before approving a held call (approve with edit). */
export interface EditedCall {
  /** The keyword arguments to run the tool with. */
  kwargs: Record<string, unknown>;
  /** Their JSON text, as the approver's edit produced it. */
  kwargsJson: string;
  /** The RFC 6902 patch from the original arguments. */
  patch: unknown[];
  /** Who edited (an approver's email). */
  editedBy: string | undefined;
  /** A sentence for the model: who changed what. */
  message: string;
}
