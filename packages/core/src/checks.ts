/**
 * Checks: what a call looks like to the policy engine, the `/policy/check` request and its
 * answer, and waiting for the decision on a held call (long-poll, or polling against servers
 * without it).
 */
import type { CallContext, CheckResult, DecidedCall } from './call-types';
import { ApprovalTimeoutError, ArdenApiError } from './errors';
import type { HttpClient } from './http';
import { isPlainObject, type JsonValue, stringifyWire, toWireSafe } from './json-safe';
import { parseExactJson } from './mcp-exact-json';
import type { ResolvedOptions } from './options';
import { sleep } from './runtime';
import { getSession } from './session';
import {
  activeTraceHeaders,
  endSpan,
  endWithError,
  recordDecision,
  startCheckSpan,
  tracingOn,
} from './telemetry';
import {
  type CheckRequestBody,
  type CheckResponseBody,
  DECISIONS,
  type StatusResponseBody,
} from './wire';

const longPollSeconds = 30;

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
 * @internal The check and status requests of one Arden instance, with what they learn on the
 * way: whether the server long-polls, and which misnamed tools were already warned about.
 */
export class PolicyChecks {
  private longPollSupported = true;
  private readonly namesWarnedAbout = new Set<string>();

  constructor(
    private readonly http: HttpClient,
    private readonly options: ResolvedOptions,
  ) {}

  /**
   * See `Arden.check`. When the app uses OpenTelemetry, the request is an `arden.check` client
   * span and carries its W3C `traceparent`, so the server's spans join the caller's trace.
   */
  async check(
    toolName: string,
    context: CallContext,
    metadata: Record<string, unknown>,
  ): Promise<CheckResult> {
    if (!tracingOn()) return this.checkOnce(toolName, context, metadata, undefined);
    const checkSpan = await startCheckSpan(toolName, metadata);
    if (!checkSpan) return this.checkOnce(toolName, context, metadata, undefined);
    try {
      const result = await this.checkOnce(toolName, context, metadata, checkSpan.headers);
      recordDecision(checkSpan.span, result);
      endSpan(checkSpan.span);
      return result;
    } catch (error) {
      endWithError(checkSpan.span, error);
      throw error;
    }
  }

  private async checkOnce(
    toolName: string,
    context: CallContext,
    metadata: Record<string, unknown>,
    traceHeaders: Record<string, string> | undefined,
  ): Promise<CheckResult> {
    const sessionId = getSession();
    const body: CheckRequestBody = {
      tool_name: toolName,
      args: context.args,
      kwargs: context.kwargs,
      metadata: sessionId === undefined ? { ...metadata } : { ...metadata, session_id: sessionId },
    };
    const response = await this.http.request<CheckResponseBody>(
      'POST',
      '/policy/check',
      body,
      traceHeaders ? { headers: traceHeaders } : undefined,
    );
    if (
      !response ||
      typeof response.action_id !== 'string' ||
      !(DECISIONS as readonly string[]).includes(response.decision)
    ) {
      // The server was reached and answered, but not with a decision this client knows (a
      // future value such as "maybe", or no decision at all): the call is refused. Not
      // ArdenUnavailableError, which `onUnavailable: 'allow'` would run unchecked: that option
      // is for a server that cannot be reached, never for an answer that is not understood.
      const decision =
        response && typeof response.decision === 'string'
          ? `the decision "${String(response.decision).slice(0, 40)}", which this client does not know (it knows ${DECISIONS.join(', ')}); update @arden/core`
          : 'no valid decision and action_id. Is ARDEN_API_URL pointing at an Arden server?';
      throw new ArdenApiError({
        statusCode: 200,
        path: '/policy/check',
        detail: `for "${toolName}" with ${decision}. The call did not run, whatever onUnavailable says`,
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
      receipt: typeof response.receipt === 'string' ? response.receipt : undefined,
    };
  }

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

  /** See `Arden.status`. */
  async status(actionId: string, waitSeconds?: number): Promise<StatusResponseBody> {
    // capabilities=edits: this client runs arguments an approver edited (approve with edit); a
    // client without it (ardenpy) reads such an approval as a denial.
    const path = `/status/${encodeURIComponent(actionId)}?${waitSeconds ? `wait=${waitSeconds}&` : ''}capabilities=edits`;
    const headers = tracingOn() ? activeTraceHeaders() : undefined;
    return this.http.request<StatusResponseBody>('GET', path, undefined, {
      timeoutMs: this.options.timeoutMs + (waitSeconds ?? 0) * 1000,
      ...(headers ? { headers } : {}),
    });
  }

  /** See `Arden.waitForDecision`. */
  async waitForDecision(
    actionId: string,
    toolName: string,
    maxWaitMs: number,
  ): Promise<DecidedCall> {
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
        return decidedCall(response);
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
}

/** @internal The decision of a status answer, with the edited call when there is one. */
export function decidedCall(response: StatusResponseBody): DecidedCall {
  const decided: DecidedCall = {
    status: response.status === 'approved' ? 'approved' : 'denied',
    message: response.message ?? undefined,
  };
  if (typeof response.receipt === 'string') decided.receipt = response.receipt;
  const edited = response.edited;
  if (response.status === 'approved' && edited && typeof edited === 'object') {
    // The arguments to run are read from the edited call's text (the one the receipt binds), not
    // from a plain parse of the answer: integers beyond 2^53 become BigInts (as guardTool's input
    // holds them), 1.0 and -0 stay what the text says. A text that cannot be read exactly here (a
    // number beyond a double, or a big integer on a Node.js without source text access) is not
    // run with something else: the call is refused.
    const text =
      typeof edited.kwargs_json === 'string'
        ? edited.kwargs_json
        : edited.kwargs !== null && typeof edited.kwargs === 'object'
          ? stringifyWire(edited.kwargs)
          : undefined;
    let kwargs: unknown;
    let failure: string | undefined;
    try {
      kwargs = text === undefined ? undefined : parseExactJson(text);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    if (failure === undefined && !isPlainObject(kwargs)) {
      failure = 'the edited arguments are not an object of keyword arguments';
    }
    if (failure !== undefined) {
      return {
        status: 'denied',
        message: `An approver approved the call with changed arguments, but they cannot be run exactly as approved, so the tool did not run: ${failure}`,
      };
    }
    decided.edited = {
      kwargs: kwargs as Record<string, unknown>,
      kwargsJson: text as string,
      patch: Array.isArray(edited.patch) ? edited.patch : [],
      editedBy: edited.edited_by ?? undefined,
      message:
        response.message ??
        `An approver changed the arguments before approving; the tool ran with ${text}.`,
    };
  }
  if (response.decided_in === 'app') decided.decidedIn = 'app';
  return decided;
}
