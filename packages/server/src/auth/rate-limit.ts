import { RateLimitedError } from '../errors';

/** Too many failed logins for an email or a client address. */
export class LoginRateLimitedError extends RateLimitedError {
  constructor(retryAfterSeconds: number) {
    super(retryAfterSeconds);
    this.message = `Too many failed logins; try again in ${retryAfterSeconds} s. An admin can reset the password (arden users reset-password --email …).`;
  }
}

interface Window {
  failures: number;
  startedAt: number;
}

/**
 * Counts failed logins per email and per client address in a fixed window. In memory: each
 * replica counts on its own, which is enough to make guessing slow.
 */
export class LoginLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly perEmail: number,
    private readonly perAddress: number,
    private readonly windowMs: number,
  ) {}

  /** Throws `LoginRateLimitedError` when either the email or the address is over its limit. */
  check(email: string, address: string, now: number): void {
    const wait = Math.max(
      this.waitFor(`e:${email}`, this.perEmail, now),
      this.waitFor(`a:${address}`, this.perAddress, now),
    );
    if (wait > 0) throw new LoginRateLimitedError(Math.ceil(wait / 1000));
  }

  /** Records a failed login. */
  fail(email: string, address: string, now: number): void {
    if (this.windows.size > 50_000) this.prune(now);
    for (const key of [`e:${email}`, `a:${address}`]) {
      const window = this.current(key, now);
      window.failures++;
    }
  }

  /** Forgets the failures of an email after a successful login. */
  succeed(email: string): void {
    this.windows.delete(`e:${email}`);
  }

  private current(key: string, now: number): Window {
    let window = this.windows.get(key);
    if (!window || now - window.startedAt >= this.windowMs) {
      window = { failures: 0, startedAt: now };
      this.windows.set(key, window);
    }
    return window;
  }

  private waitFor(key: string, limit: number, now: number): number {
    const window = this.windows.get(key);
    if (!window || now - window.startedAt >= this.windowMs || window.failures < limit) return 0;
    return window.startedAt + this.windowMs - now;
  }

  private prune(now: number): void {
    for (const [key, window] of this.windows) {
      if (now - window.startedAt >= this.windowMs) this.windows.delete(key);
    }
  }
}
