import { RateLimitedError } from '../errors';

// The server's rate limits, in one module: `RequestRateLimiter` (requests per API key, the agent
// API's `rateLimit`) and `LoginLimiter` (failed logins per account and address). Both keep their
// counts in memory, bounded, per replica, and both take the time as an argument (tests pass
// their own clock).

/** Too many failed logins from this address (for this account, or for any). */
export class LoginRateLimitedError extends RateLimitedError {
  constructor(retryAfterSeconds: number) {
    super(retryAfterSeconds);
    this.message = `Too many failed logins from your address; try again in ${retryAfterSeconds} s. An admin can reset the password (arden users reset-password --email …).`;
  }
}

/**
 * The server is already checking as many passwords as it lets wait in line (each scrypt run takes
 * 128 MiB and a third of a second of a core): answered 429 with `Retry-After: 1`.
 */
export class LoginBusyError extends RateLimitedError {
  constructor() {
    super(1);
    this.message = 'The server is checking too many passwords at once; try again in 1 s.';
  }
}

/** The limits of `LoginLimiter`. */
export interface LoginLimits {
  /** Failed logins an (account, address) pair may make before its delays start. */
  perAccountAndAddress: number;
  /** Failed logins an address may make, over all accounts, before its delays start. */
  perAddress: number;
  /**
   * Failed logins an account may take, from all addresses, before it counts as under attack:
   * then every address that has failed on it is delayed from its first failure, except the
   * addresses it recently logged in from.
   */
  perAccount: number;
  /** The longest delay, in ms (the delays double from 1 s up to this). */
  maxDelayMs: number;
  /** How long after its last delay ended a count is forgotten, in ms. */
  forgetAfterMs: number;
}

interface Count {
  failures: number;
  /** Attempts begun and not yet settled (their passwords are being checked). */
  pending: number;
  /** No attempt is taken from this key before then. */
  blockedUntil: number;
  /** When the count is forgotten. */
  expiresAt: number;
}

const firstDelayMs = 1_000;
// Addresses an account logged in from recently: kept a month, a few per account.
const knownAddressMs = 30 * 86_400_000;
const knownAddressesPerAccount = 16;
// Beyond this many counts the expired ones are dropped (one replica's memory stays bounded).
const pruneAbove = 50_000;

/**
 * Failed-login limits that slow guessing without letting anyone lock a user out.
 *
 * - **Per (account, address):** after `perAccountAndAddress` failures, each further failure
 *   doubles a delay (1 s, 2 s, 4 s … up to `maxDelayMs`) during which that address may not try
 *   that account again. Another address is not affected: an attacker cannot lock the real admin
 *   out. A successful login clears the pair.
 * - **Per address, over all accounts:** the same delays after `perAddress` failures, so one
 *   address spraying passwords over many accounts is slowed.
 * - **Per account, over all addresses:** once an account has taken `perAccount` failures (a
 *   distributed guess), every address that fails on it is delayed from its first failure — a
 *   botnet gets one free guess per address, then doubling delays — while the addresses the user
 *   logged in from in the last 30 days keep the per-pair allowance, and a new address still gets
 *   its first try at once.
 *
 * Counts live in memory: each replica counts on its own, which is enough to make guessing slow.
 */
export class LoginLimiter {
  private readonly counts = new Map<string, Count>();
  private readonly knownAddresses = new Map<string, Map<string, number>>();

  constructor(private readonly limits: LoginLimits) {}

  /**
   * Begins a login attempt of `account` from `address`, counted as if it failed until `settle`
   * says otherwise, so that concurrent guesses cannot all pass before the first one fails. Throws
   * `LoginRateLimitedError` while this address must wait before trying this account, or while
   * attempts already under way would use up its allowance.
   */
  begin(account: string, address: string, now: number): void {
    if (this.counts.size > pruneAbove) this.prune(now);
    const pair = this.live(pairKey(account, address), now);
    const fromAddress = this.live(addressKey(address), now);
    const ofAccount = this.live(accountKey(account), now);
    const until = Math.max(pair?.blockedUntil ?? 0, fromAddress?.blockedUntil ?? 0);
    if (until > now) throw new LoginRateLimitedError(Math.ceil((until - now) / 1000));
    const accountTries = (ofAccount?.failures ?? 0) + (ofAccount?.pending ?? 0);
    const pairAllowance = this.pairAllowance(accountTries, account, address, now);
    // Another attempt is under way, and if it fails this one would have to wait: the first one's
    // answer comes within a second.
    const waitsOnPending = (count: Count | undefined, allowance: number) =>
      count !== undefined && count.pending > 0 && count.failures + count.pending >= allowance;
    if (
      waitsOnPending(pair, pairAllowance) ||
      waitsOnPending(fromAddress, this.limits.perAddress)
    ) {
      throw new LoginRateLimitedError(1);
    }
    for (const key of [pairKey(account, address), addressKey(address), accountKey(account)]) {
      const count = this.live(key, now) ?? {
        failures: 0,
        pending: 0,
        blockedUntil: 0,
        expiresAt: 0,
      };
      count.pending++;
      count.expiresAt = Math.max(count.expiresAt, now + this.limits.forgetAfterMs);
      this.counts.set(key, count);
    }
  }

