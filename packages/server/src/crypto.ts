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

const scryptParameters = { N: 16384, r: 8, p: 1, keyLength: 32 };

function scryptAsync(password: string, salt: Buffer, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      keyLength,
      { N: scryptParameters.N, r: scryptParameters.r, p: scryptParameters.p },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/** Hashes a password with scrypt: `scrypt$N$r$p$<salt b64>$<hash b64>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, scryptParameters.keyLength);
  const { N, r, p } = scryptParameters;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Checks a password against `hashPassword`'s output, in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltText, hashText] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hashText, 'base64');
  const key = await new Promise<Buffer>((resolve, reject) => {
    scrypt(
      password,
      Buffer.from(saltText, 'base64'),
      expected.length,
      { N: Number(n), r: Number(r), p: Number(p) },
      (error, derived) => (error ? reject(error) : resolve(derived)),
    );
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
