import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { afterEach, describe, expect, it } from 'vitest';
import { keysOf } from './budget';
import {
  ExactJsonError,
  parseExactJson,
  parseExactJsonMembers,
  setBulkObjects,
} from './exact-json';

// Large flat objects are read in bulk (`flatRest`: the members collected, the object built by
// `JSON.parse`, the integers put back in): it must give exactly what reading member by member
// gives — every value of the same type and value, the keys in the same order, the same keys
// remembered, the same error at the same place.

/** Every value with its type, keys in order, own `__proto__` included: equal iff identical. */
function typed(value: unknown): unknown {
  if (typeof value === 'bigint') return `int:${value}`;
  if (value instanceof UnsignedInt) return `uint:${value.valueOf()}`;
  if (typeof value === 'number') return Object.is(value, -0) ? 'double:-0' : `double:${value}`;
  if (typeof value === 'string') return `string:${value}`;
  if (Array.isArray(value)) return value.map(typed);
  if (value !== null && typeof value === 'object') {
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    const keys = Object.keys(value);
    // The keys remembered for a large object are its keys, in order.
    if (keys.length >= 32) expect(keysOf(value)).toEqual(keys);
    return keys.map((key) => [key, typed((value as Record<string, unknown>)[key])]);
  }
  return value;
}

type Outcome =
  | { value: unknown; sources?: [string, string][] }
  | { error: Pick<ExactJsonError, 'code' | 'path' | 'position' | 'reason'> };

function outcome(parse: () => unknown): Outcome {
  try {
    const result = parse();
    if (result !== null && typeof result === 'object' && 'sources' in result) {
      const members = result as { value: unknown; sources: Map<string, string> };
      return { value: typed(members.value), sources: [...members.sources] };
    }
    return { value: typed(result) };
  } catch (error) {
    if (!(error instanceof ExactJsonError)) throw error;
    const { code, path, position, reason } = error;
    return { error: { code, path, position, reason } };
  }
}

/** The outcome in bulk and member by member, which must be the same. */
function both(parse: () => unknown): Outcome {
  setBulkObjects(false);
  const expected = outcome(parse);
  setBulkObjects(true);
  const actual = outcome(parse);
  expect(actual).toEqual(expected);
  return actual;
}

const SCALARS = [
  '0',
  '-0',
  '1',
  '-17',
  '999',
  '1024',
  '123456789012345',
  '9007199254740993',
  '-9223372036854775808',
  '9223372036854775808',
  '18446744073709551615',
  '18446744073709551616',
  '123456789012345678901234567890',
  '1.0',
  '-0.0',
  '0.5',
  '2e3',
  '1E-2',
  '1e400',
  '-1e400',
  '"text"',
  '""',
  '"caf\\u00e9"',
  '"\\ud83d\\ude00"',
  '"\\ud800"',
  '"\\"quoted\\" \\\\ \\/ \\b\\f\\n\\r\\t"',
  `"${'long '.repeat(20)}"`,
  'true',
  'false',
  'null',
];

function member(key: string, value: string, space = ''): string {
  return `${space}${JSON.stringify(key)}${space}:${space}${value}${space}`;
}

