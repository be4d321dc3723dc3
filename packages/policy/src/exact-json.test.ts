import { evaluate as celEvaluate } from '@marcbachmann/cel-js';
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { describe, expect, it } from 'vitest';
import {
  ExactJsonError,
  parseExactJson,
  parseExactJsonMembers,
  parseExactJsonParts,
} from './exact-json';

function failure(text: string, maxDepth?: number): ExactJsonError {
  try {
    parseExactJson(text, { maxDepth });
  } catch (error) {
    expect(error).toBeInstanceOf(ExactJsonError);
    return error as ExactJsonError;
  }
  throw new Error(`parsed: ${text}`);
}

describe('parseExactJson', () => {
  it('keeps integers exact as bigint, above int64 as uint, beyond uint64 as double', () => {
    expect(parseExactJson('12345678901234567891')).toBeInstanceOf(UnsignedInt);
    expect((parseExactJson('12345678901234567891') as UnsignedInt).valueOf()).toBe(
      12345678901234567891n,
    );
    expect(parseExactJson('9007199254740993')).toBe(9007199254740993n);
    expect(parseExactJson('9223372036854775807')).toBe(9223372036854775807n);
    expect(parseExactJson('-9223372036854775808')).toBe(-9223372036854775808n);
    expect((parseExactJson('18446744073709551615') as UnsignedInt).valueOf()).toBe(
      18446744073709551615n,
    );
    expect(parseExactJson('18446744073709551616')).toBe(2 ** 64);
    expect(parseExactJson('-9223372036854775809')).toBe(-(2 ** 63));
    expect(parseExactJson('0')).toBe(0n);
    expect(parseExactJson('-17')).toBe(-17n);
    expect(parseExactJson('123456789012345')).toBe(123456789012345n);
  });

  it('reads -0 as the integer 0, and fractions and exponents as doubles', () => {
    expect(parseExactJson('-0')).toBe(0n);
    expect(parseExactJson('1.0')).toBe(1);
    expect(typeof parseExactJson('1.0')).toBe('number');
    expect(parseExactJson('-0.5')).toBe(-0.5);
    expect(Object.is(parseExactJson('-0.0'), -0)).toBe(true);
    expect(parseExactJson('1e400')).toBe(Number.POSITIVE_INFINITY);
    expect(parseExactJson('-1e400')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseExactJson('2E3')).toBe(2000);
    expect(parseExactJson('1e-2')).toBe(0.01);
  });

  it('gives CEL the types it defines: int, uint and double compare exactly', () => {
    const args = parseExactJson(
      '{"id": 12345678901234567891, "n": 9007199254740993, "ratio": 1.0}',
    ) as Record<string, unknown>;
    expect(celEvaluate('args.id == 12345678901234567891u', { args })).toBe(true);
    expect(celEvaluate('args.id == 12345678901234567890u', { args })).toBe(false);
    expect(celEvaluate('args.n == 9007199254740993', { args })).toBe(true);
    expect(celEvaluate('args.n == 9007199254740992', { args })).toBe(false);
    expect(celEvaluate('type(args.ratio) == double', { args })).toBe(true);
    // JSON.parse gives a double, which CEL cannot tell from its neighbour.
    expect(JSON.parse('9007199254740993')).toBe(9007199254740992);
  });

  it('parses strings as JSON.parse does: escapes, astral characters, lone surrogates', () => {
    const samples = [
      '"caf\\u00e9 café 𝄞 \\ud834\\udd1e 😀"',
      '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
      '"\\ud800 lone"',
      '""',
      '"a\\u0000b"',
    ];
    for (const sample of samples) expect(parseExactJson(sample)).toBe(JSON.parse(sample));
  });

  it('keeps key order, and any key (including __proto__) as an own property', () => {
    const value = parseExactJson('{"z": 1, "a": 2, "__proto__": {"polluted": true}, "m": 3}');
    expect(Object.keys(value as object)).toEqual(['z', 'a', '__proto__', 'm']);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: true });
  });

  it('refuses duplicate keys, naming where', () => {
    const error = failure('{"kwargs": {"amount": 1, "amount": 1000}}');
    expect(error.path).toBe('kwargs.amount');
    expect(error.code).toBe('duplicate_key');
    expect(error.message).toMatch(/appears twice/);
  });

  it("refuses Python's bare NaN and Infinity with a reason, naming the field", () => {
    for (const [text, word] of [
      ['{"kwargs": {"amount": NaN}}', 'NaN'],
      ['{"kwargs": {"amount": Infinity}}', 'Infinity'],
      ['{"kwargs": {"amount": -Infinity}}', '-Infinity'],
      ['{"args": [1, NaN]}', 'NaN'],
    ] as const) {
      const error = failure(text);
      expect(error.path).toBe(text.includes('args": [') ? 'args[1]' : 'kwargs.amount');
      expect(error.reason).toContain(`${word} is not a JSON value`);
      expect(error.reason).toMatch(/Python/);
      expect(error.code).toBe('non_finite');
    }
  });

  it('names awkward keys readably in the path', () => {
    expect(failure('{"a b": [{"x": NaN}]}').path).toBe('["a b"][0].x');
  });

  it('bounds nesting (root container = 1) without overflowing the stack', () => {
    expect(parseExactJson(`${'['.repeat(64)}${']'.repeat(64)}`)).toBeDefined();
    expect(failure(`${'['.repeat(65)}${']'.repeat(65)}`).message).toMatch(/nested more than 64/);
    expect(failure(`${'['.repeat(100_000)}`).message).toMatch(/nested more than 64/);
    expect(failure('[[[]]]', 2).message).toMatch(/nested more than 2/);
    expect(failure('[[[]]]', 2).code).toBe('too_deep');
  });

  it('reads long strings as JSON.parse does, whatever stands where the scan leaves its loop', () => {
    // Past its first 32 characters a string is scanned by a regular expression (plainRun): put
    // each kind of character just before, at and after that point, and far beyond it.
    const specials = ['\\"', '\\\\', '\\n', '\\u00e9', '\\ud83d\\ude00', 'é', '😀', '"'];
    for (const at of [0, 1, 30, 31, 32, 33, 34, 64, 1000]) {
      for (const special of specials) {
        const inner = `${'a'.repeat(at)}${special === '"' ? '' : special}${'b'.repeat(40)}`;
        const text = `"${inner}"`;
        expect(parseExactJson(text), text).toBe(JSON.parse(text));
        const member = `{"k":${text},"n":"x"}`;
        expect(parseExactJson(member), member).toEqual(JSON.parse(member));
      }
      for (const bad of ['\t', '\u0001', '\u001f']) {
        const text = `"${'a'.repeat(at)}${bad}b"`;
        expect(() => JSON.parse(text)).toThrow();
        expect(failure(text).code).toBe('syntax');
        expect(failure(text).position).toBe(at + 1);
        // After an escape too (the scan after it is the regular expression's at once).
        const escaped = `"\\n${text.slice(1)}`;
        expect(failure(escaped).position).toBe(at + 3);
      }
      const open = `"${'a'.repeat(at)}`;
      expect(failure(open).reason).toBe('a string is not closed (no ending ")');
      expect(failure(`"\\n${'a'.repeat(at)}`).reason).toBe('a string is not closed (no ending ")');
    }
    const long = 'x'.repeat(300_000);
    expect(parseExactJson(`["${long}","${long}\\n"]`)).toEqual([long, `${long}\n`]);
  });

  it('refuses what JSON.parse refuses', () => {
    for (const text of [
      '',
      '   ',
      '{',
      '[1,]',
      '{"a":1,}',
      '01',
      '1.',
      '.5',
      '1e',
      '+1',
      '-',
      "'a'",
      '"unterminated',
      '"tab\there"',
      '"\\x"',
      '"\\u12"',
      '{a: 1}',
      'tru',
      'nul',
      '1 2',
      '[1 2]',
      '{"a" 1}',
    ]) {
      expect(() => JSON.parse(text), text).toThrow();
      expect(failure(text).code, text).toBe('syntax');
    }
  });

  it('agrees with JSON.parse on everything but numbers', () => {
    const text =
      ' { "tool_name" : "t", "args" : [ true , false , null , "x" , [ ] , { } ] , "kwargs" : { "s" : "\\u00e9é" } } ';
    expect(parseExactJson(text)).toEqual(JSON.parse(text));
  });
});

