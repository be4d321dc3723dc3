import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  generateSecret,
  hashPassword,
  hashSecret,
  parseApiKey,
  passwordHashCostFor,
  passwordHashesWaiting,
  passwordNeedsRehash,
  type ScryptCost,
  unmatchablePasswordHash,
  verifyPasswordWithWorkOf,
} from '../crypto';
import { AuthenticationError, ForbiddenError, ValidationError } from '../errors';
import { clientAddress } from '../http/client-address';
import { addressGroup } from '../http/connections';
import type { RequestContext } from '../http/router';
import type { Logger } from '../logger';
import type { Store, UserRecord } from '../store';
import { adminTokenPrefix, normaliseEmail } from '../users/service';
import type { ResolvedAdminOptions } from './options';
import { LoginBusyError, LoginLimiter } from './rate-limit';

/** The name of the browser session cookie. */
export const sessionCookieName = 'arden_session';

/** Who is calling the admin API, and how they proved it. */
export interface AdminPrincipal {
  user: UserRecord;
  via: 'session' | 'token';
  /** The hash of the browser session id (cookie logins). */
  sessionHash?: string;
  /** The admin token's id (token logins). */
  tokenId?: string;
}

/** A successful login: the session cookie to set and when it lapses. */
export interface LoginResult {
  user: UserRecord;
  cookie: string;
  expiresAt: number;
}

const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const touchEveryMs = 60_000;
// Logins whose password check may wait for a free scrypt slot (see `maxConcurrentPasswordHashes`):
// about 1.5 s of work at the current cost. Beyond it, logins answer 429 at once rather than let
// unauthenticated clients queue unbounded work.
const maxWaitingLoginHashes = 8;

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses a `Cookie` header into name → value (first occurrence wins). */
export function parseCookies(cookieHeader: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!cookieHeader) return cookies;
  for (const part of cookieHeader.split(';')) {
    const index = part.indexOf('=');
    if (index === -1) continue;
    const name = part.slice(0, index).trim();
    if (!name || cookies.has(name)) continue;
    let value = part.slice(index + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      cookies.set(name, decodeURIComponent(value));
    } catch {
      cookies.set(name, value);
    }
  }
  return cookies;
}

/**
 * Authentication of the admin API: browser sessions (an HttpOnly, SameSite=Strict cookie whose
 * value is a random id; the store keeps only its SHA-256), admin tokens (`Authorization: Bearer
 * arden_admin_…`, stored hashed), the cross-site request check for cookie requests, and login
 * rate limiting. Agent API keys are refused on every admin route.
 */
export class AdminAuthenticator {
  private readonly limiter: LoginLimiter;
  private readonly tokenTouches = new Map<string, number>();
  private readonly unknownUserHash: string;
  private readonly passwordCost: Readonly<ScryptCost>;

  constructor(
    private readonly store: Store,
    private readonly options: ResolvedAdminOptions,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.passwordCost = passwordHashCostFor(options.insecureTestPasswordHashing);
    this.unknownUserHash = unmatchablePasswordHash(this.passwordCost);
    this.limiter = new LoginLimiter({
      perAccountAndAddress: options.loginAttemptsPerEmail,
      perAddress: options.loginAttemptsPerAddress,
      perAccount: options.loginAttemptsPerAccount,
      maxDelayMs: options.loginMaxDelaySeconds * 1000,
      forgetAfterMs: options.loginWindowSeconds * 1000,
    });
  }

