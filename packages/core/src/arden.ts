import { blockedError, runsUnchecked, validateGuardArguments } from './adapter-kit';
import {
  ApprovalTimeoutError,
  ArdenApiError,
  ArdenUnavailableError,
  ConfigurationError,
  PolicyDeniedError,
  WebhookVerificationError,
} from './errors';
import { HttpClient } from './http';
import { isPlainObject, type JsonValue, toJsonSafe, toWireSafe } from './json-safe';
import { type ArdenOptions, type ResolvedOptions, resolveOptions } from './options';
import { webhookTools } from './registry';
import { ResultQueue } from './results';
import { sleep } from './runtime';
import { getSession } from './session';
import { signatureProblem } from './signature';
import { type TokenUsage, UsageQueue, type UsageStats } from './usage';
import type {
  CheckRequestBody,
  CheckResponseBody,
  Decision,
  ResultReportBody,
  StatusResponseBody,
  WebhookPayload,
} from './wire';

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

type AnyFunction = (...args: any[]) => any;

interface PendingCall {
  toolName: string;
  run: () => Promise<unknown>;
  options: GuardOptions<any>;
}

const longPollSeconds = 30;
const rememberedEvents = 10_000;

/**
 * Builds the policy context of a call: one plain-object argument becomes `kwargs`; positional
 * arguments are named by `argNames` when given, else sent as `args`. Never throws.
 */
export function buildCallContext(
  parameters: readonly unknown[],
  argNames?: readonly string[],
): CallContext {
  if (argNames && argNames.length > 0) {
    const kwargs: Record<string, JsonValue> = {};
    argNames.forEach((name, index) => {
      if (index < parameters.length) kwargs[name] = toWireSafe(parameters[index]);
    });
    return { args: parameters.slice(argNames.length).map(toWireSafe), kwargs };
  }
  if (parameters.length === 1 && isPlainObject(parameters[0])) {
    return { args: [], kwargs: toWireSafe(parameters[0]) as Record<string, JsonValue> };
  }
  return { args: parameters.map(toWireSafe), kwargs: {} };
}

/**
 * One Arden configuration: a client of the agent API with its own connection pool, usage queue
 * and webhook registry. Most apps use the module-level functions (`configure`, `guardTool`, …),
 * which share a default instance; create several with `createArden()` when you need several keys.
 */
export class Arden {
  /** The options after defaults and validation (the key is not logged anywhere). */
  readonly options: ResolvedOptions;
  private readonly http: HttpClient;
  private readonly usage: UsageQueue;
  private readonly results: ResultQueue;
  private readonly background = new Set<Promise<unknown>>();
  private readonly webhookHandlers = new Map<string, WebhookHandlers>();
  private readonly pendingCalls = new Map<string, PendingCall>();
  private readonly seenEvents = new Set<string>();
  private longPollSupported = true;

  constructor(options: ArdenOptions = {}) {
    this.options = resolveOptions(options);
    this.http = new HttpClient(this.options);
    this.usage = new UsageQueue(this.http, this.options.logger, {
      batchSize: this.options.usageBatchSize,
      flushIntervalMs: this.options.usageFlushIntervalMs,
      maxQueue: this.options.usageMaxQueue,
    });
    this.results = new ResultQueue(
      this.http,
      this.options.logger,
      this.options.resultFlushIntervalMs,
    );
  }

  /** The environment (`test` or `live`) of this instance's key. */
  get environment(): 'test' | 'live' {
    return this.options.environment;
  }

  /**
   * Asks the policy engine about one call. Adapters use this; most apps use `guardTool()`.
   * Throws `ArdenUnavailableError` when the server cannot be reached, `ArdenApiError` on 4xx.
   */
  async check(
    toolName: string,
    context: CallContext,
    metadata: Record<string, unknown> = {},
  ): Promise<CheckResult> {
    const sessionId = getSession();
    const body: CheckRequestBody = {
      tool_name: toolName,
      args: context.args,
      kwargs: context.kwargs,
      metadata: sessionId === undefined ? { ...metadata } : { ...metadata, session_id: sessionId },
    };
    const response = await this.http.request<CheckResponseBody>('POST', '/policy/check', body);
    if (
      !response ||
      typeof response.action_id !== 'string' ||
      !['allow', 'block', 'requires_approval'].includes(response.decision)
    ) {
      throw new ArdenUnavailableError({
        toolName,
        message: `Arden server answered /policy/check without a valid decision and action_id for "${toolName}". Is ARDEN_API_URL pointing at an Arden server?`,
      });
    }
    const similar = Array.isArray(response.similar_policy_tools)
      ? response.similar_policy_tools.filter((tool): tool is string => typeof tool === 'string')
      : undefined;
    if (similar && similar.length > 0) this.warnSimilarPolicies(toolName, response, similar);
    return {
      decision: response.decision,
      actionId: response.action_id,
      reason: response.reason ?? undefined,
      message: response.message ?? undefined,
      status: response.status,
      environment: response.environment,
      policy: response.policy,
      similarPolicyTools: similar,
    };
  }

