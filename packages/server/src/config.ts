import type { ChannelOptions } from './channels/service';
import type { ResolvedConfig, ServerContext } from './context';
import { ValidationError } from './errors';
import { isLogLevel, type Logger, type LogLevel } from './logger';
import type { SessionCacheLimits } from './memory/session-cache';
import type { ReceiptOptions } from './receipts/service';
import type { ReplicaOptions } from './replicas/replicas';
import type { RetentionOptions } from './retention/service';
import type { WebhookOptions } from './webhooks/service';
import { parseAllowedHosts } from './webhooks/ssrf';

/**
 * A plug-in: runs once at start-up with the server's context, and may add routes to
 * `context.router` and subscribe to `context.events` (the admin API and the dashboard do).
 */
export type ServerPlugin = (context: ServerContext) => void | Promise<void>;

export type { ResolvedConfig } from './context';

/** Options of `createServer()`. Unset options come from the environment, then the defaults. */
export interface ServerConfig {
  /** TCP port (`ARDEN_PORT`, `PORT`; default 8787; 0 picks a free port). */
  port?: number;
  /** Interface to listen on (`ARDEN_HOST`; default 127.0.0.1). */
  host?: string;
  /** Directory of the embedded store (`ARDEN_DATA_DIR`; default `./.arden`). */
  dataDir?: string;
  /** `DATABASE_URL`: a SQLite path or `file:` URL (PostgreSQL is planned). */
  databaseUrl?: string;
  /** Largest request body in bytes, or `"1mb"`/`"512kb"` (`ARDEN_BODY_LIMIT`; default 1 MiB). */
  bodyLimit?: number | string;
  /**
   * Largest tool-call check (`POST /policy/check`) in bytes, or `"256kb"`
   * (`ARDEN_CHECK_BODY_LIMIT`; default 256 KiB, or `bodyLimit` when that is smaller). Above the
   * default a check may hold the server longer.
   */
  checkBodyLimit?: number | string;
  /**
   * Most JSON values in one tool-call check (`ARDEN_CHECK_VALUE_LIMIT`; default
   * `defaultCheckValueLimit`): every number, string, boolean, null, array and object counts one.
   * A check's cost grows with its number of values more than with its bytes; a check over it
   * is refused with a 413 and must not run.
   */
  checkValueLimit?: number;
  /**
   * The HTTP MCP gateway (`/mcp/<name>`): how long an upstream may take to answer a request
   * before the client gets an error and the request is cancelled upstream, in seconds
   * (`ARDEN_MCP_UPSTREAM_TIMEOUT`; default 0: none, the client's own timeout applies) — the
   * stdio gateway's `--upstream-timeout`.
   */
  mcpUpstreamTimeoutSeconds?: number;
  /**
   * The HTTP MCP gateway: the longest message an upstream may send, in bytes or `"16mb"`
   * (`ARDEN_MCP_MAX_MESSAGE_BYTES`; default 16 MiB) — the stdio gateway's `--max-message-bytes`.
   * An answer over it is dropped without being held whole, and its request answered with an error.
   */
  mcpMaxMessageBytes?: number | string;
  /** A JSON pricing file laid over the shipped table (`ARDEN_PRICING_FILE`). */
  pricingFile?: string;
  /** `debug`, `info` (default), `warn`, `error` or `silent` (`ARDEN_LOG_LEVEL`). */
  logLevel?: LogLevel;
  /** A logger to use instead of JSON lines on stderr. */
  logger?: Logger;
  /** Approval window when a policy sets no `timeout`, in seconds (`ARDEN_APPROVAL_TIMEOUT`; default 3 600). */
  approvalTimeoutSeconds?: number;
  /** Longest approval window a policy may set, in seconds (default 7 days). */
  maxApprovalTimeoutSeconds?: number;
  /** Requests per second per API key, 0 for no limit (`ARDEN_RATE_LIMIT`; default 0). */
  rateLimit?: number;
  /** How often overdue approvals are expired, in ms (default 1 000). */
  sweepIntervalMs?: number;
  /**
   * Webhook worker settings (time limit, retry schedule, lease, which addresses may be reached:
   * `allowPrivate` from `ARDEN_WEBHOOK_ALLOW_PRIVATE`, `allowedHosts` from
   * `ARDEN_WEBHOOK_ALLOWED_HOSTS`).
   */
  webhooks?: WebhookOptions;
  /** Notification channels: public URL, Slack API URL, secrets key, outbox timing. */
  channels?: ChannelOptions;
  /** How long `close()` waits for in-flight requests, in ms (default 10 000). */
  shutdownTimeoutMs?: number;
  /**
   * Open connections at once, over all clients (`ARDEN_MAX_CONNECTIONS`; default 1 000; 0 for
   * no cap). At the cap the oldest connection that has not sent a whole request head yet is
   * closed to make room; when there is none, a new connection gets a JSON 503 and is closed.
   */
  maxConnections?: number;
  /**
   * Open connections at once from one address, or one IPv6 /64
   * (`ARDEN_MAX_CONNECTIONS_PER_ADDRESS`; default an eighth of `maxConnections`: 125; 256 when
   * the total has no cap; 0 for no cap). Behind a reverse proxy every connection comes from the
   * proxy: raise it or set 0, and limit clients at the proxy.
   */
  maxConnectionsPerAddress?: number;
  /** How long a request's line and headers may take to arrive, in ms (default 10 000). */
  headersTimeoutMs?: number;
  /** How long an authenticated request's body may take to arrive, in ms (default 10 000). */
  bodyTimeoutMs?: number;
  /** How long the body of a request not (yet) authenticated may take, in ms (default 5 000). */
  unauthenticatedBodyTimeoutMs?: number;
  /** Several replicas on PostgreSQL: the long-poll re-check and dashboard relay timings. */
  replicas?: ReplicaOptions;
  /**
   * Days after which actions, usage and settled webhook deliveries are deleted
   * (`ARDEN_RETENTION_DAYS`; default 0: everything is kept).
   */
  retentionDays?: number;
  /** The retention job's pacing (interval, batch size, pause between batches). */
  retention?: Omit<RetentionOptions, 'days'>;
  /**
   * The memory of sessions kept in the process (for `session.*` rule inputs and refused
   * repeats; on PostgreSQL each replica's, exact as of the sessions' memory versions): calls kept
   * per session (default 5 000) and in all (default 200 000). Larger sessions are counted from
   * the log; the least recently used sessions are dropped past the total.
   */
  sessionCache?: SessionCacheLimits;
  /** Start the expiry sweeper and webhook worker (default true). */
  workers?: boolean;
  /**
   * Signed receipts and the audit chain (`ARDEN_RECEIPT_SECRET`, `ARDEN_RECEIPTS`): see
   * docs/security.md for what happens without a secret.
   */
  receipts?: ReceiptOptions;
  /** Plug-ins run at start-up (the admin API, the dashboard). */
  plugins?: ServerPlugin[];
  /** Clock for tests, ms since the epoch. */
  clock?: () => number;
}

