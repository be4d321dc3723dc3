import { describe, expect, test } from 'vitest';
import { uuidv7 } from './ids';

// The fields of an id, as RFC 9562 lays them out.
function fields(id: string) {
  const hex = id.replaceAll('-', '');
  return {
    milliseconds: Number.parseInt(hex.slice(0, 12), 16),
    version: Number.parseInt(hex[12] as string, 16),
    counter: Number.parseInt(hex.slice(13, 16), 16),
    variant: Number.parseInt(hex[16] as string, 16) >> 2,
  };
}

describe('uuidv7', () => {
  test('carries the time, version 7, the RFC 9562 variant, in the 8-4-4-4-12 form', () => {
    for (const now of [0, 1, 255, 0x1_0000_0000, 1_765_000_000_123]) {
      const id = uuidv7(now);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const parsed = fields(id);
      expect(parsed.version).toBe(7);
      expect(parsed.variant).toBe(2);
      // An earlier time than the last id's borrows the last id's millisecond (ordered).
      expect(parsed.milliseconds).toBeGreaterThanOrEqual(now);
    }
  });

  test('ids of one millisecond and of later ones sort in the order they were made', () => {
    const start = 2_000_000_000_000;
    const ids: string[] = [];
    for (let index = 0; index < 10_000; index++) ids.push(uuidv7(start + Math.floor(index / 3000)));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // 3 000 in one millisecond fit its counter: the time is exact.
    expect(fields(ids[0] as string).milliseconds).toBe(start);
    expect(fields(ids[3000] as string).milliseconds).toBe(start + 1);
  });

  test('the random part varies', () => {
    const tails = new Set(Array.from({ length: 1000 }, () => uuidv7(2_100_000_000_000).slice(19)));
    expect(tails.size).toBe(1000);
  });

  test('an id keeps its text once later ids are made (each is its own string)', () => {
    const first = uuidv7(2_200_000_000_000);
    const copy = first.split('').join('');
    const later = Array.from({ length: 100 }, (_, index) => uuidv7(2_300_000_000_000 + index));
    expect(first).toBe(copy);
    expect(fields(first).milliseconds).toBe(2_200_000_000_000);
    expect(later.includes(first)).toBe(false);
    expect(fields(later[99] as string).milliseconds).toBe(2_300_000_000_099);
  });
});
