const encoder = new TextEncoder();

function toBytes(value: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return typeof value === 'string' ? encoder.encode(value) : new Uint8Array(value);
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index++) {
    bytes[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  }
  return bytes;
}

function concat(left: Uint8Array, right: Uint8Array): Uint8Array<ArrayBuffer> {
  const joined = new Uint8Array(left.length + right.length);
  joined.set(left, 0);
  joined.set(right, left.length);
  return joined;
}

async function hmacKey(signingKey: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey(
    'raw',
    toBytes(signingKey),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    [usage],
  );
}

/**
 * Signs a webhook body the way the Arden server does: `sha256=` and the hex HMAC-SHA256 of
 * `"{timestamp}.{raw body}"` with the agent's signing key. Useful in tests of webhook receivers.
 */
export async function signWebhookPayload(
  body: string | Uint8Array,
  timestamp: string | number,
  signingKey: string,
): Promise<string> {
  const key = await hmacKey(signingKey, 'sign');
  const signed = concat(toBytes(`${timestamp}.`), toBytes(body));
  const digest = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, signed));
  return `sha256=${Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** Why a signature check failed, or undefined when it passed. */
export async function signatureProblem(
  body: string | Uint8Array,
  timestamp: string | undefined | null,
  signature: string | undefined | null,
  signingKey: string,
  toleranceSeconds: number,
  nowSeconds: number,
): Promise<string | undefined> {
  if (!timestamp) return 'the X-Arden-Timestamp header is missing';
  if (!signature) return 'the X-Arden-Signature header is missing';
  if (!/^\d{1,12}$/.test(timestamp)) return 'the X-Arden-Timestamp header is not a unix time';
  const age = nowSeconds - Number(timestamp);
  if (Math.abs(age) > toleranceSeconds) {
    return `the timestamp is ${Math.round(Math.abs(age))} s ${age > 0 ? 'old' : 'in the future'}, beyond the ${toleranceSeconds} s tolerance (a replayed or delayed delivery, or a wrong clock)`;
  }
  const expected = signature.startsWith('sha256=') ? signature.slice('sha256='.length) : undefined;
  const bytes = expected === undefined ? undefined : hexToBytes(expected);
  if (!bytes) return 'the X-Arden-Signature header is not of the form sha256=<hex>';
  const key = await hmacKey(signingKey, 'verify');
  // subtle.verify compares in constant time.
  const valid = await globalThis.crypto.subtle.verify(
    'HMAC',
    key,
    bytes,
    concat(toBytes(`${timestamp}.`), toBytes(body)),
  );
  return valid
    ? undefined
    : 'the signature does not match (wrong signing key, or the body was changed)';
}

/**
 * Checks an Arden webhook's signature in constant time, and that its timestamp is within
 * `toleranceSeconds` (default 300) of now, so a replayed delivery is refused. Pass the raw body
 * exactly as received, before any JSON parsing.
 */
export async function verifyWebhookSignature(
  body: string | Uint8Array,
  timestamp: string | undefined | null,
  signature: string | undefined | null,
  signingKey: string,
  options: { toleranceSeconds?: number; now?: () => number } = {},
): Promise<boolean> {
  const nowSeconds = (options.now?.() ?? Date.now()) / 1000;
  const problem = await signatureProblem(
    body,
    timestamp,
    signature,
    signingKey,
    options.toleranceSeconds ?? 300,
    nowSeconds,
  );
  return problem === undefined;
}