/**
 * The default largest tool-call check in bytes, with `defaultCheckValueLimit` values: the
 * limits within which the worst check known (read, parsed, evaluated, logged and answered) is to
 * decide in ≤ 10 ms (`bench --only adversarial-check`; docs/performance.md). The parse alone
 * grows with the body: about 10 ms at 1 MiB of small numbers.
 */
export const defaultCheckBodyLimit = 256 * 1024;

/**
 * The default most JSON values in one tool-call check (see `ServerConfig.checkValueLimit`).
 * Chosen by measurement (`bench --only adversarial-check`, docs/performance.md): a check's cost
 * grows with its values — parsing, allocating and collecting each one, a member of a large map
 * costing several times a list element. At this many the worst adversarial check's CPU time is
 * 2.5–3× less than at the byte limit alone (measured at load; ≤ 10 ms for every shape is not yet
 * shown on a quiet machine), and smaller limits buy little: the fixed cost of a 250 KiB check
 * remains. An ordinary tool call is far below it: a model writes at least
 * a token per value, and bulk data sent as one string costs nothing here.
 */
export const defaultCheckValueLimit = 8_192;

/** Parses `1048576`, `"1mb"`, `"512kb"`, `"2 MiB"` into bytes. */
export function parseByteSize(value: number | string, field = 'bodyLimit'): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value > 0) return value;
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|k|mb|mib|m|gb|gib|g)?\s*$/i.exec(value);
    if (match) {
      const unit = (match[2] ?? 'b').toLowerCase()[0] as string;
      const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
      const bytes = Math.floor(Number(match[1]) * factor);
      if (bytes > 0) return bytes;
    }
  }
  throw new ValidationError(
    `${field} must be a size in bytes or like "1mb" or "512kb"; got ${JSON.stringify(value)}.`,
    field,
  );
}

