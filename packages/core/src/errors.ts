const errorMarker = Symbol.for('arden.error');

function hasMarker(value: unknown, marker: symbol): boolean {
  return (
    value != null &&
    typeof value === 'object' &&
    marker in value &&
    (value as Record<symbol, unknown>)[marker] === true
  );
}

/**
 * Base class of every error Arden throws.
 *
 * Use `ArdenError.isInstance(error)` rather than `instanceof`: two installed copies of
 * `@arden/core` (a common result of nested dependencies) still recognise each other's errors.
 */
export class ArdenError extends Error {
  protected readonly [errorMarker] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArdenError';
  }

  /** True when `error` is an Arden error from any installed copy of `@arden/core`. */
  static isInstance(error: unknown): error is ArdenError {
    return hasMarker(error, errorMarker);
  }
}

const configurationMarker = Symbol.for('arden.error.configuration');

/** The caller's setup is wrong (a missing key, an option out of range); `option` names it. */
export class ConfigurationError extends ArdenError {
  protected readonly [configurationMarker] = true;
  /** The option (or environment variable) that is wrong. */
  readonly option: string | undefined;

  constructor(message: string, options?: { option?: string; cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigurationError';
    this.option = options?.option;
  }

  static override isInstance(error: unknown): error is ConfigurationError {
    return hasMarker(error, configurationMarker);
  }
}

const policyDeniedMarker = Symbol.for('arden.error.policy-denied');

/** Why a tool call was refused: a policy blocked it, or an approver denied it (or it expired). */
export type DenialReason = 'blocked' | 'denied';

/**
 * The tool call was refused, so its body never ran: a policy blocked it outright, or it was
 * held for approval and a human denied it (or the approval expired).
 */
export class PolicyDeniedError extends ArdenError {
  protected readonly [policyDeniedMarker] = true;
  readonly toolName: string;
  readonly actionId: string | undefined;
  /** `'blocked'` by a policy, or `'denied'` by an approver or by expiry. */
  readonly reason: DenialReason;
  /** The approver's notes, or the server's explanation. */
  readonly notes: string | undefined;

  constructor(options: {
    toolName: string;
    actionId?: string | undefined;
    reason: DenialReason;
    notes?: string | undefined;
    message?: string;
    /** What refused the call, when it was not a decision (for example Arden refusing the check). */
    cause?: unknown;
  }) {
    const detail = options.notes ? `: ${options.notes}` : '';
    super(
      options.message ??
        (options.reason === 'blocked'
          ? `Tool "${options.toolName}" was blocked by policy${detail}`
          : `Tool "${options.toolName}" was denied${detail}`),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'PolicyDeniedError';
    this.toolName = options.toolName;
    this.actionId = options.actionId;
    this.reason = options.reason;
    this.notes = options.notes;
  }

  static override isInstance(error: unknown): error is PolicyDeniedError {
    return hasMarker(error, policyDeniedMarker);
  }
}

const approvalTimeoutMarker = Symbol.for('arden.error.approval-timeout');

/** Nobody approved or denied the call within `maxWaitMs`; the tool body did not run. */
export class ApprovalTimeoutError extends ArdenError {
  protected readonly [approvalTimeoutMarker] = true;
  readonly toolName: string;
  readonly actionId: string;
  readonly timeoutMs: number;

  constructor(options: { toolName: string; actionId: string; timeoutMs: number }) {
    super(
      `No decision on tool "${options.toolName}" (action ${options.actionId}) within ${options.timeoutMs} ms. ` +
        'The tool did not run. Approve it sooner, or raise maxWaitMs in configure().',
    );
    this.name = 'ApprovalTimeoutError';
    this.toolName = options.toolName;
    this.actionId = options.actionId;
    this.timeoutMs = options.timeoutMs;
  }

  static override isInstance(error: unknown): error is ApprovalTimeoutError {
    return hasMarker(error, approvalTimeoutMarker);
  }
}

const budgetMarker = Symbol.for('arden.error.budget-exceeded');

/** A budget as the server reports it with a refusal. */
export interface BudgetInfo {
  id: string;
  name: string | null;
  /** `session`, `agent_day`, `environment_day` or `environment_month`. */
  scope: string;
  /** The window counted: `agent/session`, `agent/2026-12-06`, `2026-12-06` or `2026-12`. */
  window: string;
  limitUsd: number | null;
  limitTokens: number | null;
}

/** Dollars and tokens. */
export interface BudgetAmount {
  usd: number;
  tokens: number;
}

/**
 * Arden refused a model call before it ran: reserving its estimated cost would take a budget
 * over its limit (or the model is not priced and a dollar budget applies). The model was not
 * called. `budget` is the budget, `spent` what was spent in its window, `reserved` what calls in
 * flight hold, `estimated` what this call would have cost.
 */
export class BudgetExceededError extends ArdenError {
  protected readonly [budgetMarker] = true;
  readonly model: string;
  /** `budget_exceeded`, or `unpriced_model` (the server has no price for the model). */
  readonly reason: string;
  readonly budget: BudgetInfo;
  readonly spent: BudgetAmount;
  readonly reserved: BudgetAmount;
  readonly estimated: BudgetAmount;

