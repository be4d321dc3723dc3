import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** The environments a key can belong to. */
export type Environment = 'test' | 'live';

const apiKeyPattern = /^arden_(test|live)_[0-9a-f]{32}$/;

/**
 * A new agent API key: `arden_<environment>_` and 128 random bits in hex. Show it once; store
 * only `hashSecret(key)`.
 */
export function generateApiKey(environment: Environment): string {
  return `arden_${environment}_${randomBytes(16).toString('hex')}`;
}

/** The environment of a well-formed agent key, or undefined when the key is malformed. */
export function parseApiKey(key: string): Environment | undefined {
  const match = apiKeyPattern.exec(key);
  return match ? (match[1] as Environment) : undefined;
}

/** A new webhook signing key (shown to the admin; used as the HMAC key). */
export function generateSigningKey(): string {
  return `whsec_${randomBytes(32).toString('hex')}`;
}

/** A new opaque secret (session ids, admin tokens): `prefix` and 256 random bits in base64url. */
export function generateSecret(prefix = ''): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 hex of a high-entropy secret (API keys, admin tokens, session ids). A fast hash is
 * right for 128+ random bits: nothing can be guessed, so stretching would only cost latency on
 * every request. Passwords use `hashPassword` instead.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The first characters of a key, safe to show in lists (`arden_live_3e61…`). */
export function keyPrefix(key: string): string {
  return key.slice(0, key.startsWith('arden_') ? 15 : 8);
}

/** The cost parameters of a scrypt password hash (`N` = CPU/memory cost, `r` = block size). */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/**
 * The cost of new password hashes: OWASP's minimum for scrypt (N = 2^17, r = 8, p = 1; 128 MiB
 * and about a third of a second per hash on a small server). Hashes made with less are upgraded
 * at the next successful login.
 */
export const passwordHashCost: Readonly<ScryptCost> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

/**
 * A cost only for test suites (N = 2^10, about a millisecond), so tests that create users stay
 * quick. Nothing reads it from the environment or a flag: a server uses it only when code passes
 * `insecureTestPasswordHashing: true`, and any server without that option upgrades such hashes at
 * the next login.
 */
export const insecureTestPasswordHashCost: Readonly<ScryptCost> = Object.freeze({
  N: 2 ** 10,
  r: 8,
  p: 1,
});

/** The cost of new hashes: OWASP's minimum, or the test cost when a test suite asked for it. */
export function passwordHashCostFor(insecureTestPasswordHashing = false): Readonly<ScryptCost> {
  return insecureTestPasswordHashing ? insecureTestPasswordHashCost : passwordHashCost;
}

const keyLength = 32;
// A stored hash is read from our own database, but its numbers still pick how much memory and
// time scrypt takes: refuse absurd ones rather than stall the server.
const largestN = 2 ** 20;
const largestR = 32;
const largestP = 16;

/**
 * How many scrypt runs this process does at once (each takes 128·N·r bytes: 128 MiB at the
 * current cost, and a thread of libuv's pool, which DNS lookups and file access share); the rest
 * wait in line, first come first served.
 */
export const maxConcurrentPasswordHashes = 2;
let runningHashes = 0;
const waitingHashes: (() => void)[] = [];

/** How many scrypt runs are waiting for one of the `maxConcurrentPasswordHashes` slots now. */
export function passwordHashesWaiting(): number {
  return waitingHashes.length;
}

async function inHashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (runningHashes < maxConcurrentPasswordHashes) runningHashes++;
  else await new Promise<void>((resolve) => waitingHashes.push(resolve));
  try {
    return await work();
  } finally {
    // The slot passes straight to the next in line, if any.
    const next = waitingHashes.shift();
    if (next) next();
    else runningHashes--;
  }
}

function scryptAsync(
  password: string,
  salt: Buffer,
  length: number,
  cost: ScryptCost,
): Promise<Buffer> {
  return inHashSlot(() => scryptNow(password, salt, length, cost));
}

function scryptNow(
  password: string,
  salt: Buffer,
  length: number,
  cost: ScryptCost,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // scrypt needs 128·N·r bytes; Node refuses more than 32 MiB unless maxmem says otherwise.
    const maxmem = 128 * cost.N * cost.r + 128 * cost.r * cost.p + 1024 * 1024;
    scrypt(password, salt, length, { ...cost, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** Hashes a password with scrypt: `scrypt$N$r$p$<salt b64>$<hash b64>` (the hash records its cost). */
export async function hashPassword(
  password: string,
  cost: Readonly<ScryptCost> = passwordHashCost,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, keyLength, cost);
  const { N, r, p } = cost;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** The cost a `hashPassword` output records, or undefined when it is not one. */
export function passwordHashCostOf(stored: string): ScryptCost | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const valid =
    Number.isInteger(N) &&
    N > 1 &&
    N <= largestN &&
    (N & (N - 1)) === 0 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= largestR &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= largestP;
  return valid ? { N, r, p } : undefined;
}

/** Whether a stored hash was made with less than `cost` (and should be replaced at login). */
export function passwordNeedsRehash(
  stored: string,
  cost: Readonly<ScryptCost> = passwordHashCost,
): boolean {
  const recorded = passwordHashCostOf(stored);
  return (
    recorded === undefined || recorded.N < cost.N || recorded.r < cost.r || recorded.p < cost.p
  );
}

/** Checks a password against `hashPassword`'s output (at the cost it records), in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const cost = passwordHashCostOf(stored);
  if (!cost) return false;
  const parts = stored.split('$');
  const expected = Buffer.from(parts[5] as string, 'base64');
  if (expected.length === 0) return false;
  const key = await scryptAsync(
    password,
    Buffer.from(parts[4] as string, 'base64'),
    expected.length,
    cost,
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A stored hash at `cost` that no password matches (random salt and key): checking a password
 * against it costs what checking a real one does. Logins check unknown emails against it.
 */
export function unmatchablePasswordHash(cost: Readonly<ScryptCost> = passwordHashCost): string {
  const { N, r, p } = cost;
  return `scrypt$${N}$${r}$${p}$${randomBytes(16).toString('base64')}$${randomBytes(keyLength).toString('base64')}`;
}

/**
 * `verifyPassword`, except that a wrong password checked against a hash made at less than
 * `target` (before the cost was raised) is also checked against a random hash at `target`:
 * otherwise how fast a login fails would tell which accounts still have old hashes. That makes
 * such a failure take the current cost's time plus the old one's (an eighth more for N = 2^14);
 * topping up with more passes at the old N instead comes out faster, since a small N works in
 * the CPU's cache. A right password is not padded — the caller replaces the old hash then.
 */
export async function verifyPasswordWithWorkOf(
  password: string,
  stored: string,
  target: Readonly<ScryptCost> = passwordHashCost,
): Promise<boolean> {
  const matches = await verifyPassword(password, stored);
  if (!matches && passwordNeedsRehash(stored, target)) {
    await scryptAsync('', randomBytes(16), keyLength, target);
  }
  return matches;
}