  /**
   * The caller of an admin request, or undefined when it presents no credential. Throws
   * `AuthenticationError` for an unknown, revoked or expired token or session... and
   * `ForbiddenError` for an agent API key.
   */
  async authenticate(context: RequestContext): Promise<AdminPrincipal | undefined> {
    const { request } = context;
    const now = this.clock();
    if (header(request, 'x-api-key') !== undefined) throw agentKeyRefused();
    const authorization = header(request, 'authorization');
    if (authorization !== undefined) {
      const match = /^bearer\s+(.+)$/i.exec(authorization.trim());
      if (!match) {
        throw new AuthenticationError(
          'The Authorization header must be "Bearer arden_admin_…". Create a token with `arden tokens create`.',
        );
      }
      const token = (match[1] as string).trim();
      if (parseApiKey(token)) throw agentKeyRefused();
      if (!token.startsWith(adminTokenPrefix)) {
        throw new AuthenticationError(
          'That is not an admin token: admin tokens start with arden_admin_. Create one with `arden tokens create`.',
        );
      }
      const found = await this.store.adminTokens.findActiveByHash(hashSecret(token), now);
      if (!found) {
        throw new AuthenticationError(
          'The admin token is not valid: it is unknown, revoked or expired, or its user is disabled. Create a new one with `arden tokens create`.',
        );
      }
      const touched = this.tokenTouches.get(found.token.id) ?? 0;
      if (now - touched > touchEveryMs) {
        if (this.tokenTouches.size > 10_000) this.tokenTouches.clear();
        this.tokenTouches.set(found.token.id, now);
        this.store.adminTokens.touch(found.token.id, now).catch((error: unknown) => {
          this.logger.warn('Could not record when an admin token was last used', { error });
        });
      }
      return { user: found.user, via: 'token', tokenId: found.token.id };
    }
    const sessionId = parseCookies(header(request, 'cookie')).get(sessionCookieName);
    if (sessionId === undefined || sessionId === '') return undefined;
    const sessionHash = hashSecret(sessionId);
    const found = await this.store.userSessions.findActive(sessionHash, now);
    if (!found) {
      throw new AuthenticationError(
        'Your session has expired or you were logged out; log in again (POST /api/v1/auth/login).',
      );
    }
    const { session } = found;
    if (session.createdAt + this.options.sessionMaxAgeSeconds * 1000 <= now) {
      await this.store.userSessions.delete(sessionHash);
      throw new AuthenticationError('Your session has reached its maximum age; log in again.');
    }
    if (now - session.lastSeenAt > touchEveryMs) {
      const expiresAt = Math.min(
        now + this.options.sessionTtlSeconds * 1000,
        session.createdAt + this.options.sessionMaxAgeSeconds * 1000,
      );
      await this.store.userSessions.touch(sessionHash, now, expiresAt);
    }
    return { user: found.user, via: 'session', sessionHash };
  }

  /**
   * Refuses a state-changing request that a browser sent from another site: for requests not
   * authenticated by a bearer token, the `Origin` (or else `Sec-Fetch-Site`) must name this
   * server or a trusted origin. Requests without either header do not come from a browser's
   * cross-site form or script, and pass.
   */
  checkSameOrigin(context: RequestContext, principal: AdminPrincipal | undefined): void {
    if (!unsafeMethods.has(context.method) || principal?.via === 'token') return;
    const { request } = context;
    const originHeader = header(request, 'origin');
    if (originHeader !== undefined) {
      if (originHeader !== 'null') {
        let parsed: URL | undefined;
        try {
          parsed = new URL(originHeader);
        } catch {
          parsed = undefined;
        }
        if (parsed && this.options.trustedOrigins.includes(parsed.origin)) return;
        if (parsed && parsed.host === this.requestHost(request)) return;
      }
      throw crossSiteRefused(originHeader);
    }
    const site = header(request, 'sec-fetch-site');
    if (site === 'cross-site' || site === 'same-site') throw crossSiteRefused(site);
  }

