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
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(lastMilliseconds, 0, 6);
  bytes.writeUInt16BE(0x7000 | sequence, 6);
  random(8).copy(bytes, 8);
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Random hex of `bytes` bytes, from the cryptographic generator. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