  constructor(options: {
    model: string;
    reason: string;
    budget: BudgetInfo;
    spent: BudgetAmount;
    reserved: BudgetAmount;
    estimated: BudgetAmount;
    message?: string;
  }) {
    super(
      options.message ??
        `The model call to "${options.model}" was refused: it would exceed the ${options.budget.scope} budget${options.budget.name ? ` "${options.budget.name}"` : ''} (spent $${options.spent.usd}, reserved $${options.reserved.usd}).`,
    );
    this.name = 'BudgetExceededError';
    this.model = options.model;
    this.reason = options.reason;
    this.budget = options.budget;
    this.spent = options.spent;
    this.reserved = options.reserved;
    this.estimated = options.estimated;
  }

  static override isInstance(error: unknown): error is BudgetExceededError {
    return hasMarker(error, budgetMarker);
  }
}

const apiMarker = Symbol.for('arden.error.api');

/** `text` without its final full stop, to end a sentence of its own inside a longer one. */
export function withoutFinalStop(text: string): string {
  return text.trim().replace(/\.+$/, '');
}

function apiErrorMessage(options: {
  statusCode: number;
  path: string;
  detail?: string;
  apiUrl?: string;
  fromArden?: boolean;
}): string {
  const apiUrlHint = ` Check ARDEN_API_URL (or the apiUrl passed to configure()): it is the Arden server's base address, such as http://localhost:8787, with no path${options.apiUrl ? ` (it is ${options.apiUrl})` : ''}.`;
  if (options.fromArden === false) {
    // Something answered, but not Arden: a wrong host, port or path in the URL.
    return `The server at ${options.apiUrl ?? 'the configured apiUrl'} answered ${options.statusCode} to ${options.path}, and the answer is not from an Arden server.${apiUrlHint}`;
  }
  const detail = options.detail ? withoutFinalStop(options.detail) : '';
  // Arden's own 404 for a route it does not have (the agent API's, or the admin API's under
  // /api): the URL has a path in front of the route.
  const unknownRoute = options.statusCode === 404 && /^No (admin API )?route /.test(detail);
  // A malformed key never reaches the server (configure() refuses it), so a 401 is a key that
  // is unknown here or revoked: the key's format is not the problem.
  const hint =
    options.statusCode === 401
      ? ' Check ARDEN_API_KEY (or the apiKey passed to configure()), and that ARDEN_API_URL is the server that issued the key.'
      : options.statusCode === 403
        ? ' This key may not do that: agent keys read only their own agent and environment.'
        : unknownRoute
          ? apiUrlHint
          : '';
  return `Arden server answered ${options.statusCode} to ${options.path}${detail ? `: ${detail}` : ''}.${hint}`;
}

/**
 * The Arden server answered with an error. `statusCode` says which; `isRetryable` is true for
 * server faults (5xx, 429) and false for the caller's mistakes (a bad key, a malformed request).
 */
export class ArdenApiError extends ArdenError {
  protected readonly [apiMarker] = true;
  readonly statusCode: number;
  readonly isRetryable: boolean;
  readonly path: string;
  /** The server's error text (Arden's `error`), or the start of a body that is not Arden's. */
  readonly detail: string | undefined;
  /** False when the answer is not an Arden error (not JSON with `error`): a proxy or another server. */
  readonly fromArden: boolean;

  constructor(options: {
    statusCode: number;
    path: string;
    detail?: string;
    cause?: unknown;
    /** The server's address, named when the answer did not come from Arden. */
    apiUrl?: string;
    /** False when the answer is not an Arden error (not JSON with `error`): another server. */
    fromArden?: boolean;
  }) {
    super(apiErrorMessage(options), { cause: options.cause });
    this.name = 'ArdenApiError';
    this.statusCode = options.statusCode;
    this.path = options.path;
    this.detail = options.detail;
    this.fromArden = options.fromArden !== false;
    this.isRetryable = options.statusCode >= 500 || options.statusCode === 429;
  }

  static override isInstance(error: unknown): error is ArdenApiError {
    return hasMarker(error, apiMarker);
  }
}

const unavailableMarker = Symbol.for('arden.error.unavailable');

/**
 * Arden could not be reached (network error, timeout, or server errors after every retry), so
 * it could not decide. With `onUnavailable: 'block'` (the default) the tool does not run and
 * this error is thrown.
 */
export class ArdenUnavailableError extends ArdenError {
  protected readonly [unavailableMarker] = true;
  readonly toolName: string | undefined;
  readonly isRetryable = true;

  constructor(options: { message: string; toolName?: string; cause?: unknown }) {
    super(options.message, { cause: options.cause });
    this.name = 'ArdenUnavailableError';
    this.toolName = options.toolName;
  }

  static override isInstance(error: unknown): error is ArdenUnavailableError {
    return hasMarker(error, unavailableMarker);
  }
}

const webhookMarker = Symbol.for('arden.error.webhook');

/** A webhook delivery failed verification (missing headers, bad signature, stale timestamp). */
export class WebhookVerificationError extends ArdenError {
  protected readonly [webhookMarker] = true;
  /** The HTTP status a receiver should answer with (400 for a malformed body, else 401). */
  readonly statusCode: number;

  constructor(message: string, statusCode = 401) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.statusCode = statusCode;
  }

  static override isInstance(error: unknown): error is WebhookVerificationError {
    return hasMarker(error, webhookMarker);
  }
}