  /** Whether the request reached us over HTTPS (directly or through a trusted proxy). */
  isSecure(request: IncomingMessage): boolean {
    if ((request.socket as TLSSocket).encrypted) return true;
    return (
      this.options.trustProxy &&
      header(request, 'x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https'
    );
  }

  /** The client address: `trustedProxyHops` entries from the right of `X-Forwarded-For`. */
  clientAddress(request: IncomingMessage): string {
    return clientAddress(request, this.options.trustedProxyHops);
  }

  private requestHost(request: IncomingMessage): string | undefined {
    const forwarded = this.options.trustProxy ? header(request, 'x-forwarded-host') : undefined;
    return (forwarded?.split(',')[0]?.trim() || header(request, 'host'))?.toLowerCase();
  }

  private cookieSecure(request: IncomingMessage): boolean {
    const setting = this.options.cookieSecure;
    return setting === 'auto' ? this.isSecure(request) : setting;
  }

  /** The `Set-Cookie` value of a session. */
  sessionCookie(request: IncomingMessage, value: string, maxAgeSeconds: number): string {
    const parts = [
      `${sessionCookieName}=${value}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    ];
    if (this.cookieSecure(request)) parts.push('Secure');
    return parts.join('; ');
  }

  /**
   * Checks an email and password and opens a browser session. The same error (and about the
   * same time) for an unknown email, a wrong password and a disabled user. Throws
   * `LoginRateLimitedError` while this address must wait (see `LoginLimiter`).
   */
  async login(
    context: RequestContext,
    emailInput: unknown,
    password: unknown,
  ): Promise<LoginResult> {
    const email = normaliseEmail(emailInput);
    if (typeof password !== 'string' || password.length === 0) {
      throw new ValidationError('password must be a non-empty string.', 'password');
    }
    // An IPv6 client counts per /64: it could pick any of 2^64 addresses in its network.
    const address = addressGroup(this.clientAddress(context.request));
    const now = this.clock();
    // The attempt counts from here, before the (slow) password check, so that guesses sent at
    // once cannot all pass the limiter; it is settled once its outcome is known.
    this.limiter.begin(email, address, now);
    let outcome: 'failed' | 'succeeded' | 'abandoned' = 'abandoned';
    let user: UserRecord | undefined;
    try {
      user = await this.store.users.getByEmail(email);
      // Checked right before the check is queued (nothing awaits in between).
      if (passwordHashesWaiting() >= maxWaitingLoginHashes) throw new LoginBusyError();
      const matches = await verifyPasswordWithWorkOf(
        password.slice(0, 1024),
        user?.passwordHash ?? this.unknownUserHash,
        this.passwordCost,
      );
      outcome =
        matches && user !== undefined && user.disabledAt === null && user.passwordHash
          ? 'succeeded'
          : 'failed';
    } finally {
      this.limiter.settle(email, address, outcome, this.clock());
    }
    if (outcome === 'failed' || !user) {
      this.logger.info('Failed admin login', { email, address });
      throw new AuthenticationError(
        'The email or password is not right, or the user is disabled. Ask an admin to reset your password if you forgot it.',
      );
    }
    await this.upgradeHash(user, password.slice(0, 1024));
    const sessionId = generateSecret();
    const expiresAt = now + this.options.sessionTtlSeconds * 1000;
    await this.store.userSessions.insert({
      idHash: hashSecret(sessionId),
      userId: user.id,
      csrfToken: null,
      userAgent: header(context.request, 'user-agent')?.slice(0, 300) ?? null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
    });
    const updated = (await this.store.users.update(user.id, { lastLoginAt: now }, now)) ?? user;
    await this.store.userSessions.deleteExpired(now);
    this.logger.info('Admin login', { userId: user.id, address });
    return {
      user: updated,
      expiresAt,
      cookie: this.sessionCookie(context.request, sessionId, this.options.sessionTtlSeconds),
    };
  }

  /** Ends the caller's browser session (if any); returns the cookie that clears it. */
  async logout(context: RequestContext, principal: AdminPrincipal | undefined): Promise<string> {
    if (principal?.sessionHash) await this.store.userSessions.delete(principal.sessionHash);
    return this.sessionCookie(context.request, '', 0);
  }

  // A hash made at a lower cost (before N = 2^17, or by a test suite) is replaced now that the
  // password is known; a failure only means it is tried again at the next login.
  private async upgradeHash(user: UserRecord, password: string): Promise<void> {
    if (!user.passwordHash || !passwordNeedsRehash(user.passwordHash, this.passwordCost)) return;
    try {
      const upgraded = await hashPassword(password, this.passwordCost);
      await this.store.users.update(user.id, { passwordHash: upgraded }, this.clock());
      this.logger.info('Upgraded a password hash to the current scrypt cost', { userId: user.id });
    } catch (error) {
      this.logger.warn('Could not upgrade a password hash; it is tried again at the next login', {
        userId: user.id,
        error,
      });
    }
  }
}

function agentKeyRefused(): ForbiddenError {
  return new ForbiddenError(
    'Agent API keys cannot be used on the admin API. Log in to the dashboard, or use an admin token (Authorization: Bearer arden_admin_…) from `arden tokens create`.',
  );
}

function crossSiteRefused(source: string): ForbiddenError {
  return new ForbiddenError(
    `Cross-site request refused (${source.slice(0, 100)}): the admin API accepts changes with a session cookie only from its own origin. Use the dashboard served by this server, add your origin to ARDEN_TRUSTED_ORIGINS, or use an admin token.`,
  );
}
