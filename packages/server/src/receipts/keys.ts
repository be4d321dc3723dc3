import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  scryptSync,
  sign,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ReceiptPublicKey } from '@arden/core';
import type { ReceiptKeyRecord } from './repository';

// Ed25519 receipt keys: made with node:crypto, kept encrypted at rest (AES-256-GCM under a key
// derived with scrypt from the operator's secret), signing compact JWS (EdDSA).

/** The stored receipt keys cannot be opened with the secret given. */
export class ReceiptKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReceiptKeyError';
  }
}

const scryptCost = { N: 16_384, r: 8, p: 1 };
const format = 'v1';

const b64 = (bytes: Buffer) => bytes.toString('base64url');

/** Encrypts a PKCS#8 private key with the operator's secret. */
export function encryptPrivateKey(pkcs8: Buffer, secret: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = scryptSync(secret, salt, 32, scryptCost);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  return [format, b64(salt), b64(iv), b64(cipher.getAuthTag()), b64(ciphertext)].join('.');
}

/** Decrypts what `encryptPrivateKey` wrote; throws `ReceiptKeyError` for another secret. */
export function decryptPrivateKey(stored: string, secret: string): KeyObject {
  const [version, salt, iv, tag, ciphertext] = stored.split('.');
  if (version !== format || !salt || !iv || !tag || !ciphertext) {
    throw new ReceiptKeyError('A stored receipt key is in an unknown format.');
  }
  try {
    const key = scryptSync(secret, Buffer.from(salt, 'base64url'), 32, scryptCost);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const pkcs8 = Buffer.concat([
      decipher.update(Buffer.from(ciphertext, 'base64url')),
      decipher.final(),
    ]);
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch {
    throw new ReceiptKeyError(
      'The receipt signing keys in the database cannot be decrypted with this receipt secret (ARDEN_RECEIPT_SECRET or the receipt-secret file): it is not the secret they were stored with. Start with the original secret; if it is lost, see docs/security.md ("Lost receipt secret").',
    );
  }
}

/** A new Ed25519 key: its stored record and its private key. */
export function generateReceiptKey(
  secret: string,
  now: number,
): { record: ReceiptKeyRecord; privateKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x as string;
  const kid = `ak_${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}_${randomBytes(4).toString('hex')}`;
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    record: {
      kid,
      publicKey: x,
      privateKey: encryptPrivateKey(pkcs8, secret),
      createdAt: now,
      retiredAt: null,
    },
    privateKey,
  };
}

/** The public JWK of a stored key, as `/.well-known/arden-keys.json` lists it. */
export function publicJwk(record: ReceiptKeyRecord): ReceiptPublicKey {
  return {
    kty: 'OKP',
    crv: 'Ed25519',
    kid: record.kid,
    x: record.publicKey,
    alg: 'EdDSA',
    use: 'sig',
    created_at: new Date(record.createdAt).toISOString(),
    retired_at: record.retiredAt === null ? null : new Date(record.retiredAt).toISOString(),
  };
}

/** Signs `payload` as a compact JWS (EdDSA) with `kid` in its header. */
export function signCompact(
  payload: unknown,
  kid: string,
  privateKey: KeyObject,
  type = 'arden-receipt+jwt',
): string {
  const header = protectedHeader(kid, type);
  const body = b64(Buffer.from(JSON.stringify(payload)));
  const signature = sign(null, Buffer.from(`${header}.${body}`), privateKey);
  return `${header}.${body}.${b64(signature)}`;
}

// The encoded JWS header of a key and type: the same for every receipt the key signs.
const headers = new Map<string, string>();
function protectedHeader(kid: string, type: string): string {
  const cacheKey = `${kid}\n${type}`;
  let header = headers.get(cacheKey);
  if (header === undefined) {
    header = b64(Buffer.from(JSON.stringify({ alg: 'EdDSA', kid, typ: type })));
    if (headers.size >= 64) headers.clear();
    headers.set(cacheKey, header);
  }
  return header;
}

/** Checks a public key record against its private key (a swapped row is refused). */
export function matchesPublicKey(record: ReceiptKeyRecord, privateKey: KeyObject): boolean {
  return createPublicKey(privateKey).export({ format: 'jwk' }).x === record.publicKey;
}

/**
 * The secret that protects receipt keys when the operator gave none: a file beside the SQLite
 * database, made on first start (mode 0600), so one machine's data and its secret stay
 * together. Returns the secret and whether it was just made.
 */
export function secretFromFile(path: string): { secret: string; created: boolean } {
  if (existsSync(path)) {
    return { secret: readFileSync(path, 'utf8').trim(), created: false };
  }
  mkdirSync(dirname(path), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { secret, created: true };
}
