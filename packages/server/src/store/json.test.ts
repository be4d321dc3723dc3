import { describe, expect, it } from 'vitest';
import { RawJson, stringifyJson } from './json';

describe('stringifyJson', () => {
  it('writes RawJson text byte for byte, everything else as JSON.stringify does', () => {
    const kwargs = '{"z": 12345678901234567891, "a":1.0, "s": "\\u00e9é😀", "n": -0}';
    const text = stringifyJson({
      context: new RawJson(kwargs),
      args: [new RawJson('[ 1e400 ]')],
      c: 'x',
    });
    expect(text).toBe(`{"context":${kwargs},"args":[[ 1e400 ]],"c":"x"}`);
    expect(stringifyJson({ a: 1, b: [null, 'two'] })).toBe(
      JSON.stringify({ a: 1, b: [null, 'two'] }),
    );
  });

  it('keeps indentation around raw values', () => {
    expect(stringifyJson({ a: new RawJson('[1.0]') }, 2)).toBe('{\n  "a": [1.0]\n}');
  });

  it('is not fooled by a string that looks like its placeholder', () => {
    const text = stringifyJson({
      note: '\u0000raw-json-000000000000000000000000-0',
      a: new RawJson('1.50'),
    });
    expect(JSON.parse(text).note).toBe('\u0000raw-json-000000000000000000000000-0');
    expect(text).toContain('"a":1.50');
  });

  it('reads as the parsed value under a plain JSON.stringify', () => {
    expect(JSON.stringify({ a: new RawJson('{"x": 1.0}') })).toBe('{"a":{"x":1}}');
  });
});
