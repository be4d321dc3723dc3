import { ConfigurationError } from './errors';
import { createConsoleLogger, type Logger, type LogLevel } from './logger';
import { readEnv } from './runtime';

/** Which side of an agent's data a key belongs to. */
export type Environment = 'test' | 'live';

/** What happens when Arden cannot be reached: `'block'` (fail closed) or `'allow'`. */
export type UnavailableBehaviour = 'block' | 'allow';

/** Options of `configure()` and `createArden()`. Every field is optional. */
export interface ArdenOptions {
  /** The agent's key, `arden_test_…` or `arden_live_…`. Default: `ARDEN_API_KEY`. */
  apiKey?: string;
  /** The Arden server. Default: `ARDEN_API_URL`, else `http://localhost:8787`. */
  apiUrl?: string;
  /** Must match the key's prefix when given; taken from the key otherwise. */
  environment?: Environment;
  /** Time limit of one HTTP request, in ms. Default 30 000. */
  timeoutMs?: number;
  /** Poll interval against servers without long-poll, in ms. Default 2 000. */
  pollIntervalMs?: number;
  /** How long `wait` mode waits for a human decision, in ms. Default 300 000. */
  maxWaitMs?: number;
  /** Retries after a network error, 5xx or 429 (exponential backoff with jitter). Default 3. */
  retryAttempts?: number;
  /** The agent's webhook signing key, used by `handleWebhook()`. Default: `ARDEN_SIGNING_KEY`. */
  signingKey?: string;
  /** When Arden cannot be reached: `'block'` (default, the tool does not run) or `'allow'`. */
  onUnavailable?: UnavailableBehaviour;
  /** A `fetch` implementation to use instead of the built-in transport (tests, proxies). */
  fetch?: typeof globalThis.fetch;
  /** Where diagnostics go. Default: the console at `logLevel`. */
  logger?: Logger;
  /** Level of the default logger. Default: `ARDEN_LOG_LEVEL`, else `'warn'`. */
  logLevel?: LogLevel;
  /** Usage events sent in one request. Default 100. */
  usageBatchSize?: number;
  /** Longest time a usage event waits before it is sent, in ms. Default 1 000. */
  usageFlushIntervalMs?: number;
  /** Usage events kept while the server is unreachable; the oldest are dropped past it. Default 10 000. */
  usageMaxQueue?: number;
  /** Send the tool's return value with the outcome report. Default false (only status and time). */
  reportReturnValue?: boolean;
  /** Longest time an outcome report waits to be sent with others, in ms. Default 100. */
  resultFlushIntervalMs?: number;
  /** Webhook timestamps older or newer than this are refused, in seconds. Default 300. */
  webhookToleranceSeconds?: number;
  /**
   * Ask Arden before each model call (budgets, `checkModelCall()`), as the adapters do. Default
   * true. False: no model call is checked or reserved (usage is still recorded), and an
   * unreachable Arden never stops a model call.
   */
  modelCallChecks?: boolean;
}

/** The options after defaults and validation. */
export interface ResolvedOptions {
  apiKey: string;
  apiUrl: string;
  environment: Environment;
  timeoutMs: number;
  pollIntervalMs: number;
  maxWaitMs: number;
  retryAttempts: number;
  signingKey: string | undefined;
  onUnavailable: UnavailableBehaviour;
  fetch: typeof globalThis.fetch | undefined;
  logger: Logger;
  usageBatchSize: number;
  usageFlushIntervalMs: number;
  usageMaxQueue: number;
  reportReturnValue: boolean;
  resultFlushIntervalMs: number;
  webhookToleranceSeconds: number;
  modelCallChecks: boolean;
}

/** The server address used when neither `apiUrl` nor `ARDEN_API_URL` is set. */
export const defaultApiUrl = 'http://localhost:8787';

const keyPattern = /^arden_(test|live)_[A-Za-z0-9]{16,128}$/;
const knownOptions = new Set<string>([
  'apiKey',
  'apiUrl',
  'environment',
  'timeoutMs',
  'pollIntervalMs',
  'maxWaitMs',
  'retryAttempts',
  'signingKey',
  'onUnavailable',
  'fetch',
  'logger',
  'logLevel',
  'usageBatchSize',
  'usageFlushIntervalMs',
  'usageMaxQueue',
  'reportReturnValue',
  'resultFlushIntervalMs',
  'webhookToleranceSeconds',
  'modelCallChecks',
]);

function fail(option: string, message: string): never {
  throw new ConfigurationError(message, { option });
}

function integer(
  options: ArdenOptions,
  option: keyof ArdenOptions,
  fallback: number,
  minimum: number,
  maximum = Number.MAX_SAFE_INTEGER,
): number {
  const value = options[option];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > maximum) {
    fail(
      option,
      `Option ${option} must be a whole number from ${minimum} to ${maximum}; got ${String(value)}.`,
    );
  }
  return value;
}

/** The environment a key belongs to, read from its prefix, or undefined for a malformed key. */
export function environmentOfKey(apiKey: string): Environment | undefined {
  const match = keyPattern.exec(apiKey);
  return match ? (match[1] as Environment) : undefined;
}

