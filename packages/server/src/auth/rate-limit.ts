import { RateLimitedError } from '../errors';

/** Too many failed logins from this address (for this account, or for any). */
export class LoginRateLimitedError extends RateLimitedError {
  constructor(retryAfterSeconds: number) {
    super(retryAfterSeconds);
    this.message = `Too many failed logins from your address; try again in ${retryAfterSeconds} s. An admin can reset the password (arden users reset-password --email …).`;
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
    const underAttack =
      accountCount.failures > this.limits.perAccount && !this.isKnown(account, address, now);
    this.bump(
      pairKey(account, address),
      underAttack
        ? Math.min(1, this.limits.perAccountAndAddress)
        : this.limits.perAccountAndAddress,
      now,
    );
    this.bump(addressKey(address), this.limits.perAddress, now);
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
    if (count && count.expiresAt <= now) {
      this.counts.delete(key);
      return undefined;
    }
    return count;
  }

  // One more failure on `key`; past `allowance`, the delay doubles from 1 s up to the maximum.
  private bump(key: string, allowance: number, now: number): Count {
    const count = this.live(key, now) ?? { failures: 0, blockedUntil: 0, expiresAt: 0 };
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
      if (count.expiresAt <= now) this.counts.delete(key);
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