describe('parseExactJson of large and nested lists (elements read onto one shared list)', () => {
  it('builds each nested list from its own elements, small integers shared or not', () => {
    const value = Array.from({ length: 3000 }, (_, index) => [
      index - 1500,
      [index * 1000, [-index, 'x'], []],
      { l: [index % 3, index] },
    ]);
    const parsed = parseExactJson(JSON.stringify(value)) as unknown[];
    expect(parsed).toHaveLength(3000);
    expect(parsed[0]).toEqual([-1500n, [0n, [-0n, 'x'], []], { l: [0n, 0n] }]);
    expect(parsed[2999]).toEqual([1499n, [2999000n, [-2999n, 'x'], []], { l: [2n, 2999n] }]);
    expect(parsed[1000]).not.toBe(parsed[1001]);
  });

  it('reads correctly after a parse that failed inside a list, and after one beyond the kept size', () => {
    expect(() => parseExactJson('[[1, 2, [3, 4, NaN]]]')).toThrow(ExactJsonError);
    expect(parseExactJson('[[5], [6, [7]]]')).toEqual([[5n], [6n, [7n]]]);
    const large = parseExactJson(`[${'1,'.repeat((1 << 20) + 10)}2]`) as bigint[];
    expect(large).toHaveLength((1 << 20) + 11);
    expect(large.at(-1)).toBe(2n);
    expect(parseExactJson('[1, [2, 3], 4]')).toEqual([1n, [2n, 3n], 4n]);
  });
});

