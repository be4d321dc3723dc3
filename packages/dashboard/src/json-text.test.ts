import { describe, expect, it } from 'vitest';
import { formatJsonText, jsonEntries, tokenize } from './json-text';

const sent =
  '{"order_id": 12345678901234567891, "amount": 1.0, "zero": -0, "huge": 1e400, "note": "caf\\u00e9 \\ud83d\\ude00 😀", "a": {"z": [1.50, {}], "b": []}}';

describe('JSON text, shown as sent', () => {
  it('lists the top-level entries with their value text sliced from what was sent', () => {
    expect(jsonEntries(sent)).toEqual([
      ['order_id', '12345678901234567891'],
      ['amount', '1.0'],
      ['zero', '-0'],
      ['huge', '1e400'],
      ['note', '"caf\\u00e9 \\ud83d\\ude00 😀"'],
      ['a', '{"z": [1.50, {}], "b": []}'],
    ]);
    expect(jsonEntries('[ 12345678901234567891 , "x,y" ]')).toEqual([
      ['#0', '12345678901234567891'],
      ['#1', '"x,y"'],
    ]);
    expect(jsonEntries('{}')).toEqual([]);
    expect(jsonEntries('7')).toBeUndefined();
  });

  it('lays out nested values token by token, numbers and escapes untouched', () => {
    expect(formatJsonText('{"z": [1.50, {}], "b": [], "s": "a\\"}{,b"}')).toBe(
      '{\n  "z": [\n    1.50,\n    {}\n  ],\n  "b": [],\n  "s": "a\\"}{,b"\n}',
    );
  });

  it('keeps string tokens whole, escaped quotes included', () => {
    expect(tokenize('["a\\"b", 1e400]').map((token) => token.text)).toEqual([
      '[',
      '"a\\"b"',
      ',',
      '1e400',
      ']',
    ]);
  });
});
