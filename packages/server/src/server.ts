import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadShellParser, PolicyCompileError, shellParserSettled } from '@arden/policy';
import { type AdminOptions, mountAdmin } from './admin/mount';
import { registerAgentRoutes } from './agent/routes';
import { AgentService } from './agents/service';
import { ApprovalHub } from './approvals/hub';
import { ApprovalService } from './approvals/service';
import { AuditService } from './audit/service';
import { BudgetService } from './budgets/service';
import { registerChannelRoutes } from './channels/routes';
import type { SecretBox } from './channels/secrets';
import { ChannelService } from './channels/service';
import { ChannelWorker } from './channels/worker';
import { type ResolvedConfig, resolveConfig, type ServerConfig } from './config';
import type { ServerContext } from './context';
import {
  ArdenServerError,
  PayloadTooLargeError,
  RateLimitedError,
  StoreUnavailableError,
} from './errors';
import { LiveEvents } from './events/service';
import { registerClaudeCodeHookRoutes } from './hooks/claude-code-endpoint';
import { answerClientErrors, capConnections, isRefusedSocket } from './http/connections';
import { ClientGoneError, sendError, setBodyTimeout } from './http/respond';
import { type RequestContext, Router } from './http/router';
import { randomHex } from './ids';
import { createLogger } from './logger';
import { closeMcpHttpGateway } from './mcp/agent-routes';
import { McpService } from './mcp/service';
import { MemoryService } from './memory/service';
import { PolicyService } from './policies/service';
import { loadPricing, Pricing } from './pricing';
import { registerReceiptRoutes } from './receipts/routes';
import { openReceipts } from './receipts/setup';
import { connectReplicas } from './replicas/replicas';
import { describeRetention, RetentionService } from './retention/service';
import { SensitiveArguments } from './sensitive/service';
import { openStore } from './store';
import { registerMetricsRoute } from './telemetry/routes';
import { Telemetry } from './telemetry/service';
import { UsageService } from './usage/service';
import { createWebhookSender } from './webhooks/sender';
import { WebhookService } from './webhooks/service';

/** A running (or ready to run) Arden server. */
export interface ArdenServer extends ServerContext {
  /** Starts listening; resolves with the base URL (`http://127.0.0.1:8787`). */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Stops gracefully: stops accepting connections, answers waiting long-polls, lets in-flight
   * requests finish (up to `shutdownTimeoutMs`), commits queued writes, stops the workers and
   * closes the store. Safe to call twice.
   */
  close(): Promise<void>;
  /** The base URL once listening, else undefined. */
  readonly url: string | undefined;
  /** The retention job (deletes data older than `retentionDays`). */
  readonly retention: RetentionService;
}

const emptyQuery = new URLSearchParams();

/** What the HTTP server calls for each request. */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

const handlers = new WeakMap<ArdenServer, RequestHandler>();

/**
 * The request handler of a server made by `createServer()`, to call without a port: tests pass
 * it an in-process request (`test-fixtures/in-process.ts`), as hono's `app.request()` does. Not
 * part of the public API.
 */
export function requestHandlerOf(server: ArdenServer): RequestHandler {
  const handler = handlers.get(server);
  if (!handler) throw new Error('Not a server made by createServer()');
  return handler;
}

declare const __ARDEN_VERSION__: string | undefined;
const serverVersion = typeof __ARDEN_VERSION__ === 'string' ? __ARDEN_VERSION__ : '0.0.0-dev';

/**
 * Creates the Arden server on the embedded store (opened and migrated under `dataDir`), with the
 * agent API, the expiry sweeper and the webhook outbox worker. Call `listen()` to serve.
 */