/**
 * Applies defaults and environment variables and validates every option, throwing a
 * `ConfigurationError` that names the first bad one.
 */
export function resolveOptions(options: ArdenOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('configure() takes an options object, or nothing.');
  }
  for (const key of Object.keys(options)) {
    if (!knownOptions.has(key)) {
      fail(key, `Unknown option ${key}. Known options: ${[...knownOptions].join(', ')}.`);
    }
  }

  const apiKey = options.apiKey ?? readEnv('ARDEN_API_KEY');
  if (apiKey === undefined) {
    fail(
      'apiKey',
      'ARDEN_API_KEY is not set. Pass apiKey to configure() or set the variable; keys start with arden_test_ or arden_live_.',
    );
  }
  if (typeof apiKey !== 'string') fail('apiKey', 'Option apiKey must be a string.');
  const keyEnvironment = environmentOfKey(apiKey);
  if (!keyEnvironment) {
    fail(
      'apiKey',
      'The API key is malformed: keys look like arden_test_<32 hex> or arden_live_<32 hex>. Create one with `arden agents create` or in the dashboard.',
    );
  }
  if (options.environment !== undefined) {
    if (options.environment !== 'test' && options.environment !== 'live') {
      fail(
        'environment',
        `Option environment must be 'test' or 'live'; got ${String(options.environment)}.`,
      );
    }
    if (options.environment !== keyEnvironment) {
      fail(
        'environment',
        `Option environment is '${options.environment}' but the key is a ${keyEnvironment} key (arden_${keyEnvironment}_…). Use a ${options.environment} key or drop the option.`,
      );
    }
  }

  const rawUrl = options.apiUrl ?? readEnv('ARDEN_API_URL') ?? defaultApiUrl;
  if (typeof rawUrl !== 'string') fail('apiUrl', 'Option apiUrl must be a string.');
  let parsed: URL;
  try {
    parsed = new URL(rawUrl);
  } catch (cause) {
    throw new ConfigurationError(
      `Option apiUrl is not a URL: ${JSON.stringify(rawUrl)}. Use for example http://localhost:8787.`,
      { option: 'apiUrl', cause },
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    fail('apiUrl', `Option apiUrl must use http or https; got ${parsed.protocol}`);
  }

  const onUnavailable = options.onUnavailable ?? 'block';
  if (onUnavailable !== 'block' && onUnavailable !== 'allow') {
    fail(
      'onUnavailable',
      `Option onUnavailable must be 'block' or 'allow'; got ${String(onUnavailable)}.`,
    );
  }
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    fail('fetch', 'Option fetch must be a function with the signature of the global fetch.');
  }
  const signingKey = options.signingKey ?? readEnv('ARDEN_SIGNING_KEY');
  if (signingKey !== undefined && (typeof signingKey !== 'string' || signingKey.length === 0)) {
    fail('signingKey', 'Option signingKey must be a non-empty string.');
  }
  const logLevel =
    options.logLevel ?? (readEnv('ARDEN_LOG_LEVEL') as LogLevel | undefined) ?? 'warn';
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    fail(
      'logLevel',
      `Option logLevel must be debug, info, warn, error or silent; got ${String(logLevel)}.`,
    );
  }
  if (options.logger !== undefined) {
    const logger = options.logger as unknown as Record<string, unknown>;
    if (
      !logger ||
      ['debug', 'info', 'warn', 'error'].some((level) => typeof logger[level] !== 'function')
    ) {
      fail('logger', 'Option logger must have debug, info, warn and error methods.');
    }
  }
  if (options.modelCallChecks !== undefined && typeof options.modelCallChecks !== 'boolean') {
    fail('modelCallChecks', 'Option modelCallChecks must be true or false.');
  }
  if (options.reportReturnValue !== undefined && typeof options.reportReturnValue !== 'boolean') {
    fail('reportReturnValue', 'Option reportReturnValue must be true or false.');
  }

  return {
    apiKey,
    apiUrl: rawUrl.replace(/\/+$/, ''),
    environment: keyEnvironment,
    timeoutMs: integer(options, 'timeoutMs', 30_000, 1),
    pollIntervalMs: integer(options, 'pollIntervalMs', 2_000, 1),
    maxWaitMs: integer(options, 'maxWaitMs', 300_000, 0),
    retryAttempts: integer(options, 'retryAttempts', 3, 0, 10),
    signingKey,
    onUnavailable,
    fetch: options.fetch,
    logger: options.logger ?? createConsoleLogger(logLevel),
    usageBatchSize: integer(options, 'usageBatchSize', 100, 1, 10_000),
    usageFlushIntervalMs: integer(options, 'usageFlushIntervalMs', 1_000, 1),
    usageMaxQueue: integer(options, 'usageMaxQueue', 10_000, 1),
    reportReturnValue: options.reportReturnValue ?? false,
    resultFlushIntervalMs: integer(options, 'resultFlushIntervalMs', 100, 0, 60_000),
    webhookToleranceSeconds: integer(options, 'webhookToleranceSeconds', 300, 1),
    modelCallChecks: options.modelCallChecks ?? true,
  };
}
