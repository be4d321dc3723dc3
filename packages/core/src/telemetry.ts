/**
 * OpenTelemetry spans of checks and guarded calls, when the app uses OpenTelemetry.
 *
 * `@opentelemetry/api` is an optional peer: core never imports it on load. A process that has
 * registered a tracer provider with the OpenTelemetry API has it in the API's global registry on
 * `globalThis`; only then is the package imported, once, lazily. Without one a check pays two
 * property reads. Tracing never changes a decision: any fault in it is
 * swallowed and the call goes on untraced.
 */
import type { CheckResult } from './call-types';
import { version } from './version';

// The key under which @opentelemetry/api 1.x keeps its globals (api/src/internal/global-utils.ts).
const registryKey = Symbol.for('opentelemetry.js.api.1');

// The few parts of @opentelemetry/api that are used, typed here so that core's types do not
// depend on the optional package.
interface OtelContext {
  readonly _brand?: unknown;
}
interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: { serialize(): string };
}
/** @internal The span operations core uses. */
export interface OtelSpan {
  spanContext(): OtelSpanContext;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setAttributes(attributes: Record<string, string | number | boolean>): unknown;
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: unknown): unknown;
  end(): void;
  isRecording(): boolean;
}
interface OtelApi {
  trace: {
    getTracer(
      name: string,
      version?: string,
    ): {
      startSpan(
        name: string,
        options: { kind: number; attributes?: Record<string, string | number | boolean> },
        context?: OtelContext,
      ): OtelSpan;
    };
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
    getSpan(context: OtelContext): OtelSpan | undefined;
  };
  context: {
    active(): OtelContext;
    with<T>(context: OtelContext, fn: () => T): T;
  };
}

const spanKindInternal = 0;
const spanKindClient = 2;
const statusError = 2;

let loaded: OtelApi | null | undefined;
let loading: Promise<OtelApi | null> | undefined;

/**
 * The OpenTelemetry API when the app uses it, else undefined (at the cost of one property read).
 * The first call in a process that uses it imports the package.
 */
export function openTelemetry(): OtelApi | undefined | Promise<OtelApi | null> {
  if (!tracingOn()) return undefined;
  if (loaded) return loaded;
  loading ??= import('@opentelemetry/api').then(
    (module) => {
      loaded = ((module as { default?: OtelApi }).default ?? module) as unknown as OtelApi;
      return loaded;
    },
    () => {
      // The registry exists but the package cannot be loaded from here (a bundle without it):
      // trace nothing rather than fail the call.
      loaded = null;
      return null;
    },
  );
  return loading;
}

/** Whether the app uses OpenTelemetry (one property read when it does not). */
export function tracingOn(): boolean {
  if (loaded === null) return false;
  // A tracer provider registered (`trace.setGlobalTracerProvider`, or an SDK's `start()`); the
  // registry itself stays once anything touched it, even after `trace.disable()`.
  const registry = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[registryKey];
  return registry?.trace !== undefined;
}

/** Resolves the API, awaiting the one-time import only when the app uses OpenTelemetry. */
export async function tracingApi(): Promise<OtelApi | undefined> {
  const api = openTelemetry();
  if (api === undefined) return undefined;
  return (await api) ?? undefined;
}

const tracerName = '@arden/core';

/** @internal A guarded call traced as a GenAI `execute_tool` span. */
export interface ToolSpan {
  span: OtelSpan;
  /** Runs `fn` with the span as the active one, so the check inside is its child. */
  within<T>(fn: () => T): T;
}

/** Starts the `execute_tool` span of a guarded call, or undefined when tracing is off. */
export async function startToolSpan(
  toolName: string,
  metadata: Record<string, unknown> | undefined,
): Promise<ToolSpan | undefined> {
  const api = await tracingApi();
  if (!api) return undefined;
  try {
    const attributes: Record<string, string> = {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': toolName,
    };
    const callId = metadata?.tool_call_id;
    if (typeof callId === 'string') attributes['gen_ai.tool.call.id'] = callId;
    const parent = api.context.active();
    const span = api.trace
      .getTracer(tracerName, version)
      .startSpan(`execute_tool ${toolName}`, { kind: spanKindInternal, attributes }, parent);
    const active = api.trace.setSpan(parent, span);
    return { span, within: (fn) => api.context.with(active, fn) };
  } catch {
    return undefined;
  }
}

