import { ValidationError } from '../errors';

/** Options of the admin side: the admin API, its sessions and security, and the dashboard. */
export interface AdminOptions {
  /** Serve the admin API under `/api/v1/` (default true). */
  enabled?: boolean;
  /**
   * Time budget of one admin read request in ms (`ARDEN_ADMIN_READ_BUDGET_MS`; default 15 000;
   * a simulation over history gets 20 times it): past it the request is stopped with a JSON 503
   * saying to narrow the window.
   */
  readBudgetMs?: number;
  /**
   * The `Secure` attribute of the session cookie (`ARDEN_COOKIE_SECURE`): `'auto'` (default)
   * sets it when the request came over HTTPS (directly, or per `X-Forwarded-Proto` from a
   * trusted proxy); `true` always; `false` never.
   */
  cookieSecure?: boolean | 'auto';
  /**
   * Trust `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-For` from a reverse proxy in
   * front of the server (`ARDEN_TRUST_PROXY=1`). Leave off when clients reach the server directly.
   */
  trustProxy?: boolean;
  /**
   * How many reverse proxies in front of the server append to `X-Forwarded-For`
   * (`ARDEN_TRUSTED_PROXY_HOPS`): the client address is that many entries from the right.
   * Default 0 — the header is ignored and the TCP peer is the client — or 1 when `trustProxy` is
   * on (one proxy, such as nginx with `$proxy_add_x_forwarded_for`).
   */
  trustedProxyHops?: number;
  /**
   * Other origins allowed to make cookie-authenticated changes (`ARDEN_TRUSTED_ORIGINS`,
   * comma-separated), for example a dashboard development server. The server's own origin is
   * always allowed.
   */
  trustedOrigins?: string[];
  /** Idle lifetime of a browser session in seconds (`ARDEN_SESSION_TTL`; default 12 hours). */
  sessionTtlSeconds?: number;
  /** Longest life of a browser session in seconds, however active (default 7 days). */
  sessionMaxAgeSeconds?: number;
  /**
   * Failed logins an (email, client address) pair may make before its delays start (default 5);
   * then each failure doubles the wait of that pair, from 1 s up to `loginMaxDelaySeconds`.
   */
  loginAttemptsPerEmail?: number;
  /** Failed logins a client address may make over all emails before its delays start (default 30). */
  loginAttemptsPerAddress?: number;
  /**
   * Failed logins an email may take from all addresses (default 50) before every address that
   * fails on it is delayed from its first failure (except addresses it recently logged in from).
   */
  loginAttemptsPerAccount?: number;
  /** The longest wait after failed logins, in seconds (default 900). */
  loginMaxDelaySeconds?: number;
  /** Failed logins are forgotten this long after the last wait ended, in seconds (default 900). */
  loginWindowSeconds?: number;
  /**
   * The dashboard's built files (`ARDEN_DASHBOARD_DIR`); default: the `@arden/dashboard`
   * package's `dist`, when installed. `false` serves no dashboard.
   */
  dashboardDir?: string | false;
  /** Live events kept for `Last-Event-ID` resume (default 1 000). */
  eventBufferSize?: number;
  /**
   * TEST SUITES ONLY: hash passwords at a cost of N = 2^10 instead of OWASP's N = 2^17, so tests
   * that create users and log in stay quick. Only code can set it (no environment variable or
   * flag reads it); the server logs a warning when it is on, and a server without it upgrades
   * such hashes at the next login.
   */
  insecureTestPasswordHashing?: boolean;
  /** Interval of the heartbeat comments on the event stream, in ms (default 15 000). */
  eventHeartbeatMs?: number;
}