function numberFrom(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) {
    throw new ValidationError(`${name} must be a number ≥ 0; got "${value}".`, name);
  }
  return number;
}

function wholeNumber(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new ValidationError(
      `${name} must be a whole number ≥ 0 (0 for no cap); got ${value}.`,
      name,
    );
  }
  return value;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ValidationError(`${name} must be a number of milliseconds > 0; got ${value}.`, name);
  }
  return value;
}

function flagFrom(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '') return false;
  const normalized = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(normalized)) return true;
  if (['0', 'false', 'no', 'off'].includes(normalized)) return false;
  throw new ValidationError(`${name} must be 1 or 0 (true or false); got "${value}".`, name);
}

/** Applies environment variables and defaults to `config`. Throws naming a bad setting. */
export function resolveConfig(
  config: ServerConfig = {},
  environment: Record<string, string | undefined> = process.env,
): ResolvedConfig {
  const port =
    config.port ?? numberFrom(environment.ARDEN_PORT ?? environment.PORT, 'ARDEN_PORT') ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ValidationError(`port must be a whole number from 0 to 65535; got ${port}.`, 'port');
  }
  const logLevel = config.logLevel ?? environment.ARDEN_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) {
    throw new ValidationError(
      `logLevel must be debug, info, warn, error or silent; got "${logLevel}".`,
      'logLevel',
    );
  }
  const approvalTimeoutSeconds =
    config.approvalTimeoutSeconds ??
    numberFrom(environment.ARDEN_APPROVAL_TIMEOUT, 'ARDEN_APPROVAL_TIMEOUT') ??
    3_600;
  const rateLimit =
    config.rateLimit ?? numberFrom(environment.ARDEN_RATE_LIMIT, 'ARDEN_RATE_LIMIT') ?? 0;
  const retentionDays =
    config.retentionDays ??
    numberFrom(environment.ARDEN_RETENTION_DAYS, 'ARDEN_RETENTION_DAYS') ??
    0;
  if (!Number.isFinite(retentionDays) || retentionDays < 0) {
    throw new ValidationError(
      `retentionDays must be a number of days ≥ 0 (0 keeps everything); got ${retentionDays}.`,
      'retentionDays',
    );
  }
  const maxConnections = wholeNumber(
    config.maxConnections ??
      numberFrom(environment.ARDEN_MAX_CONNECTIONS, 'ARDEN_MAX_CONNECTIONS') ??
      1_000,
    'maxConnections',
  );
  const maxConnectionsPerAddress = wholeNumber(
    config.maxConnectionsPerAddress ??
      numberFrom(
        environment.ARDEN_MAX_CONNECTIONS_PER_ADDRESS,
        'ARDEN_MAX_CONNECTIONS_PER_ADDRESS',
      ) ??
      // A share of the total, so that a handful of addresses cannot hold every slot.
      (maxConnections > 0 ? Math.max(1, Math.floor(maxConnections / 8)) : 256),
    'maxConnectionsPerAddress',
  );
  const headersTimeoutMs = positive(config.headersTimeoutMs ?? 10_000, 'headersTimeoutMs');
  const bodyTimeoutMs = positive(config.bodyTimeoutMs ?? 10_000, 'bodyTimeoutMs');
  const unauthenticatedBodyTimeoutMs = positive(
    config.unauthenticatedBodyTimeoutMs ?? Math.min(5_000, bodyTimeoutMs),
    'unauthenticatedBodyTimeoutMs',
  );
  const webhooks: WebhookOptions = { ...config.webhooks };
  webhooks.allowPrivate ??= flagFrom(
    environment.ARDEN_WEBHOOK_ALLOW_PRIVATE,
    'ARDEN_WEBHOOK_ALLOW_PRIVATE',
  );
  if (webhooks.allowedHosts === undefined) {
    try {
      webhooks.allowedHosts = parseAllowedHosts(environment.ARDEN_WEBHOOK_ALLOWED_HOSTS);
    } catch (error) {
      throw new ValidationError((error as Error).message, 'ARDEN_WEBHOOK_ALLOWED_HOSTS');
    }
  }
  const bodyLimit = parseByteSize(config.bodyLimit ?? environment.ARDEN_BODY_LIMIT ?? 1024 * 1024);
  const checkBodyLimit =
    config.checkBodyLimit !== undefined
      ? parseByteSize(config.checkBodyLimit, 'checkBodyLimit')
      : environment.ARDEN_CHECK_BODY_LIMIT
        ? parseByteSize(environment.ARDEN_CHECK_BODY_LIMIT, 'ARDEN_CHECK_BODY_LIMIT')
        : Math.min(defaultCheckBodyLimit, bodyLimit);
  const checkValueLimit =
    config.checkValueLimit ??
    numberFrom(environment.ARDEN_CHECK_VALUE_LIMIT, 'ARDEN_CHECK_VALUE_LIMIT') ??
    defaultCheckValueLimit;
  if (!Number.isInteger(checkValueLimit) || checkValueLimit < 1) {
    throw new ValidationError(
      `${config.checkValueLimit !== undefined ? 'checkValueLimit' : 'ARDEN_CHECK_VALUE_LIMIT'} must be a whole number of JSON values ≥ 1; got ${checkValueLimit}.`,
      config.checkValueLimit !== undefined ? 'checkValueLimit' : 'ARDEN_CHECK_VALUE_LIMIT',
    );
  }
  const mcpUpstreamTimeoutSeconds =
    config.mcpUpstreamTimeoutSeconds ??
    numberFrom(environment.ARDEN_MCP_UPSTREAM_TIMEOUT, 'ARDEN_MCP_UPSTREAM_TIMEOUT') ??
    0;
  if (!Number.isFinite(mcpUpstreamTimeoutSeconds) || mcpUpstreamTimeoutSeconds < 0) {
    throw new ValidationError(
      `mcpUpstreamTimeoutSeconds (ARDEN_MCP_UPSTREAM_TIMEOUT) must be a number of seconds ≥ 0 (0 for none); got ${mcpUpstreamTimeoutSeconds}.`,
      'mcpUpstreamTimeoutSeconds',
    );
  }
  const mcpMaxMessageBytes =
    config.mcpMaxMessageBytes !== undefined
      ? parseByteSize(config.mcpMaxMessageBytes, 'mcpMaxMessageBytes')
      : environment.ARDEN_MCP_MAX_MESSAGE_BYTES
        ? parseByteSize(environment.ARDEN_MCP_MAX_MESSAGE_BYTES, 'ARDEN_MCP_MAX_MESSAGE_BYTES')
        : 16 * 1024 * 1024;
  return {
    port,
    host: config.host ?? environment.ARDEN_HOST ?? '127.0.0.1',
    dataDir: config.dataDir ?? environment.ARDEN_DATA_DIR ?? '.arden',
    databaseUrl:
      config.databaseUrl ?? environment.ARDEN_DATABASE_URL ?? environment.DATABASE_URL ?? undefined,
    bodyLimit,
    checkBodyLimit,
    checkValueLimit,
    mcpUpstreamTimeoutMs: Math.round(mcpUpstreamTimeoutSeconds * 1000),
    mcpMaxMessageBytes,
    pricingFile: config.pricingFile ?? environment.ARDEN_PRICING_FILE ?? undefined,
    logLevel,
    approvalTimeoutSeconds,
    maxApprovalTimeoutSeconds: config.maxApprovalTimeoutSeconds ?? 7 * 24 * 3_600,
    rateLimit,
    sweepIntervalMs: config.sweepIntervalMs ?? 1_000,
    webhooks,
    replicas: config.replicas ?? {},
    retention: { ...config.retention, days: retentionDays },
    shutdownTimeoutMs: config.shutdownTimeoutMs ?? 10_000,
    maxConnections,
    maxConnectionsPerAddress,
    headersTimeoutMs,
    bodyTimeoutMs,
    unauthenticatedBodyTimeoutMs,
    workers: config.workers ?? true,
    sessionCache: sessionCacheLimits(config.sessionCache),
    receipts: resolveReceipts(config.receipts, environment),
  };
}