describe('parseExactJson with maxValues', () => {
  const tooMany = (text: string, maxValues: number): ExactJsonError => {
    try {
      parseExactJson(text, { maxValues });
    } catch (error) {
      expect(error).toBeInstanceOf(ExactJsonError);
      return error as ExactJsonError;
    }
    throw new Error(`parsed: ${text}`);
  };

  it('counts every value (root, members and elements, containers included; keys not)', () => {
    // The object, "x", the list, its 3 elements (one an object) and that object's null: 7.
    const text = '{"a": "x", "l": [1, true, {"k": null}]}';
    expect(parseExactJson(text, { maxValues: 7 })).toEqual({ a: 'x', l: [1n, true, { k: null }] });
    expect(tooMany(text, 6).code).toBe('too_many_values');
    expect(tooMany(text, 6).message).toBe('l[2].k: more than 6 JSON values; send fewer values');
    expect(parseExactJson('[]', { maxValues: 1 })).toEqual([]);
    expect(tooMany('[[]]', 1).code).toBe('too_many_values');
    expect(parseExactJsonMembers('{"a": {}}', { maxValues: 2 }).sources.get('a')).toBe('{}');
    expect(() => parseExactJsonMembers('{"a": {}, "b": 0}', { maxValues: 2 })).toThrow(
      /more than 2 JSON values/,
    );
  });

  it('stops reading at the first value past the limit, whatever follows', () => {
    // A million elements and then text that is not JSON: refused for its values, at the 11th.
    const text = `[${'1,'.repeat(1_000_000)}oops`;
    const error = tooMany(text, 10);
    expect(error.code).toBe('too_many_values');
    expect(error.position).toBe(1 + 9 * 2);
    expect(error.path).toBe('[9]');
    // The shared element list holds nothing of the refused parse: the next one reads correctly.
    expect(parseExactJson('[[1], 2]', { maxValues: 4 })).toEqual([[1n], 2n]);
  });
});

