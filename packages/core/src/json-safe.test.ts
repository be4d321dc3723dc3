import { describe, expect, it } from 'vitest';
import { isPlainObject, stringifyWire, toJsonSafe, toWireSafe } from './json-safe';

class Money {
  constructor(
    public amount: number,
    public currency: string,
  ) {}
  get doubled() {
    return this.amount * 2;
  }
}

describe('toJsonSafe', () => {
  it('converts values JSON cannot carry', () => {
    const map = new Map<string, unknown>([['a', 1n]]);
    const value = {
      when: new Date('2026-01-02T03:04:05.000Z'),
      big: 12345678901234567890n,
      map,
      objectKeys: new Map<unknown, unknown>([[{ id: 1 }, 'x']]),
      set: new Set([1, 2]),
      money: new Money(5, 'EUR'),
      fn: function refund() {},
      arrow: () => 1,
      symbol: Symbol('s'),
      nan: Number.NaN,
      infinite: Number.POSITIVE_INFINITY,
      skipped: undefined,
      error: new TypeError('boom'),
      bytes: new Uint8Array(3),
      pattern: /a+/g,
    };
    expect(toJsonSafe(value)).toEqual({
      when: '2026-01-02T03:04:05.000Z',
      big: '12345678901234567890',
      map: { a: '1' },
      objectKeys: [[{ id: 1 }, 'x']],
      set: [1, 2],
      money: { amount: 5, currency: 'EUR' },
      fn: '[Function refund]',
      arrow: '[Function arrow]',
      symbol: 'Symbol(s)',
      nan: 'NaN',
      infinite: 'Infinity',
      error: { name: 'TypeError', message: 'boom' },
      bytes: '[Uint8Array 3 bytes]',
      pattern: '/a+/g',
    });
  });

  it('marks cycles but keeps repeated (non-cyclic) references', () => {
    const shared = { id: 1 };
    const node: Record<string, unknown> = { name: 'root', left: shared, right: shared };
    node.self = node;
    expect(toJsonSafe(node)).toEqual({
      name: 'root',
      left: { id: 1 },
      right: { id: 1 },
      self: '[Circular]',
    });
  });

  it('never throws, even on hostile objects', () => {
    const hostile = {
      get boom() {
        throw new Error('getter');
      },
    };
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('trap');
        },
      },
    );
    expect(toJsonSafe({ hostile })).toEqual({ hostile: '[Unserializable]' });
    expect(toJsonSafe(proxy)).toBe('[Unserializable]');
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let index = 0; index < 100; index++) {
      cursor.next = {};
      cursor = cursor.next as Record<string, unknown>;
    }
    expect(JSON.stringify(toJsonSafe(deep))).toContain('[Too deep]');
  });

  it('uses toJSON where a class defines it', () => {
    const withToJson = { toJSON: () => ({ replaced: true }) };
    expect(toJsonSafe(withToJson)).toEqual({ replaced: true });
  });

  it('knows plain objects', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    expect(isPlainObject(new Money(1, 'x'))).toBe(false);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(new Date())).toBe(false);
  });
});

describe('toWireSafe and stringifyWire', () => {
  it('send a BigInt as an exact JSON integer', () => {
    const value = toWireSafe({
      id: 12345678901234567891n,
      negative: -9007199254740993n,
      list: [1n, 'x'],
      when: new Date('2026-01-02T03:04:05.000Z'),
    });
    expect(stringifyWire(value)).toBe(
      '{"id":12345678901234567891,"negative":-9007199254740993,"list":[1,"x"],"when":"2026-01-02T03:04:05.000Z"}',
    );
  });

  it('write what JSON.stringify writes when there is no BigInt', () => {
    const value = { a: 1.5, b: ['x', null], c: { d: true } };
    expect(stringifyWire(value)).toBe(JSON.stringify(value));
  });

  it('never turn a string that looks like a marker into a number', () => {
    const text = stringifyWire({ n: 5n, s: '\u0000bigint-000000000000000000000000:42' });
    expect(JSON.parse(text).s).toBe('\u0000bigint-000000000000000000000000:42');
    expect(text).toContain('"n":5,');
  });

  it('toJsonSafe still turns BigInts into strings', () => {
    expect(toJsonSafe({ id: 12345678901234567891n })).toEqual({ id: '12345678901234567891' });
  });
});