/** Admin options after the environment and defaults were applied. */
export interface ResolvedAdminOptions {
  enabled: boolean;
  cookieSecure: boolean | 'auto';
  trustProxy: boolean;
  trustedProxyHops: number;
  trustedOrigins: string[];
  sessionTtlSeconds: number;
  sessionMaxAgeSeconds: number;
  loginAttemptsPerEmail: number;
  loginAttemptsPerAddress: number;
  loginAttemptsPerAccount: number;
  loginMaxDelaySeconds: number;
  loginWindowSeconds: number;
  dashboardDir: string | false | undefined;
  eventBufferSize: number;
  eventHeartbeatMs: number;
  insecureTestPasswordHashing: boolean;
}

function flag(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ValidationError(`${name} must be true or false; got "${value}".`, name);
}

function seconds(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new ValidationError(`${name} must be a number of seconds > 0; got "${value}".`, name);
  }
  return number;
}

function hops(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 10) {
    throw new ValidationError(
      `ARDEN_TRUSTED_PROXY_HOPS must be the number of proxies in front of the server (0 to 10); got "${value}".`,
      'ARDEN_TRUSTED_PROXY_HOPS',
    );
  }
  return number;
}

function origin(value: string): string {
  try {
    return new URL(value).origin;
  } catch {
    throw new ValidationError(
      `"${value}" in ARDEN_TRUSTED_ORIGINS is not an origin like https://admin.example.com.`,
      'trustedOrigins',
    );
  }
}

/** Applies the environment and the defaults to admin options. Throws naming a bad setting. */
export function resolveAdminOptions(
  options: AdminOptions = {},
  environment: Record<string, string | undefined> = process.env,
): ResolvedAdminOptions {
  const secureText = environment.ARDEN_COOKIE_SECURE;
  const cookieSecure =
    options.cookieSecure ??
    (secureText === undefined || secureText === '' || secureText === 'auto'
      ? 'auto'
      : (flag(secureText, 'ARDEN_COOKIE_SECURE') as boolean));
  const trusted =
    options.trustedOrigins ??
    (environment.ARDEN_TRUSTED_ORIGINS ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  const dashboardText = environment.ARDEN_DASHBOARD_DIR;
  const trustProxy =
    options.trustProxy ?? flag(environment.ARDEN_TRUST_PROXY, 'ARDEN_TRUST_PROXY') ?? false;
  const trustedProxyHops =
    options.trustedProxyHops ?? hops(environment.ARDEN_TRUSTED_PROXY_HOPS) ?? (trustProxy ? 1 : 0);
  if (!Number.isInteger(trustedProxyHops) || trustedProxyHops < 0 || trustedProxyHops > 10) {
    throw new ValidationError(
      `trustedProxyHops must be a whole number from 0 to 10; got ${trustedProxyHops}.`,
      'trustedProxyHops',
    );
  }
  return {
    enabled: options.enabled ?? true,
    cookieSecure,
    trustProxy,
    trustedProxyHops,
    trustedOrigins: trusted.map(origin),
    sessionTtlSeconds:
      options.sessionTtlSeconds ??
      seconds(environment.ARDEN_SESSION_TTL, 'ARDEN_SESSION_TTL') ??
      12 * 3_600,
    sessionMaxAgeSeconds: options.sessionMaxAgeSeconds ?? 7 * 86_400,
    loginAttemptsPerEmail: options.loginAttemptsPerEmail ?? 5,
    loginAttemptsPerAddress: options.loginAttemptsPerAddress ?? 30,
    loginAttemptsPerAccount: options.loginAttemptsPerAccount ?? 50,
    loginMaxDelaySeconds: options.loginMaxDelaySeconds ?? 900,
    loginWindowSeconds: options.loginWindowSeconds ?? 900,
    dashboardDir:
      options.dashboardDir ??
      (dashboardText === undefined || dashboardText === ''
        ? undefined
        : dashboardText === 'false'
          ? false
          : dashboardText),
    eventBufferSize: options.eventBufferSize ?? 1_000,
    eventHeartbeatMs: options.eventHeartbeatMs ?? 15_000,
    insecureTestPasswordHashing: options.insecureTestPasswordHashing === true,
  };
}