/** @internal The `arden.check` client span around one `/policy/check` request. */
export interface CheckSpan {
  span: OtelSpan;
  /** The W3C `traceparent` (and `tracestate`) headers that make the server's spans its children. */
  headers: Record<string, string>;
}

/** Starts the client span of one check, or undefined when tracing is off. */
export async function startCheckSpan(
  toolName: string,
  metadata: Record<string, unknown>,
): Promise<CheckSpan | undefined> {
  const api = await tracingApi();
  if (!api) return undefined;
  try {
    const attributes: Record<string, string> = {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': toolName,
    };
    const callId = metadata.tool_call_id;
    if (typeof callId === 'string') attributes['gen_ai.tool.call.id'] = callId;
    const span = api.trace
      .getTracer(tracerName, version)
      .startSpan('arden.check', { kind: spanKindClient, attributes }, api.context.active());
    return { span, headers: traceHeaders(span) };
  } catch {
    return undefined;
  }
}

/** The W3C trace-context headers of a span (https://www.w3.org/TR/trace-context/). */
export function traceHeaders(span: OtelSpan): Record<string, string> {
  const context = span.spanContext();
  // A span of the API's no-op tracer (no provider registered) has no trace to join.
  if (/^0+$/.test(context.traceId)) return {};
  const flags = (context.traceFlags & 0xff).toString(16).padStart(2, '0');
  const headers: Record<string, string> = {
    traceparent: `00-${context.traceId}-${context.spanId}-${flags}`,
  };
  const state = context.traceState?.serialize();
  if (state) headers.tracestate = state;
  return headers;
}

/**
 * The trace-context headers of the active span (the `execute_tool` span of a held call while it
 * waits), so the server's status requests join its trace; undefined when there is none.
 */
export function activeTraceHeaders(): Record<string, string> | undefined {
  if (!loaded) return undefined;
  try {
    const span = loaded.trace.getSpan(loaded.context.active());
    return span ? traceHeaders(span) : undefined;
  } catch {
    return undefined;
  }
}

/** Records a decision's attributes on a span; a block sets the error status. */
export function recordDecision(span: OtelSpan, result: CheckResult): void {
  try {
    const attributes: Record<string, string | number> = {
      'arden.decision': result.decision,
      'arden.action_id': result.actionId,
    };
    const policy = result.policy as { name?: unknown; rule_index?: unknown } | undefined | null;
    if (policy && typeof policy.name === 'string') attributes['arden.policy'] = policy.name;
    if (policy && typeof policy.rule_index === 'number')
      attributes['arden.rule'] = policy.rule_index;
    if (result.reason) attributes['arden.reason'] = result.reason;
    span.setAttributes(attributes);
    if (result.decision === 'block') {
      span.setStatus({ code: statusError, message: result.message ?? 'blocked by policy' });
    }
  } catch {
    // Tracing never changes the call.
  }
}

/** Records the end of a held call's wait: an event, the wait time and, for a denial, the status. */
export function recordApproval(
  span: OtelSpan,
  status: 'approved' | 'denied' | 'timeout',
  waitMs: number,
  message?: string,
): void {
  try {
    const waited = Math.round(waitMs);
    span.setAttribute('arden.approval.wait_ms', waited);
    span.addEvent('arden.approval.decided', {
      'arden.approval.status': status,
      'arden.approval.wait_ms': waited,
    });
    if (status !== 'approved') {
      span.setStatus({
        code: statusError,
        message: message ?? (status === 'timeout' ? 'approval timed out' : 'denied by approver'),
      });
    }
  } catch {
    // Tracing never changes the call.
  }
}

/** Marks a span failed by `error` and ends it. */
export function endWithError(span: OtelSpan, error: unknown): void {
  try {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: statusError,
      message: error instanceof Error ? error.message : String(error),
    });
    span.end();
  } catch {
    // Tracing never changes the call.
  }
}

/** Ends a span, ignoring any fault of the tracer. */
export function endSpan(span: OtelSpan): void {
  try {
    span.end();
  } catch {
    // Tracing never changes the call.
  }
}
