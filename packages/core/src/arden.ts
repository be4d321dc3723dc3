/**
 * The `Arden` class: one configuration, its connection pool and queues. It holds the state of
 * each concern and delegates the work to the module of that concern: checks and waiting
 * (`checks.ts`), guarded calls (`guard.ts`), webhook deliveries (`webhook-receiver.ts`), usage
 * (`usage.ts`) and outcome reports (`results.ts`).
 */

import { checkModelCall, type ModelCallRequest, type ModelCallReservation } from './budgets';
import type {
  AnyFunction,
  CallContext,
  CheckResult,
  DecidedCall,
  GuardOptions,
  HandledWebhook,
  HandleWebhookOptions,
  PendingApproval,
  WebhookHandlers,
} from './call-types';
import { PolicyChecks } from './checks';
import { guardWith, type HeldCalls, runGuardedCall } from './guard';
import { HttpClient } from './http';
import { toJsonSafe } from './json-safe';
import { type ArdenOptions, type ResolvedOptions, resolveOptions } from './options';
import { ResultQueue } from './results';
import { type TokenUsage, UsageQueue, type UsageStats } from './usage';
import { WebhookReceiver } from './webhook-receiver';
import type {
  McpToolsReportAnswer,
  McpToolsReportBody,
  ResultReportBody,
  StatusResponseBody,
} from './wire';

export type {
  ApprovalEvent,
  ApprovalMode,
  CallContext,
  CheckResult,
  GuardOptions,
  HandledWebhook,
  HandleWebhookOptions,
  PendingApproval,
  WebhookEvent,
  WebhookHandlers,
} from './call-types';
export { buildCallContext } from './checks';
export { guardedToolName, guardWith } from './guard';

/**
 * One Arden configuration: a client of the agent API with its own connection pool, usage queue
 * and webhook registry. Most apps use the module-level functions (`configure`, `guardTool`, …),
 * which share a default instance; create several with `createArden()` when you need several keys.
 */
export class Arden {
  /** The options after defaults and validation (the key is not logged anywhere). */
  readonly options: ResolvedOptions;
  private readonly http: HttpClient;
  private readonly checks: PolicyChecks;
  private readonly usage: UsageQueue;
  private readonly results: ResultQueue;
  private readonly webhooks: WebhookReceiver;
  private readonly background = new Set<Promise<unknown>>();
  private readonly heldCalls: HeldCalls = {
    track: (promise) => this.track(promise),
    hold: (actionId, call) => this.webhooks.hold(actionId, call),
  };

  constructor(options: ArdenOptions = {}) {
    this.options = resolveOptions(options);
    this.http = new HttpClient(this.options);
    this.checks = new PolicyChecks(this.http, this.options);
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
    this.webhooks = new WebhookReceiver(this.options, (actionId, fn, thisArgument, parameters) =>
      this.runAndReport(actionId, fn, thisArgument, parameters),
    );
  }

  /**
   * Reports the app's in-app decision on one of its held actions: its end user approved or
   * denied the call in the app's own UI (the AI SDK's tool approval, LangGraph's resume, the
   * Agents SDK's `state.approve`). Allowed when the policy says `approve_in: [dashboard, app]`;
   * `user` is the end user as the app knows them. Throws `ArdenApiError` (403 when the policy
   * does not allow it, 409 when the action was already decided).
   */
  async reportInAppDecision(
    actionId: string,
    decision: { decision: 'approve' | 'deny'; user: string; notes?: string },
  ): Promise<{
    status: 'pending' | 'approved' | 'denied';
    message: string | undefined;
    decidedIn: 'app' | undefined;
  }> {
    const response = await this.http.request<StatusResponseBody>(
      'POST',
      `/v1/actions/${encodeURIComponent(actionId)}/decision`,
      decision,
    );
    // Pending: the policy asks for more approvals than the end user's (approvals: 2).
    const status =
      response.status === 'approved' || response.status === 'denied' ? response.status : 'pending';
    return {
      status,
      message: response.message ?? undefined,
      decidedIn: response.decided_in === 'app' ? 'app' : undefined,
    };
  }