describe('large flat objects read in bulk', () => {
  afterEach(() => setBulkObjects(true));

  it('gives every kind of scalar exactly as member by member, in key order', () => {
    const members = Array.from({ length: 200 }, (_, index) =>
      member(`key-${index}`, SCALARS[index % SCALARS.length] as string, index % 7 ? '' : ' \n'),
    );
    const text = `{"kwargs": {${members.join(',')}}}`;
    const result = both(() => parseExactJson(text));
    expect('value' in result).toBe(true);
    const kwargs = (parseExactJson(text) as { kwargs: Record<string, unknown> }).kwargs;
    expect(kwargs['key-0']).toBe(0n);
    expect(kwargs['key-1']).toBe(0n);
    expect(kwargs['key-7']).toBe(9007199254740993n);
    expect(kwargs['key-10']).toBeInstanceOf(UnsignedInt);
    expect(kwargs['key-11']).toBe(2 ** 64);
    expect(typeof kwargs['key-13']).toBe('number');
    expect(Object.is(kwargs['key-14'], -0)).toBe(true);
    expect(kwargs['key-18']).toBe(Number.POSITIVE_INFINITY);
    expect(kwargs['key-22']).toBe('café');
    expect(Object.keys(kwargs)).toHaveLength(200);
  });

  it('keeps __proto__ an own property (with an integer put back in too), never the prototype', () => {
    for (const value of ['5', '"x"', 'null', '123456789012345678901']) {
      const members = Array.from({ length: 140 }, (_, index) => member(`k${index}`, '1'));
      members.splice(35, 0, member('__proto__', value));
      const parsed = parseExactJson(`{${members.join(',')}}`) as Record<string, unknown>;
      expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
      expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
      both(() => parseExactJson(`{${members.join(',')}}`));
    }
    expect(({} as Record<string, unknown>)[5]).toBeUndefined();
  });

  it('refuses a repeated key where member by member does, wherever the copies stand', () => {
    const base = Array.from({ length: 200 }, (_, index) => member(`k${index}`, String(index)));
    for (const [first, second] of [
      [3, 10],
      [3, 145],
      [140, 150],
      [127, 128],
      [130, 131],
      [198, 199],
    ] as const) {
      const members = [...base];
      members[second] = member(`k${first}`, '7');
      const result = both(() => parseExactJson(`{"m": {${members.join(',')}}}`));
      expect(result).toMatchObject({ error: { code: 'duplicate_key', path: `m.k${first}` } });
    }
  });

  it('refuses the first error in the text: a repeat before a later error, an error before a repeat', () => {
    const members = Array.from({ length: 200 }, (_, index) => member(`k${index}`, String(index)));
    const repeatFirst = [...members];
    repeatFirst[140] = member('k1', '1');
    repeatFirst[150] = member('k150', 'NaN');
    expect(both(() => parseExactJson(`{${repeatFirst.join(',')}}`))).toMatchObject({
      error: { code: 'duplicate_key' },
    });
    const errorFirst = [...members];
    errorFirst[140] = member('k140', 'NaN');
    errorFirst[150] = member('k1', '1');
    expect(both(() => parseExactJson(`{${errorFirst.join(',')}}`))).toMatchObject({
      error: { code: 'non_finite', path: 'k140' },
    });
    // A syntax error in the object itself, and one inside a string value.
    both(() => parseExactJson(`{${members.join(',')},}`));
    both(() => parseExactJson(`{${members.join(',')} "k": 1}`));
    both(() => parseExactJson(`{${members.join(',')}, "k" 1}`));
    both(() => parseExactJson(`{${members.join(',')}, "bad": "\\x"}`));
    both(() => parseExactJson(`{${members.join(',')}, "open": "`));
    both(() => parseExactJson(`{${members.join(',')}`));
    // Keys written with escapes, read; a bad escape, a control character, an open key.
    expect(
      both(() => parseExactJson(`{${members.join(',')}, "\\u00e9t\\u00e9": 1, "\\"q": 2}`)),
    ).toMatchObject({ value: expect.arrayContaining([['été', 'int:1']]) });
    both(() => parseExactJson(`{${members.join(',')}, "\\q": 1}`));
    both(() => parseExactJson(`{${members.join(',')}, "a\u0001": 1}`));
    both(() => parseExactJson(`{${members.join(',')}, "open`));
    both(() => parseExactJson(`{${members.join(',')}, "k1": 1, "\\q": 1}`));
    both(() => parseExactJson(`{${members.join(',')}, "é": 1, "k": 1.5.5}`));
  });

  it('goes back to member by member at a nested value or an array index, with the same result', () => {
    const members = Array.from({ length: 200 }, (_, index) => member(`k${index}`, String(index)));
    for (const [at, value] of [
      [129, '{"a": [1, 2.5, {"b": 12345678901234567891}]}'],
      [160, '[1, 2, 3]'],
      [199, '{}'],
    ] as const) {
      const nested = [...members];
      nested[at] = member(`k${at}`, value);
      both(() => parseExactJson(`{"m": {${nested.join(',')}}}`));
      // A repeat of a collected key found by the ordinary path after going back.
      nested[at + 1 < 200 ? at + 1 : 0] = member('k140', '1');
      both(() => parseExactJson(`{"m": {${nested.join(',')}}}`));
    }
    for (const index of ['7', '0', '4294967294', '4294967295', '01']) {
      const keyed = [...members];
      keyed[150] = member(index, '"i"');
      both(() => parseExactJson(`{${keyed.join(',')}}`));
    }
  });

  it('counts values as member by member and stops at the same one', () => {
    const members = Array.from({ length: 200 }, (_, index) => member(`k${index}`, '"v"'));
    const text = `{"kwargs": {${members.join(',')}}}`;
    for (const maxValues of [50, 150, 201, 202, 203]) {
      both(() => parseExactJson(text, { maxValues }));
    }
    const repeated = [...members];
    repeated[160] = member('k2', '1');
    expect(
      both(() => parseExactJson(`{"kwargs": {${repeated.join(',')}}}`, { maxValues: 180 })),
    ).toMatchObject({ error: { code: 'duplicate_key' } });
  });

  it('gives the top-level members their source text when the body itself is large', () => {
    const members = Array.from({ length: 170 }, (_, index) =>
      member(`k${index}`, SCALARS[index % SCALARS.length] as string, ' '),
    );
    const text = `{"tool_name": "t", ${members.join(',')}}`;
    const result = both(() => parseExactJsonMembers(text));
    expect('sources' in result && result.sources?.length).toBe(171);
    const { sources } = parseExactJsonMembers(text);
    expect(sources.get('k0')).toBe('0');
    expect(sources.get('k13')).toBe('1.0');
  });

  it('agrees with member by member on 400 generated documents', () => {
    let seed = 4242;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    for (let round = 0; round < 400; round++) {
      const size = 100 + Math.floor(random() * 150);
      const members: string[] = [];
      for (let index = 0; index < size; index++) {
        const roll = random();
        // Mostly fresh keys; now and then a repeat, an index, an awkward key.
        const key =
          roll < 0.01
            ? `k${Math.floor(random() * (index + 1))}`
            : roll < 0.015
              ? String(Math.floor(random() * 50))
              : roll < 0.03
                ? pick(['__proto__', 'constructor', 'é', 'a b', '', '\\u0041'])
                : `k${index}`;
        const value =
          random() < 0.01 ? pick(['[1, 2]', '{"x": 1}', '[]', 'NaN', '01']) : pick(SCALARS);
        members.push(member(key, value, random() < 0.1 ? ' ' : ''));
      }
      both(() => parseExactJson(`{"kwargs": {${members.join(',')}}}`));
    }
  });
});

describe('the keys remembered for a large object', () => {
  afterEach(() => setBulkObjects(true));

  it('list an empty key where Object.keys does (it is not an array index)', () => {
    const members = Array.from({ length: 140 }, (_, index) => member(`k${index}`, '1'));
    members.splice(135, 0, member('', '2'));
    for (const bulk of [true, false]) {
      setBulkObjects(bulk);
      const value = parseExactJson(`{${members.join(',')}}`) as object;
      expect(keysOf(value)).toEqual(Object.keys(value));
      expect(keysOf(value).indexOf('')).toBe(135);
      // And after an array index (listed first), read member by member.
      const indexed = parseExactJson(`{"7": 0, ${members.join(',')}}`) as object;
      expect(keysOf(indexed)).toEqual(Object.keys(indexed));
      expect(keysOf(indexed).indexOf('')).toBe(136);
    }
  });
});
