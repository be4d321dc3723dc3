import { describe, expect, test } from 'vitest';
import { ValidationError } from '../errors';
import { applyExactPatch, exactOperations, patchBetweenTexts } from './exact-edit';

// An approver's edit made on the arguments' text: what it does not touch keeps its bytes.

const text =
  '{"amount": 4000, "order_id": 12345678901234567891, "rate": 1.0, "delta": -0, "huge": 1e400, "items": [{"sku": "a", "qty": 1.50}, 2], "k": "\\u00e9"}';

function edit(document: string, patchText: string): string {
  return applyExactPatch(document, exactOperations(JSON.parse(patchText), patchText));
}

describe('applyExactPatch', () => {
  test('replace keeps every other value as written, and the new one as the approver wrote it', () => {
    expect(edit(text, '[{"op": "replace", "path": "/amount", "value": 40.0}]')).toBe(
      '{"amount":40.0,"order_id":12345678901234567891,"rate":1.0,"delta":-0,"huge":1e400,"items":[{"sku": "a", "qty": 1.50}, 2],"k":"\\u00e9"}',
    );
  });

  test('add, remove, move, copy and test, nested and in lists', () => {
    const after = edit(
      text,
      `[
        {"op": "test", "path": "/order_id", "value": 12345678901234567891},
        {"op": "test", "path": "/rate", "value": 1},
        {"op": "add", "path": "/items/-", "value": 18446744073709551615},
        {"op": "remove", "path": "/items/1"},
        {"op": "copy", "from": "/items/0", "path": "/first"},
        {"op": "move", "from": "/huge", "path": "/items/0/limit"},
        {"op": "replace", "path": "/first/qty", "value": 3}
      ]`,
    );
    expect(after).toBe(
      '{"amount":4000,"order_id":12345678901234567891,"rate":1.0,"delta":-0,"items":[{"sku":"a","qty":1.50,"limit":1e400},18446744073709551615],"k":"\\u00e9","first":{"sku":"a","qty":3}}',
    );
  });

  test('test compares exactly: integers that are one double differ', () => {
    expect(() =>
      edit(text, '[{"op": "test", "path": "/order_id", "value": 12345678901234567892}]'),
    ).toThrow(/test failed/);
  });

  test('refuses paths that do not exist, and moves into themselves', () => {
    expect(() => edit(text, '[{"op": "replace", "path": "/nope", "value": 1}]')).toThrow(
      ValidationError,
    );
    expect(() => edit(text, '[{"op": "add", "path": "/amount/x", "value": 1}]')).toThrow(
      /not an object or a list/,
    );
    expect(() => edit(text, '[{"op": "move", "from": "/items", "path": "/items/0/x"}]')).toThrow(
      /into itself/,
    );
    expect(() => edit(text, '[{"op": "add", "path": "/__proto__", "value": 1}]')).toThrow(
      /__proto__/,
    );
  });

  test('a patch without its text writes the parsed values', () => {
    expect(
      applyExactPatch(
        text,
        exactOperations([{ op: 'replace', path: '/k', value: 'x' }], undefined),
      ),
    ).toContain('"k":"x"');
  });
});

describe('patchBetweenTexts', () => {
  test('names the top-level changes, exactly', () => {
    expect(
      patchBetweenTexts(
        '{"a": 12345678901234567891, "b": 1, "c": 2}',
        '{"a": 12345678901234567892, "b": 1, "d": 3}',
      ),
    ).toEqual([
      // The record's value is read plainly; the edited text is what runs (and is exact).
      { op: 'replace', path: '/a', value: JSON.parse('12345678901234567892') },
      { op: 'remove', path: '/c' },
      { op: 'add', path: '/d', value: 3 },
    ]);
  });
});