describe('parseExactJsonMembers', () => {
  it('returns the source text of each top-level value, byte for byte', () => {
    const text =
      '{"tool_name": "refund", "kwargs": {"b": 1.0, "a": 12345678901234567891, "s": "\\u00e9"},\n "args": [ -0 ,1e400 ] }';
    const { value, sources } = parseExactJsonMembers(text);
    expect(sources.get('kwargs')).toBe('{"b": 1.0, "a": 12345678901234567891, "s": "\\u00e9"}');
    expect(sources.get('args')).toBe('[ -0 ,1e400 ]');
    expect(sources.get('tool_name')).toBe('"refund"');
    expect(value.tool_name).toBe('refund');
  });

  it('refuses text that is not an object', () => {
    expect(() => parseExactJsonMembers('[1]')).toThrow(/expected a JSON object/);
  });
});

describe('parseExactJson against JSON.parse on random documents', () => {
  // A small seeded generator: the same documents on every run.
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const space = () => pick(['', '', ' ', '\n', '\t ', '\r\n']);
  function document(depth: number): string {
    const kind = depth > 4 ? random() * 4 : random() * 7;
    if (kind < 1)
      return pick([
        '0',
        '-0',
        '7',
        '-12',
        '9007199254740993',
        '123456789012345678901234',
        '1.0',
        '-0.5',
        '2e3',
        '1E-2',
        '1e400',
        '18446744073709551615',
      ]);
    if (kind < 2)
      return JSON.stringify(
        pick(['', 'a', 'é', '😀', '"q"', '\\', '\u0001', 'line\nbreak', '__proto__']),
      );
    if (kind < 3) return pick(['"caf\\u00e9"', '"\\ud83d\\ude00"', '"\\/"', '"\\ud800"']);
    if (kind < 4) return pick(['true', 'false', 'null']);
    if (kind < 5.5) {
      const items = Array.from(
        { length: Math.floor(random() * 4) },
        () => space() + document(depth + 1) + space(),
      );
      return `[${items.join(',')}]`;
    }
    const keys = new Set<string>();
    const members: string[] = [];
    for (let index = Math.floor(random() * 4); index > 0; index--) {
      const key = pick(['a', 'b', 'é', '__proto__', 'constructor', 'x y', '']);
      if (keys.has(key)) continue;
      keys.add(key);
      members.push(
        `${space()}${JSON.stringify(key)}${space()}:${space()}${document(depth + 1)}${space()}`,
      );
    }
    return `{${members.join(',')}}`;
  }
  const plain = (value: unknown): unknown => {
    if (typeof value === 'bigint') return Number(value);
    if (value instanceof UnsignedInt) return Number(value.valueOf());
    if (Array.isArray(value)) return value.map(plain);
    if (value !== null && typeof value === 'object') {
      const result: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        Object.defineProperty(result, key, {
          value: plain((value as Record<string, unknown>)[key]),
          enumerable: true,
        });
      }
      return result;
    }
    return value;
  };

  it('agrees on 3 000 documents (numbers compared as doubles)', () => {
    for (let round = 0; round < 3_000; round++) {
      const text = space() + document(0) + space();
      // Compared as JSON text: key order, own "__proto__" keys and every value, with numbers as
      // doubles (toStrictEqual would trip over objects that have a "constructor" key).
      expect(JSON.stringify(plain(parseExactJson(text))), JSON.stringify(text)).toBe(
        JSON.stringify(JSON.parse(text)),
      );
    }
  });
});

describe('parseExactJsonParts', () => {
  it("gives each top-level member's or element's text as written", () => {
    const array = parseExactJsonParts('[ 1.0, -0 ,{"a": [12345678901234567891]}, "\\u00e9"]');
    expect([...array.sources]).toEqual([
      ['0', '1.0'],
      ['1', '-0'],
      ['2', '{"a": [12345678901234567891]}'],
      ['3', '"\\u00e9"'],
    ]);
    expect(array.value).toEqual([1, 0n, { a: [new UnsignedInt(12345678901234567891n)] }, 'é']);
    const object = parseExactJsonParts('{"n": 1e400, "l": [1.50]}');
    expect([...object.sources]).toEqual([
      ['n', '1e400'],
      ['l', '[1.50]'],
    ]);
    expect(() => parseExactJsonParts('12')).toThrow(ExactJsonError);
  });
});