  private readonly namesWarnedAbout = new Set<string>();

  // Once per tool name and instance: a misnamed tool would otherwise warn on every call.
  private warnSimilarPolicies(toolName: string, response: CheckResponseBody, similar: string[]) {
    if (this.namesWarnedAbout.has(toolName) || this.namesWarnedAbout.size >= 1000) return;
    this.namesWarnedAbout.add(toolName);
    const names = similar.map((tool) => `"${tool}"`).join(', ');
    this.options.logger.warn(
      `No policy matches the tool "${toolName}", so the agent's default action decided (${response.decision}); a policy exists for ${names}, which differs only by a prefix. Arden names a tool by toolNames[name] or ardenName exactly as written, else toolNamePrefix + the tool's name: rename the tool or the policy so they match.`,
      { toolName, similarPolicyTools: similar },
    );
  }

  /** Reads an action's status; with `waitSeconds` the server holds the request until decided. */
  async status(actionId: string, waitSeconds?: number): Promise<StatusResponseBody> {
    const path = `/status/${encodeURIComponent(actionId)}${waitSeconds ? `?wait=${waitSeconds}` : ''}`;
    return this.http.request<StatusResponseBody>('GET', path, undefined, {
      timeoutMs: this.options.timeoutMs + (waitSeconds ?? 0) * 1000,
    });
  }