function sessionCacheLimits(limits: SessionCacheLimits = {}): SessionCacheLimits {
  for (const [field, value] of Object.entries(limits)) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ValidationError(
        `sessionCache.${field} must be a whole number of calls, at least 1; got ${value}.`,
        `sessionCache.${field}`,
      );
    }
  }
  return { ...limits };
}

const flagNames: Record<string, keyof ServerConfig> = {
  '--port': 'port',
  '-p': 'port',
  '--host': 'host',
  '--data-dir': 'dataDir',
  '--db': 'databaseUrl',
  '--database-url': 'databaseUrl',
  '--body-limit': 'bodyLimit',
  '--check-body-limit': 'checkBodyLimit',
  '--check-value-limit': 'checkValueLimit',
  '--pricing-file': 'pricingFile',
  '--log-level': 'logLevel',
  '--approval-timeout': 'approvalTimeoutSeconds',
  '--rate-limit': 'rateLimit',
  '--retention-days': 'retentionDays',
  '--mcp-upstream-timeout': 'mcpUpstreamTimeoutSeconds',
  '--mcp-max-message-bytes': 'mcpMaxMessageBytes',
};

const numericFlags = new Set<keyof ServerConfig>([
  'port',
  'approvalTimeoutSeconds',
  'rateLimit',
  'retentionDays',
  'checkValueLimit',
  'mcpUpstreamTimeoutSeconds',
]);

