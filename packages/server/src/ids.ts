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

// Two hex digits of each byte value.
const hexOf = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

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
  // Written as text directly (no 16-byte buffer, its hex and five slices): a check makes two.
  const high = Math.floor(lastMilliseconds / 0x1_0000_0000) & 0xffff;
  const low = lastMilliseconds >>> 0;
  if (poolOffset + 8 > pool.length) {
    pool = randomBytes(4096);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 8;
  const r = pool;
  return `${hexOf[high >>> 8]}${hexOf[high & 0xff]}${hexOf[low >>> 24]}${hexOf[(low >>> 16) & 0xff]}-${hexOf[(low >>> 8) & 0xff]}${hexOf[low & 0xff]}-${hexOf[0x70 | (sequence >>> 8)]}${hexOf[sequence & 0xff]}-${hexOf[((r[at] as number) & 0x3f) | 0x80]}${hexOf[r[at + 1] as number]}-${hexOf[r[at + 2] as number]}${hexOf[r[at + 3] as number]}${hexOf[r[at + 4] as number]}${hexOf[r[at + 5] as number]}${hexOf[r[at + 6] as number]}${hexOf[r[at + 7] as number]}`;
}

/** Random hex of `bytes` bytes, from the cryptographic generator. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