  /**
   * Waits until a held action is decided, by long-poll (`?wait=N`) or, against servers without
   * it, by polling every `pollIntervalMs`. Resolves with the final status; throws
   * `ApprovalTimeoutError` after `maxWaitMs`.
   */
  async waitForDecision(
    actionId: string,
    toolName: string,
    maxWaitMs: number = this.options.maxWaitMs,
  ): Promise<{ status: 'approved' | 'denied'; message: string | undefined }> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new ApprovalTimeoutError({ toolName, actionId, timeoutMs: maxWaitMs });
      const waitSeconds = this.longPollSupported
        ? Math.max(1, Math.min(longPollSeconds, Math.ceil(remaining / 1000)))
        : undefined;
      const started = Date.now();
      let response: StatusResponseBody | undefined;
      try {
        response = await this.status(actionId, waitSeconds);
      } catch (error) {
        if (ArdenApiError.isInstance(error) && !error.isRetryable) throw error;
        // The server is unreachable: keep waiting (the decision is kept server-side) until the
        // deadline, then time out. The tool does not run meanwhile.
        this.options.logger.warn('Lost contact with Arden while waiting for approval; retrying.', {
          actionId,
        });
        await sleep(Math.min(this.options.pollIntervalMs, Math.max(0, deadline - Date.now())));
        continue;
      }
      if (response.status === 'approved' || response.status === 'denied') {
        return { status: response.status, message: response.message ?? undefined };
      }
      if (waitSeconds !== undefined && Date.now() - started < waitSeconds * 1000 - 500) {
        // A pending answer well before the wait elapsed: this server does not long-poll.
        this.longPollSupported = false;
      }
      if (!this.longPollSupported) {
        await sleep(Math.min(this.options.pollIntervalMs, Math.max(0, deadline - Date.now())));
      }
    }
  }

  /**
   * Reports a call's outcome to the server without delaying the caller: queued and sent in
   * batches within `resultFlushIntervalMs`. Never throws.
   */
  reportResult(actionId: string, outcome: ResultReportBody): void {
    this.results.add(actionId, outcome);
  }

  /**
   * Wraps `fn` so that every call is checked by Arden before `fn` runs. See `GuardOptions` for
   * the approval modes. The wrapper is always async and takes `fn`'s parameters.
   */
  guardTool<F extends AnyFunction>(
    toolName: string,
    fn: F,
    options?: GuardOptions<Awaited<ReturnType<F>>> & { approvalMode?: 'wait' },
  ): (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>;
  guardTool<F extends AnyFunction>(
    toolName: string,
    fn: F,
    options: GuardOptions<Awaited<ReturnType<F>>> & { approvalMode: 'async' | 'webhook' },
  ): (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>> | PendingApproval>;
  guardTool<F extends AnyFunction>(
    toolName: string,
    fn: F,
    options: GuardOptions<Awaited<ReturnType<F>>> = {},
  ): (...args: Parameters<F>) => Promise<unknown> {
    return guardWith(() => this, toolName, fn, options);
  }

  /** @internal Runs one guarded call; shared by instance and module-level `guardTool`. */
  async runGuarded(
    toolName: string,
    fn: AnyFunction,
    thisArgument: unknown,
    parameters: unknown[],
    options: GuardOptions<any>,
  ): Promise<unknown> {
    const mode = options.approvalMode ?? 'wait';
    const context = buildCallContext(parameters, options.argNames);
    let result: CheckResult;
    try {
      result = await this.check(toolName, context, options.metadata);
    } catch (error) {
      if (runsUnchecked(this, error)) {
        this.options.logger.warn(
          `Arden is unreachable; running "${toolName}" unchecked because onUnavailable is 'allow'.`,
        );
        return fn.apply(thisArgument, parameters);
      }
      if (ArdenUnavailableError.isInstance(error)) {
        throw new ArdenUnavailableError({
          toolName,
          message: `Arden could not decide on "${toolName}", so it did not run (onUnavailable: 'block'). ${error.message}`,
          cause: error,
        });
      }
      throw error;
    }
    const run = () => this.runAndReport(result.actionId, fn, thisArgument, parameters);
    switch (result.decision) {
      case 'allow':
        return run();
      case 'block':
        throw blockedError(toolName, result);
      case 'requires_approval':
        break;
    }
    if (mode === 'wait') {
      const decision = await this.waitForDecision(result.actionId, toolName);
      if (decision.status === 'approved') return run();
      throw new PolicyDeniedError({
        toolName,
        actionId: result.actionId,
        reason: 'denied',
        notes: decision.message,
      });
    }
    const pending: PendingApproval = Object.freeze({
      status: 'pending' as const,
      actionId: result.actionId,
      toolName,
    });
    if (mode === 'async') {
      this.track(this.settleInBackground(pending, run, options));
    } else {
      this.pendingCalls.set(result.actionId, { toolName, run, options });
    }
    return pending;
  }

  private async settleInBackground(
    pending: PendingApproval,
    run: () => Promise<unknown>,
    options: GuardOptions<any>,
  ): Promise<void> {
    let event: ApprovalEvent = {
      actionId: pending.actionId,
      toolName: pending.toolName,
      status: 'denied',
      message: undefined,
    };
    try {
      const decision = await this.waitForDecision(pending.actionId, pending.toolName);
      event = { ...event, status: decision.status, message: decision.message };
      if (decision.status === 'denied') {
        throw new PolicyDeniedError({
          toolName: pending.toolName,
          actionId: pending.actionId,
          reason: 'denied',
          notes: decision.message,
        });
      }
      const value = await run();
      await options.onApproval?.(value, event);
    } catch (error) {
      try {
        await options.onDenial?.(error, event);
      } catch (callbackError) {
        this.options.logger.error('onDenial threw', { error: String(callbackError) });
      }
      if (!options.onDenial) {
        this.options.logger.warn(
          `Held call to "${pending.toolName}" did not run: ${String(error)}`,
        );
      }
    }
  }

  /**
   * Runs `fn` for an action that was allowed or approved and reports its outcome (status,
   * duration, error message) off the critical path. Adapters that drive the check and the wait
   * themselves use it for the last step.
   */
  async runAndReport(
    actionId: string,
    fn: AnyFunction,
    thisArgument: unknown = undefined,
    parameters: unknown[] = [],
  ): Promise<unknown> {
    const started = performance.now();
    try {
      const value = await fn.apply(thisArgument, parameters);
      const report: ResultReportBody = {
        status: 'succeeded',
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      };
      if (this.options.reportReturnValue) report.result = toJsonSafe(value);
      this.reportResult(actionId, report);
      return value;
    } catch (error) {
      this.reportResult(actionId, {
        status: 'failed',
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      throw error;
    }
  }

  /**
   * Registers handlers for webhook decisions on `toolName`'s calls. They receive decisions for
   * calls this process no longer remembers (for example after a restart); calls it does
   * remember go to their own `onApproval`/`onDenial`. Returns a function that unregisters.
   */
  onWebhook(toolName: string, handlers: WebhookHandlers): () => void {
    this.webhookHandlers.set(toolName, handlers);
    return () => {
      if (this.webhookHandlers.get(toolName) === handlers) this.webhookHandlers.delete(toolName);
    };
  }

  /**
   * Verifies and dispatches one webhook delivery. Pass the raw body (string or bytes, before any
   * JSON parsing) and the request headers. Throws `WebhookVerificationError` (answer its
   * `statusCode`) when the signature, timestamp or body is wrong; otherwise runs the approved
   * call (or reports the denial) and resolves when its callbacks are done.
   */
  async handleWebhook(
    body: string | Uint8Array,
    headers: Headers | Record<string, string | string[] | undefined>,
    options: HandleWebhookOptions = {},
  ): Promise<HandledWebhook> {
    const signingKey = options.signingKey ?? this.options.signingKey;
    if (!signingKey) {
      throw new ConfigurationError(
        "handleWebhook needs the agent's signing key: pass signingKey, or set it in configure() or ARDEN_SIGNING_KEY. It is shown in the dashboard under Agents.",
        { option: 'signingKey' },
      );
    }
    const header = (name: string): string | undefined => {
      if (typeof (headers as Headers).get === 'function')
        return (headers as Headers).get(name) ?? undefined;
      const record = headers as Record<string, string | string[] | undefined>;
      const found = Object.keys(record).find((key) => key.toLowerCase() === name);
      const value = found === undefined ? undefined : record[found];
      return Array.isArray(value) ? value[0] : value;
    };
    const problem = await signatureProblem(
      body,
      header('x-arden-timestamp'),
      header('x-arden-signature'),
      signingKey,
      options.toleranceSeconds ?? this.options.webhookToleranceSeconds,
      (options.now?.() ?? Date.now()) / 1000,
    );
    if (problem) throw new WebhookVerificationError(`Webhook refused: ${problem}.`);
    const event = parseWebhook(body, header('x-arden-event-id'));
    const key = event.eventId ?? `${event.actionId}:${event.eventType}`;
    if (this.seenEvents.has(key) || this.seenEvents.has(`action:${event.actionId}`)) {
      return { event, handled: false, duplicate: true };
    }
    this.remember(key);
    this.remember(`action:${event.actionId}`);
    const handled = await this.dispatchWebhook(event);
    return { event, handled, duplicate: false };
  }

  private remember(key: string): void {
    this.seenEvents.add(key);
    if (this.seenEvents.size > rememberedEvents) {
      const oldest = this.seenEvents.values().next().value;
      if (oldest !== undefined) this.seenEvents.delete(oldest);
    }
  }

  private async dispatchWebhook(event: WebhookEvent): Promise<boolean> {
    const approved = event.eventType === 'action_approved';
    const approvalEvent: ApprovalEvent = {
      actionId: event.actionId,
      toolName: event.toolName,
      status: approved ? 'approved' : 'denied',
      message: event.approval.notes,
      webhook: event,
    };
    const pending = this.pendingCalls.get(event.actionId);
    if (pending) {
      this.pendingCalls.delete(event.actionId);
      await this.settle(pending.run, pending.options, approvalEvent);
      return true;
    }
    const handlers = this.webhookHandlers.get(event.toolName);
    if (handlers) {
      await (approved ? handlers.onApproval?.(event) : handlers.onDenial?.(event));
      return true;
    }
    const tool = webhookTools().get(event.toolName);
    if (tool) {
      // The process that made the call is gone (a restart): rebuild the call from the context
      // the server kept. Arguments arrive as JSON, so Dates and the like arrive as strings.
      const parameters = rebuildParameters(event.context, tool.argNames);
      const run = () => this.runAndReport(event.actionId, tool.fn, undefined, parameters);
      await this.settle(run, tool.options, approvalEvent);
      return true;
    }
    this.options.logger.warn(
      `A webhook decision on "${event.toolName}" (action ${event.actionId}) reached no handler. Register one with onWebhook("${event.toolName}", …) or guard the tool with approvalMode 'webhook' at start-up.`,
    );
    return false;
  }

  private async settle(
    run: () => Promise<unknown>,
    options: GuardOptions<any>,
    event: ApprovalEvent,
  ) {
    if (event.status === 'approved') {
      let value: unknown;
      try {
        value = await run();
      } catch (error) {
        await options.onDenial?.(error, event);
        return;
      }
      await options.onApproval?.(value, event);
      return;
    }
    await options.onDenial?.(
      new PolicyDeniedError({
        toolName: event.toolName,
        actionId: event.actionId,
        reason: 'denied',
        notes: event.message,
      }),
      event,
    );
  }

  /** Records one LLM call's token usage. Returns at once; never throws; sent in batches. */
  logTokenUsage(usage: TokenUsage): void {
    this.usage.record(usage);
  }

  /** Counters of the usage queue (queued, sent, dropped, rejected). */
  get usageStats(): UsageStats {
    return { ...this.usage.stats };
  }

  /**
   * Sends queued usage and waits for background work (result reports, async approvals that
   * are running). Call it before a serverless function returns. Never rejects.
   */
  async flush(): Promise<void> {
    await Promise.all([this.usage.flush(), this.results.flush()]);
    while (this.background.size > 0) {
      await Promise.allSettled([...this.background]);
    }
    // Calls that finished while waiting queued more reports.
    await this.results.flush();
  }

  /** Flushes, then stops timers and closes pooled connections. */
  async shutdown(): Promise<void> {
    await this.flush();
    this.usage.close();
    this.results.close();
    this.http.close();
  }

  private track(promise: Promise<unknown>): void {
    this.background.add(promise);
    void promise.finally(() => this.background.delete(promise));
  }
}

const guardedMarker = Symbol.for('arden.guarded');

/** The Arden tool name of a function returned by `guardTool`, or undefined for any other value. */
export function guardedToolName(value: unknown): string | undefined {
  if (typeof value !== 'function') return undefined;
  const name = (value as unknown as Record<symbol, unknown>)[guardedMarker];
  return typeof name === 'string' ? name : undefined;
}

/** Builds the guarded wrapper; `resolve` finds the instance at call time. */
export function guardWith(
  resolve: () => Arden,
  toolName: string,
  fn: AnyFunction,
  options: GuardOptions<any>,
): (...args: any[]) => Promise<unknown> {
  const mode = options.approvalMode ?? 'wait';
  validateGuardArguments('guardTool', toolName, fn, mode);
  if (options.argNames !== undefined && !Array.isArray(options.argNames)) {
    throw new ConfigurationError('argNames must be an array of strings.', { option: 'argNames' });
  }
  // Webhook-mode tools are known by name from the moment they are guarded, so a decision that
  // arrives after a restart (when the process that made the call is gone) still reaches code.
  if (mode === 'webhook') webhookTools().set(toolName, { fn, argNames: options.argNames, options });
  const guarded = async function (this: unknown, ...parameters: unknown[]) {
    return resolve().runGuarded(toolName, fn, this, parameters, options);
  };
  Object.defineProperty(guarded, 'name', { value: fn.name || toolName });
  // Lets adapters recognise an already guarded function and not check its calls twice.
  Object.defineProperty(guarded, guardedMarker, { value: toolName });
  return guarded;
}

function parseWebhook(body: string | Uint8Array, eventId: string | undefined): WebhookEvent {
  let payload: WebhookPayload;
  try {
    payload = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
  } catch {
    throw new WebhookVerificationError('Webhook refused: the body is not JSON.', 400);
  }
  const action = payload?.action;
  if (
    !payload ||
    (payload.event_type !== 'action_approved' && payload.event_type !== 'action_denied') ||
    !action ||
    typeof action.action_id !== 'string' ||
    typeof action.tool_name !== 'string'
  ) {
    throw new WebhookVerificationError(
      'Webhook refused: the body needs event_type (action_approved or action_denied) and action.action_id and action.tool_name.',
      400,
    );
  }
  return {
    eventId,
    eventType: payload.event_type,
    actionId: action.action_id,
    toolName: action.tool_name,
    agentId: action.agent_id,
    environment: action.environment,
    createdAt: action.created_at,
    context: {
      args: Array.isArray(action.args) ? action.args : [],
      kwargs: isPlainObject(action.context) ? action.context : {},
    },
    approval: {
      adminUserId: payload.approval?.admin_user_id ?? undefined,
      notes: payload.approval?.notes ?? undefined,
    },
    payload,
  };
}

function rebuildParameters(
  context: { args: unknown[]; kwargs: Record<string, unknown> },
  argNames: readonly string[] | undefined,
): unknown[] {
  if (argNames && argNames.length > 0) {
    return [...argNames.map((name) => context.kwargs[name]), ...context.args];
  }
  if (context.args.length === 0 && Object.keys(context.kwargs).length > 0) return [context.kwargs];
  return context.args;
}