/**
 * Parses server flags (`--port 8787`, `--data-dir=./data`, `--db`, `--host`, `--body-limit`,
 * `--check-body-limit`, `--check-value-limit`, `--pricing-file`, `--log-level`, `--approval-timeout`, `--rate-limit`,
 * `--retention-days`, `--mcp-upstream-timeout`, `--mcp-max-message-bytes`). Unknown flags throw.
 */
export function parseServerFlags(argv: readonly string[]): ServerConfig {
  const config: Record<string, unknown> = {};
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    const [flag, inline] = argument.includes('=')
      ? argument.split(/=(.*)/s, 2)
      : [argument, undefined];
    const name = flagNames[flag as string];
    if (!name) {
      throw new ValidationError(
        `Unknown option ${flag}. Options: ${Object.keys(flagNames).join(', ')}.`,
        flag,
      );
    }
    const value = inline ?? argv[++index];
    if (value === undefined) throw new ValidationError(`${flag} needs a value.`, flag);
    config[name] = numericFlags.has(name) ? numberFrom(value, flag as string) : value;
  }
  return config as ServerConfig;
}

function resolveReceipts(
  receipts: ReceiptOptions | undefined,
  environment: Record<string, string | undefined>,
): ResolvedConfig['receipts'] {
  const mode = receipts?.mode ?? environment.ARDEN_RECEIPTS ?? 'on';
  if (mode !== 'on' && mode !== 'required' && mode !== 'off') {
    throw new ValidationError(
      `receipts.mode (ARDEN_RECEIPTS) must be on, required or off; got "${String(mode).slice(0, 20)}".`,
      'receipts.mode',
    );
  }
  const secret = receipts?.secret ?? environment.ARDEN_RECEIPT_SECRET ?? undefined;
  if (secret !== undefined && secret.length < 16) {
    throw new ValidationError(
      'The receipt secret (ARDEN_RECEIPT_SECRET) must be at least 16 characters; make one with `openssl rand -base64 32`.',
      'receipts.secret',
    );
  }
  return {
    mode,
    secret: secret === '' ? undefined : secret,
    sealIntervalMs: positive(receipts?.sealIntervalMs ?? 1_000, 'receipts.sealIntervalMs'),
    checkpointIntervalMs: positive(
      receipts?.checkpointIntervalMs ?? 60_000,
      'receipts.checkpointIntervalMs',
    ),
  };
}
