import { randomBytes } from 'node:crypto';

// Random bytes are drawn in blocks: one syscall per 256 ids instead of one per id.
let pool = Buffer.alloc(0);
let poolOffset = 0;

function random(size: number): Buffer {
  if (poolOffset + size > pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + size);
  poolOffset += size;
  return bytes;
}

let lastMilliseconds = 0;
let sequence = 0;

// The two hex digits of each byte value, as their two character codes.
const hexHigh = new Uint8Array(256);
const hexLow = new Uint8Array(256);
for (let byte = 0; byte < 256; byte++) {
  const digits = byte.toString(16).padStart(2, '0');
  hexHigh[byte] = digits.charCodeAt(0);
  hexLow[byte] = digits.charCodeAt(1);
}

// The id's text is written into this buffer and read out as one string: a template literal of
// twenty parts made about twenty intermediate strings an id (1.2 KB of garbage a check, which makes
// two), and the id was copied flat again when first hashed or bound.
const text = Buffer.alloc(36, 0x2d);

function putHex(position: number, byte: number): void {
  text[position] = hexHigh[byte] as number;
  text[position + 1] = hexLow[byte] as number;
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter that keeps ids made
 * in the same millisecond in order, then random bits. Time-ordered ids append at the right edge
 * of an index instead of scattering writes over it as random UUIDv4 keys do.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMilliseconds) {
    lastMilliseconds = now;
    sequence = random(2).readUInt16BE(0) & 0x1ff;
  } else {
    sequence++;
    if (sequence > 0xfff) {
      // More than 4096 ids in one millisecond: borrow the next millisecond to stay ordered.
      lastMilliseconds++;
      sequence = 0;
    }
  }
  const high = Math.floor(lastMilliseconds / 0x1_0000_0000) & 0xffff;
  const low = lastMilliseconds >>> 0;
  if (poolOffset + 8 > pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 8;
  const r = pool;
  // xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx; the dashes (8, 13, 18, 23) stay from the fill.
  putHex(0, high >>> 8);
  putHex(2, high & 0xff);
  putHex(4, low >>> 24);
  putHex(6, (low >>> 16) & 0xff);
  putHex(9, (low >>> 8) & 0xff);
  putHex(11, low & 0xff);
  putHex(14, 0x70 | (sequence >>> 8));
  putHex(16, sequence & 0xff);
  putHex(19, ((r[at] as number) & 0x3f) | 0x80);
  putHex(21, r[at + 1] as number);
  putHex(24, r[at + 2] as number);
  putHex(26, r[at + 3] as number);
  putHex(28, r[at + 4] as number);
  putHex(30, r[at + 5] as number);
  putHex(32, r[at + 6] as number);
  putHex(34, r[at + 7] as number);
  return text.toString('latin1', 0, 36);
}

/** Random hex of `bytes` bytes, from the cryptographic generator. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