  /**
   * Settles an attempt `begin` counted: `failed` records the failure, `succeeded` clears the pair,
   * `abandoned` (the password was never checked: the server was busy or the store failed) only
   * releases it.
   */
  settle(
    account: string,
    address: string,
    outcome: 'failed' | 'succeeded' | 'abandoned',
    now: number,
  ): void {
    for (const key of [pairKey(account, address), addressKey(address), accountKey(account)]) {
      const count = this.counts.get(key);
      if (count && count.pending > 0) count.pending--;
    }
    if (outcome === 'failed') this.fail(account, address, now);
    else if (outcome === 'succeeded') this.succeed(account, address, now);
  }

  /** Throws `LoginRateLimitedError` while this address must wait before trying this account. */
  check(account: string, address: string, now: number): void {
    let until = 0;
    for (const key of [pairKey(account, address), addressKey(address)]) {
      const count = this.live(key, now);
      if (count) until = Math.max(until, count.blockedUntil);
    }
    if (until > now) throw new LoginRateLimitedError(Math.ceil((until - now) / 1000));
  }

  /** Records a failed login of `account` from `address`. */
  fail(account: string, address: string, now: number): void {
    if (this.counts.size > pruneAbove) this.prune(now);
    const accountCount = this.bump(accountKey(account), Number.POSITIVE_INFINITY, now);
    this.bump(
      pairKey(account, address),
      this.pairAllowance(accountCount.failures, account, address, now),
      now,
    );
    this.bump(addressKey(address), this.limits.perAddress, now);
  }

  // The pair's allowance: the usual one, or a single try once the account is under attack (and
  // this is not an address the user logged in from recently).
  private pairAllowance(accountFailures: number, account: string, address: string, now: number) {
    return accountFailures > this.limits.perAccount && !this.isKnown(account, address, now)
      ? Math.min(1, this.limits.perAccountAndAddress)
      : this.limits.perAccountAndAddress;
  }

  /** Records a successful login: clears the pair and remembers the address for the account. */
  succeed(account: string, address: string, now: number): void {
    this.counts.delete(pairKey(account, address));
    let known = this.knownAddresses.get(account);
    if (!known) {
      if (this.knownAddresses.size > pruneAbove) this.knownAddresses.clear();
      known = new Map();
      this.knownAddresses.set(account, known);
    }
    known.delete(address);
    known.set(address, now);
    if (known.size > knownAddressesPerAccount) {
      known.delete(known.keys().next().value as string);
    }
  }

  private isKnown(account: string, address: string, now: number): boolean {
    const since = this.knownAddresses.get(account)?.get(address);
    return since !== undefined && now - since < knownAddressMs;
  }

  private live(key: string, now: number): Count | undefined {
    const count = this.counts.get(key);
    if (count && count.expiresAt <= now && count.pending === 0) {
      this.counts.delete(key);
      return undefined;
    }
    return count;
  }

  // One more failure on `key`; past `allowance`, the delay doubles from 1 s up to the maximum.
  private bump(key: string, allowance: number, now: number): Count {
    const count = this.live(key, now) ?? { failures: 0, pending: 0, blockedUntil: 0, expiresAt: 0 };
    count.failures++;
    const over = count.failures - allowance;
    if (over > 0) {
      const delay = Math.min(this.limits.maxDelayMs, firstDelayMs * 2 ** Math.min(over - 1, 30));
      count.blockedUntil = Math.max(count.blockedUntil, now + delay);
    }
    count.expiresAt = Math.max(now, count.blockedUntil) + this.limits.forgetAfterMs;
    this.counts.set(key, count);
    return count;
  }

  private prune(now: number): void {
    for (const [key, count] of this.counts) {
      if (count.expiresAt <= now && count.pending === 0) this.counts.delete(key);
    }
  }
}

function pairKey(account: string, address: string): string {
  return `p:${account}\u0000${address}`;
}

function addressKey(address: string): string {
  return `a:${address}`;
}

function accountKey(account: string): string {
  return `e:${account}`;
}

/**
 * Requests per key: a token bucket per key (the agent API's `rateLimit`, per API key) that
 * refills `rate` tokens a second up to bursts of twice that (at least one). Memory is bounded: past 100 000
 * keys the buckets start over.
 */
export class RequestRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly rate: number) {}

  /**
   * Takes one request of `key` at `now` (ms): 0 when it may go ahead, else the seconds to wait
   * (for `Retry-After`).
   */
  take(key: string, now: number): number {
    // At least one request: a rate under 0.5 a second would otherwise never fill a whole token.
    const capacity = Math.max(1, this.rate * 2);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size > 100_000) this.buckets.clear();
      bucket = { tokens: capacity, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.rate);
  }
}
