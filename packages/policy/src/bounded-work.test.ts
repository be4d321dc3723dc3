import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeShape } from './arg-types';
import { KEPT_KEYS_MIN, keysOf } from './budget';
import { compilePolicies, evaluate, parseExactJson } from './index';

// The work around an evaluation, which the budget's units and clock do not see, is bounded too
// (issue #12, item 2: "any check at the body limit decides in ≤ 10 ms"). Timings are measured in
// bench/ (adversarial-policy); these tests check the work is not done at all.

afterEach(() => {
  vi.restoreAllMocks();
});

function decide(condition: string, args: Record<string, unknown>, now?: Date) {
  const set = compilePolicies([
    { name: 'G', tool: 't', rules: [{ if: condition, then: 'allow' }], default: 'block' },
  ]);
  return evaluate(set, { tool: 't', args, now });
}

const largeMap = (size: number, key = (index: number) => `k${index}`) =>
  `{${Array.from({ length: size }, (_, index) => `"${key(index)}": ${index}`).join(', ')}}`;

describe('a large map parsed by parseExactJson comes with its keys', () => {
  it('lists them as Object.keys does, without listing the map again', () => {
    const texts = [
      largeMap(100),
      // Array indices come first in Object.keys, in numeric order, wherever they were read.
      largeMap(100, (index) => (index % 3 === 0 ? String(1000 - index) : `k${index}`)),
      largeMap(KEPT_KEYS_MIN + 5, (index) => (index < KEPT_KEYS_MIN ? `k${index}` : String(index))),
      largeMap(60, (index) =>
        index === 40 ? '__proto__' : index === 41 ? '4294967295' : `${index}x`,
      ),
    ];
    for (const text of texts) {
      const value = parseExactJson(text) as object;
      const expected = Object.keys(value);
      const listing = vi.spyOn(Object, 'keys');
      expect(keysOf(value)).toEqual(expected);
      expect(listing).not.toHaveBeenCalled();
      listing.mockRestore();
    }
  });

  it('sizes, macros and comparisons over it read the recorded keys', () => {
    const args = parseExactJson(`{"m": ${largeMap(100)}, "n": ${largeMap(80)}}`) as Record<
      string,
      unknown
    >;
    const listing = vi.spyOn(Object, 'keys');
    expect(decide('args.m.size() == 100 && args.m.exists(k, k == "k99")', args).reason).toBe(
      'rule_matched',
    );
    // Maps of different sizes differ: decided without the library listing both.
    expect(decide('args.m != args.n && !(args.m == args.n) && {} != args.m', args).reason).toBe(
      'rule_matched',
    );
    expect(listing).not.toHaveBeenCalledWith(args.m);
    expect(listing).not.toHaveBeenCalledWith(args.n);
  });

  it('compares maps as before', () => {
    const parsed = parseExactJson(`{"a": ${largeMap(40)}, "b": ${largeMap(40)}}`) as Record<
      string,
      unknown
    >;
    expect(decide('args.a == args.b', parsed).reason).toBe('rule_matched');
    expect(decide('args.a == {"x": 1} || args.a != args.b', parsed).reason).toBe('policy_default');
    expect(decide('{"x": 1} != {"x": 1, "y": 2}', {}).reason).toBe('rule_matched');
    expect(decide('{"x": 1} == {"x": 2}', {}).reason).toBe('policy_default');
    expect(decide('args.a == args.b', { a: { x: 1 }, b: { x: 1.0 } }).reason).toBe('rule_matched');
  });
});

describe('the shape of the arguments, logged after an error, is bounded', () => {
  it('looks at a bounded number of values', () => {
    const nested = Array.from({ length: 64 }, () => Array.from({ length: 64 }, () => 1));
    const args = Object.fromEntries(
      Array.from({ length: 32 }, (_, index) => [`a${index}`, nested]),
    );
    const shape = describeShape(args);
    expect(shape.startsWith('{a0: list<list<double>[64]|list<double|…>[64]|…>[64], a1: ')).toBe(
      true,
    );
    // The values looked at are spent within the first argument: the rest show their length.
    expect(shape).toContain('a31: list<…>[64]}');
    expect(shape.length).toBeLessThan(1000);
  });

  it('describes small arguments as before', () => {
    expect(describeShape({ a: [1, 'x', [true]], m: { b: 1 }, s: 'abc' })).toBe(
      '{a: list<double|string|list<bool>[1]>[3], m: map[1], s: string[3]}',
    );
    expect(describeShape({ l: [] })).toBe('{l: list<empty>[0]}');
  });

  it('sizes a large parsed map from its recorded keys', () => {
    const args = parseExactJson(`{"m": ${largeMap(5000)}}`) as Record<string, unknown>;
    const listing = vi.spyOn(Object, 'keys');
    expect(describeShape(args)).toBe('{m: map[5000]}');
    expect(listing).not.toHaveBeenCalledWith(args.m);
  });
});

describe('time zones', () => {
  const functions = [
    'getDate',
    'getDayOfMonth',
    'getDayOfWeek',
    'getDayOfYear',
    'getFullYear',
    'getHours',
    'getMilliseconds',
    'getMinutes',
    'getMonth',
    'getSeconds',
  ];

  // The library's own definition (cel-js 8.0.0, lib/functions.js: tzDate and its callers).
  function library(name: string, date: Date, zone: string): bigint {
    const local = new Date(date.toLocaleString('en-US', { timeZone: zone }));
    switch (name) {
      case 'getDayOfMonth':
        return BigInt(local.getDate() - 1);
      case 'getDayOfWeek':
        return BigInt(local.getDay());
      case 'getDayOfYear': {
        const start = new Date(local.getFullYear(), 0, 0);
        return BigInt(Math.floor((local.getTime() - start.getTime()) / 86_400_000) - 1);
      }
      case 'getMilliseconds':
        return BigInt(date.getUTCMilliseconds());
      default:
        return BigInt((local as unknown as Record<string, () => number>)[name]?.() ?? Number.NaN);
    }
  }

  it("give the library's answers, with each zone's formatter kept", () => {
    const zones = ['Europe/Paris', 'Asia/Tokyo', 'America/St_Johns', 'Pacific/Chatham', 'UTC'];
    let seed = 7;
    const random = () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    for (let round = 0; round < 40; round++) {
      const now = new Date(Math.floor(random() * 4e12));
      const zone = zones[round % zones.length] as string;
      const expected = functions.map((name) => `${library(name, now, zone)}`).join(', ');
      const condition = `[${functions.map((name) => `now.${name}(args.zone)`).join(', ')}] == [${expected}]`;
      expect(decide(condition, { zone }, now).reason).toBe('rule_matched');
    }
  });

  it('refuse an unknown zone, except getMilliseconds (which ignores it, as the library does)', () => {
    expect(decide('now.getHours(args.zone) == 1', { zone: 'Nowhere/City' }).reason).toBe(
      'condition_error',
    );
    expect(decide('now.getMilliseconds(args.zone) >= 0', { zone: 'Nowhere/City' }).reason).toBe(
      'rule_matched',
    );
  });
});

describe('error messages', () => {
  it('quote no part of a long value, whatever the library put in the message', () => {
    const value = `secret-${'x'.repeat(5000)}`;
    const decision = decide('bool(args.s)', { s: value });
    expect(decision.reason).toBe('condition_error');
    expect(decision.errors[0]?.message).not.toMatch(/secret|xxx/);
  });
});
