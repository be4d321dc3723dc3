import { describe, expect, test } from 'vitest';
import { ArdenServerError, ConflictError } from '../errors';
import { decode, encode, fromWireError, toWireError } from './wire';

describe('the test server wire', () => {
  test('values cross as JSON with big integers kept', () => {
    const value = { kwargs: { amount: 12345678901234567890n, list: [1n, 'x', null] }, n: 1 };
    expect(decode(encode(value))).toEqual(value);
    // An object that only looks like a tag, but has more keys, stays an object.
    const lookalike = { __ardenBigInt__: '1', other: true };
    expect(decode(encode(lookalike))).toEqual(lookalike);
  });

  test("a server error keeps its class's status, code and name; others their message", () => {
    const conflict = fromWireError(toWireError(new ConflictError('already approved')));
    expect(ArdenServerError.isInstance(conflict)).toBe(true);
    expect(conflict).toMatchObject({
      name: 'ConflictError',
      message: 'already approved',
      status: 409,
      code: 'conflict',
    });
    const plain = fromWireError(toWireError(new RangeError('out of range')));
    expect([plain.name, plain.message, ArdenServerError.isInstance(plain)]).toEqual([
      'RangeError',
      'out of range',
      false,
    ]);
    expect(fromWireError(toWireError('thrown string')).message).toBe('thrown string');
  });
});