export async function createServer(
  options: ServerConfig & { admin?: AdminOptions } = {},
): Promise<ArdenServer> {
  const config: ResolvedConfig = resolveConfig(options);
  const logger = options.logger ?? createLogger(config.logLevel);
  // The shell parser of `shell.commands` (WebAssembly, 60–80 ms to load and warm up, once per
  // process) loads while the store opens, and `listen()` waits for it: no check, and no save of
  // a set that uses it, pays for the load. A failure to load is not fatal here: `shell.commands`
  // is then an evaluation error (decided by the policy's on_error, never allowed).
  loadShellParser().catch((error: unknown) => {
    logger.error('The shell parser could not be loaded: shell.commands conditions will err', {
      error: error instanceof Error ? error.message : String(error),
    });
  });
  const clock = options.clock ?? Date.now;
  const pricing = new Pricing(loadPricing(config.pricingFile));
  const store = await openStore({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    logger,
    backgroundCheckpoints: true,
  });
  const telemetry = await Telemetry.create(store, logger, serverVersion);
  const router = new Router();
  const events = new LiveEvents(logger);
  const hub = new ApprovalHub();
  const webhooks = new WebhookService(store, events, logger, {
    clock,
    ...config.webhooks,
    send: telemetry.webhookSender(
      config.webhooks.send ??
        createWebhookSender({
          allowPrivate: config.webhooks.allowPrivate,
          allowedHosts: config.webhooks.allowedHosts,
        }),
    ),
  });
  const policies = new PolicyService(store, logger, { clock });
  const budgets = new BudgetService(store, pricing, clock, logger);
  budgets.followDecisions(events);
  let receipts: Awaited<ReturnType<typeof openReceipts>>;
  try {
    receipts = await openReceipts(store, config, logger, clock);
  } catch (error) {
    await store.close();
    throw error;
  }
  const audit = new AuditService(store, receipts, logger, { clock, ...config.receipts });
  // The secrets box is the channel service's (one key for every secret); it opens below.
  const sensitive: SensitiveArguments = new SensitiveArguments(
    store,
    (): SecretBox => channels.secrets,
    logger,
    clock,
  );
  webhooks.unmaskWith(sensitive);
  const approvals = new ApprovalService(store, hub, events, webhooks, logger, {
    clock,
    telemetry,
    receipts,
    policies,
    sensitive,
  });
  const channels: ChannelService = new ChannelService(store, approvals, logger, {
    ...options.channels,
    dataDir: config.dataDir,
    clock,
    policies,
  });
  const channelWorker = new ChannelWorker(
    store,
    channels,
    approvals,
    events,
    logger,
    clock,
    config.webhooks,
  );
  const context: ServerContext = {
    config,
    logger,
    store,
    router,
    hub,
    events,
    agents: new AgentService(store, logger, { clock, webhookPolicy: config.webhooks }),
    policies,
    approvals,
    webhooks,
    usage: new UsageService(store, pricing, events, { clock, budgets }),
    mcp: new McpService(store, policies, clock, { events, logger }),
    memory: new MemoryService({
      store,
      policies,
      events,
      logger,
      budgets,
      sessionCache: config.sessionCache,
    }),
    telemetry,
    budgets,
    receipts,
    audit,
    channels,
    channelWorker,
    sensitive,
    clock,
  };
  const stopListening = await connectReplicas(context, config.replicas);
  registerAgentRoutes(context);
  registerReceiptRoutes(context);
  registerClaudeCodeHookRoutes(context);
  registerChannelRoutes(context);
  const admin = mountAdmin(context, options.admin);
  registerMetricsRoute(context, admin.services?.auth);
  for (const plugin of options.plugins ?? []) await plugin(context);

  const bootId = randomHex(3);
  let requestCounter = 0;
  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | undefined;
  const debug = config.logLevel === 'debug';

  let lastUnavailableLog = 0;
  const fail = (requestContext: RequestContext, error: unknown) => {
    const { response } = requestContext;
    if (error instanceof ClientGoneError) {
      response.destroy();
      return;
    }
    if (error instanceof StoreUnavailableError) {
      // Fail closed, clearly, and say when to come back; logged once a second at most.
      const now = Date.now();
      if (now - lastUnavailableLog > 1_000) {
        lastUnavailableLog = now;
        // The caller's answer names nothing about the database; the log says where and why
        // (credentials hidden).
        requestContext.logger.warn('The database is unreachable; answering 503', {
          database: error.location,
          error: error.detail,
        });
      }
      sendError(response, 503, error.message, {}, { 'retry-after': error.retryAfterSeconds });
      return;
    }
    if (ArdenServerError.isInstance(error) && error.code === 'read_timeout') {
      // An admin read past its budget (src/reads): the message says to narrow the request.
      sendError(response, 503, error.message, { code: error.code });
      return;
    }
    if (ArdenServerError.isInstance(error) && error.status < 500) {
      const headers: Record<string, string | number> = {};
      if (error instanceof RateLimitedError) headers['retry-after'] = error.retryAfterSeconds;
      if (error.status === 413 || error.status === 408) headers.connection = 'close';
      const field = (error as { field?: string }).field;
      const extra: Record<string, unknown> = field ? { field } : {};
      if (error instanceof PayloadTooLargeError) {
        Object.assign(extra, { code: error.code, limit: error.limit, setting: error.setting });
      }
      sendError(response, error.status, error.message, extra, headers);
      // The rest of a body that timed out is not waited for.
      if (error.status === 408) response.once('finish', () => requestContext.request.destroy());
      return;
    }
    if (PolicyCompileError.isInstance(error)) {
      sendError(response, 400, error.message, { issues: error.issues });
      return;
    }
    requestContext.logger.error('Request failed', {
      method: requestContext.method,
      path: requestContext.path,
      error,
      stack: error instanceof Error ? error.stack : undefined,
    });
    sendError(
      response,
      500,
      `Internal server error (request ${requestContext.requestId}); the details are in the server log. Retry the request; if it keeps failing, report it with the request id.`,
    );
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (isRefusedSocket(request.socket)) {
      response.destroy();
      return;
    }
    setBodyTimeout(request, config.unauthenticatedBodyTimeoutMs);
    inFlight++;
    const started = debug ? performance.now() : 0;
    const url = request.url ?? '/';
    const queryStart = url.indexOf('?');
    let controller: AbortController | undefined;
    const requestContext: RequestContext = {
      request,
      response,
      method: request.method ?? 'GET',
      path: queryStart === -1 ? url : url.slice(0, queryStart),
      params: {},
      query: queryStart === -1 ? emptyQuery : new URLSearchParams(url.slice(queryStart + 1)),
      get signal() {
        if (!controller) {
          const created = new AbortController();
          controller = created;
          response.once('close', () => {
            if (!response.writableFinished) created.abort();
          });
        }
        return controller.signal;
      },
      logger,
      requestId: `${bootId}-${(++requestCounter).toString(36)}`,
    };
    if (closing) response.setHeader('connection', 'close');
    try {
      const match = router.match(requestContext.method, requestContext.path);
      if (match.kind === 'found') {
        requestContext.params = match.params;
        // Agent-API requests are traced (the admin API's decisions are, as their own spans).
        await (match.pattern.startsWith('/api/')
          ? match.handler(requestContext)
          : telemetry.tracing.request(
              requestContext.method,
              match.pattern,
              request.headers,
              response,
              () => match.handler(requestContext),
            ));
        if (!response.headersSent && !response.destroyed) {
          throw new Error(
            `The route ${requestContext.method} ${requestContext.path} sent no answer`,
          );
        }
      } else if (match.kind === 'method') {
        sendError(
          response,
          405,
          `${requestContext.method} is not allowed on ${requestContext.path.slice(0, 200)}; use ${match.allowed.join(' or ')}.`,
          {},
          { allow: match.allowed.join(', ') },
        );
      } else if (!admin.fallback(requestContext)) {
        sendError(
          response,
          404,
          `No route ${requestContext.method} ${requestContext.path.slice(0, 200)}. The agent API has POST /policy/check, GET /status/{action_id}, POST /token-usage and POST /v1/actions/{action_id}/result.`,
        );
      }
    } catch (error) {
      fail(requestContext, error);
    } finally {
      inFlight--;
      if (debug) {
        logger.debug('request', {
          requestId: requestContext.requestId,
          method: requestContext.method,
          path: requestContext.path,
          status: response.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
        });
      }
      if (closing && inFlight === 0) drained?.();
    }
  };

  const httpServer = createHttpServer(
    {
      keepAliveTimeout: 5_000,
      headersTimeout: config.headersTimeoutMs,
      // A backstop for bodies no route reads; routes cut slow bodies sooner (readBody).
      requestTimeout: config.headersTimeoutMs + config.bodyTimeoutMs,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs),
    },
    (request, response) => {
      void handle(request, response);
    },
  );
  capConnections(httpServer, config, logger);
  answerClientErrors(httpServer);

  const keyUseTimer = setInterval(() => void context.agents.flushKeyUse(), 30_000);
  keyUseTimer.unref();
  const retention = new RetentionService(store, logger, {
    clock,
    ...config.retention,
    beforePurge: (cutoff) => audit.prune(cutoff),
  });
  if (config.workers) {
    if (receipts.enabled) audit.start();
    context.approvals.startSweeper(config.sweepIntervalMs);
    budgets.startSweeper(config.sweepIntervalMs);
    webhooks.start();
    channelWorker.start();
    retention.start();
  }

  let url: string | undefined;
  let closed: Promise<void> | undefined;

  const close = async () => {
    closing = true;
    const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeIdleConnections();
    hub.close();
    admin.close();
    await closeMcpHttpGateway(context);
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, config.shutdownTimeoutMs).unref();
      });
    }
    httpServer.closeAllConnections();
    await stopped;
    clearInterval(keyUseTimer);
    await context.approvals.stopSweeper();
    await budgets.stop();
    await webhooks.stop();
    await channelWorker.stop();
    await retention.stop();
    await admin.closeReads();
    await audit.stop();
    await context.agents.flushKeyUse();
    stopListening();
    await store.close();
    await telemetry.close();
    logger.info('Arden server stopped');
  };

  const server: ArdenServer = {
    ...context,
    retention,
    get url() {
      return url;
    },
    listen: async (port = config.port, host = config.host) => {
      await shellParserSettled();
      return new Promise<string>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        httpServer.once('error', onError);
        httpServer.listen(port, host, () => {
          httpServer.off('error', onError);
          const address = httpServer.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          url = `http://${shownHost}:${address.port}`;
          channels.listeningUrl = url;
          logger.info('Arden server listening', {
            url,
            store: store.database.location,
            retention: describeRetention(retention.days),
          });
          resolve(url);
        });
      });
    },
    close: () => {
      closed ??= close();
      return closed;
    },
  };
  handlers.set(server, (request, response) => {
    void handle(request, response);
  });
  return server;
}