  /**
   * Claims the single run of an approved action, just before its tool runs: adapters that resume
   * an approval carried outside Arden (a framework's message history) call it, so that one
   * approval never runs two calls. Throws `ArdenApiError` (409 when the action already ran or its
   * run was claimed, or it cannot run; 404 when it is not this key's action) or
   * `ArdenUnavailableError`.
   */
  async claimRun(actionId: string): Promise<void> {
    await this.http.request<{ action_id: string; claimed: boolean }>(
      'POST',
      `/v1/actions/${encodeURIComponent(actionId)}/run`,
      {},
    );
  }

  /**
   * Gives up a held call (its client cancelled it): the action becomes `cancelled` in Arden, never
   * runs, and approving it afterwards is a 409. Throws `ArdenApiError` (409 when it was decided
   * or expired first, 404 when it is not this key's action) or `ArdenUnavailableError`.
   */
  async cancelHeld(actionId: string, reason?: string): Promise<void> {
    await this.http.request<StatusResponseBody>(
      'POST',
      `/v1/actions/${encodeURIComponent(actionId)}/cancel`,
      reason === undefined ? {} : { reason },
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
  check(
    toolName: string,
    context: CallContext,
    metadata: Record<string, unknown> = {},
  ): Promise<CheckResult> {
    return this.checks.check(toolName, context, metadata);
  }

  /**
   * Reports an MCP upstream's `tools/list` (the MCP gateway does, after each list): Arden records
   * the tools with their schemas and annotations and answers which ones a policy blocks for
   * every call. Throws like `check()`.
   */
  reportMcpTools(report: McpToolsReportBody): Promise<McpToolsReportAnswer> {
    return this.http.request<McpToolsReportAnswer>('POST', '/v1/mcp/tools', report);
  }

  /** Reads an action's status; with `waitSeconds` the server holds the request until decided. */
  status(actionId: string, waitSeconds?: number): Promise<StatusResponseBody> {
    return this.checks.status(actionId, waitSeconds);
  }

  /**
   * Waits until a held action is decided, by long-poll (`?wait=N`) or, against servers without
   * it, by polling every `pollIntervalMs`. Resolves with the final status; throws
   * `ApprovalTimeoutError` after `maxWaitMs`.
   */
  waitForDecision(
    actionId: string,
    toolName: string,
    maxWaitMs: number = this.options.maxWaitMs,
  ): Promise<DecidedCall> {
    return this.checks.waitForDecision(actionId, toolName, maxWaitMs);
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
  runGuarded(
    toolName: string,
    fn: AnyFunction,
    thisArgument: unknown,
    parameters: unknown[],
    options: GuardOptions<any>,
  ): Promise<unknown> {
    return runGuardedCall(this, this.heldCalls, toolName, fn, thisArgument, parameters, options);
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
    return this.webhooks.register(toolName, handlers);
  }

  /**
   * Verifies and dispatches one webhook delivery. Pass the raw body (string or bytes, before any
   * JSON parsing) and the request headers. Throws `WebhookVerificationError` (answer its
   * `statusCode`) when the signature, timestamp or body is wrong; otherwise runs the approved
   * call (or reports the denial) and resolves when its callbacks are done.
   */
  handleWebhook(
    body: string | Uint8Array,
    headers: Headers | Record<string, string | string[] | undefined>,
    options: HandleWebhookOptions = {},
  ): Promise<HandledWebhook> {
    return this.webhooks.handle(body, headers, options);
  }

  /**
   * Asks Arden before a model call: its estimated cost is reserved against the agent's budgets
   * (pass the `reservationId` to `logTokenUsage()` to settle it with the real usage), or the
   * call is refused with `BudgetExceededError`. See `docs/budgets.md`.
   */
  checkModelCall(request: ModelCallRequest): Promise<ModelCallReservation> {
    return checkModelCall(this.http, this.options, request);
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
