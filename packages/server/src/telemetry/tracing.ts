import { AsyncLocalStorage } from 'node:async_hooks';
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import type { Logger } from '../logger';

/** What the server's spans need of `@opentelemetry/api`, loaded only when tracing is on. */
type Api = typeof import('@opentelemetry/api');
type Provider = { forceFlush(): Promise<void>; shutdown(): Promise<void> };

const spanKindServer = 1;
const spanKindInternal = 0;
const statusError = 2;
/** Contexts of held actions remembered for their decision's and webhook's spans. */
const maxRememberedActions = 10_000;

/** Whether the standard OpenTelemetry variables ask for traces to be exported. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER !== undefined && env.OTEL_TRACES_EXPORTER !== 'otlp') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * The server's spans: one per agent-API request (a child of the caller's span when the request
 * carries a W3C `traceparent`), and inside it policy evaluation and the store commit; the
 * decision on a held action and its webhook delivery are children of the check that held it.
 *
 * Off (every method a plain pass-through) unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then the official SDK exports over OTLP/HTTP,
 * configured by the standard variables (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`,
 * `OTEL_EXPORTER_OTLP_HEADERS`…). The SDK is imported only then, and its provider is private to
 * this server (not registered globally), so an app that embeds the server keeps its own.
 */
export class ServerTracing {
  private readonly current = new AsyncLocalStorage<Context>();
  private readonly actions = new Map<string, Context>();

  private constructor(
    private readonly api: Api | undefined,
    private readonly tracer: Tracer | undefined,
    private readonly provider: Provider | undefined,
    private readonly extractor: ((headers: Record<string, unknown>) => Context) | undefined,
  ) {}

  /** Tracing off. */
  static off(): ServerTracing {
    return new ServerTracing(undefined, undefined, undefined, undefined);
  }

  /** Tracing as the environment asks; off when it does not. */
  static async fromEnvironment(
    env: NodeJS.ProcessEnv,
    logger: Logger,
    serverVersion: string,
  ): Promise<ServerTracing> {
    if (!tracingRequested(env)) return ServerTracing.off();
    const api = await import('@opentelemetry/api');
    const { TracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const { defaultResource, resourceFromAttributes } = await import('@opentelemetry/resources');
    const { W3CTraceContextPropagator } = await import('@opentelemetry/core');
    const provider = new TracerProvider({
      resource: defaultResource().merge(
        resourceFromAttributes({
          'service.name': env.OTEL_SERVICE_NAME ?? 'arden-server',
          'service.version': serverVersion,
        }),
      ),
      sampler: await samplerFromEnvironment(env),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
    });
    const propagator = new W3CTraceContextPropagator();
    const getter = {
      keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
      get: (carrier: Record<string, unknown>, key: string) =>
        carrier[key] as string | string[] | undefined,
    };
    logger.info('Exporting traces over OTLP/HTTP', {
      endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT,
    });
    return new ServerTracing(
      api,
      provider.getTracer('@arden/server', serverVersion),
      provider,
      (headers) => propagator.extract(api.ROOT_CONTEXT, headers, getter),
    );
  }

  /** Whether spans are recorded. */
  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /**
   * Runs a request's handler inside its server span, named by the route; the span ends when
   * the answer is sent (or the client goes away) with the answer's status.
   */
  request<T>(
    method: string,
    route: string,
    headers: Record<string, unknown>,
    response: { statusCode: number; once(event: 'close', listener: () => void): unknown },
    fn: () => T,
  ): T {
    if (!this.tracer || !this.api || !this.extractor) return fn();
    const parent = this.extractor(headers);
    const span = this.tracer.startSpan(
      `${method} ${route}`,
      {
        kind: spanKindServer,
        attributes: { 'http.request.method': method, 'http.route': route },
      },
      parent,
    );
    response.once('close', () => {
      span.setAttribute('http.response.status_code', response.statusCode);
      if (response.statusCode >= 500) span.setStatus({ code: statusError });
      span.end();
    });
    return this.current.run(this.api.trace.setSpan(parent, span), fn);
  }

  /** Adds attributes to the current request's span. */
  annotate(attributes: Attributes): void {
    if (!this.api) return;
    const context = this.current.getStore();
    if (context) this.api.trace.getSpan(context)?.setAttributes(attributes);
  }

  /**
   * Runs `fn` in a child span of the current request; without a traced request around it, just
   * runs `fn` (work outside requests is not traced piecemeal).
   */
  async inSpan<T>(
    name: string,
    fn: () => Promise<T>,
    attributes?: (value: T) => Attributes,
  ): Promise<T> {
    const parent = this.current.getStore();
    if (!this.tracer || !this.api || !parent) return fn();
    return this.spanUnder(parent, name, fn, attributes);
  }

  /** Remembers the current request's context as the parent of an action's later spans. */
  rememberAction(actionId: string): void {
    const context = this.current.getStore();
    if (!context) return;
    if (this.actions.size >= maxRememberedActions) {
      const oldest = this.actions.keys().next().value;
      if (oldest !== undefined) this.actions.delete(oldest);
    }
    this.actions.set(actionId, context);
  }

  /**
   * Runs `fn` in a span that is a child of the check that held `actionId` when this server
   * remembers it (same process, recent), else of the current request, else a root span.
   */
  async forAction<T>(
    actionId: string,
    name: string,
    fn: () => Promise<T>,
    attributes?: (value: T) => Attributes,
    forget = false,
  ): Promise<T> {
    if (!this.tracer || !this.api) return fn();
    const remembered = this.actions.get(actionId);
    if (forget) this.actions.delete(actionId);
    const parent = remembered ?? this.current.getStore() ?? this.api.ROOT_CONTEXT;
    return this.spanUnder(parent, name, fn, (value) => ({
      'arden.action_id': actionId,
      ...(attributes?.(value) ?? {}),
    }));
  }

  private async spanUnder<T>(
    parent: Context,
    name: string,
    fn: () => Promise<T>,
    attributes?: (value: T) => Attributes,
  ): Promise<T> {
    const api = this.api as Api;
    const span: Span = (this.tracer as Tracer).startSpan(name, { kind: spanKindInternal }, parent);
    try {
      const value = await this.current.run(api.trace.setSpan(parent, span), fn);
      if (attributes) span.setAttributes(attributes(value));
      return value;
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({
        code: statusError,
        message: error instanceof Error ? error.message : String(error),
      });
      throw error;
    } finally {
      span.end();
    }
  }

  /** Sends the spans not yet exported. */
  async flush(): Promise<void> {
    await this.provider?.forceFlush().catch(() => undefined);
  }

  /** Exports what is left and stops. */
  async close(): Promise<void> {
    await this.provider?.shutdown().catch(() => undefined);
  }
}

/** The sampler of `OTEL_TRACES_SAMPLER` (default `parentbased_always_on`). */
async function samplerFromEnvironment(env: NodeJS.ProcessEnv) {
  const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } =
    await import('@opentelemetry/sdk-trace');
  const ratio = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  const ratioSampler = new TraceIdRatioBasedSampler(
    Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 1,
  );
  switch (env.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratioSampler;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratioSampler });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
