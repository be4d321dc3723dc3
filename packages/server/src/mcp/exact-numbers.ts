import { InexactNumberError } from '@arden/core';

// The numbers of a call to an HTTP upstream, kept as the client wrote them. `JSON.parse` turns
// 12345678901234567891 into 12345678901234567000, 1.0 into 1 and -0 into 0, and the MCP SDK's
// client transport writes what it was given: the upstream would receive other bytes than the
// client sent, and the check would see other values than the upstream runs with. So a body that
// may hold such a number is parsed with each of them kept as raw JSON text (`JSON.rawJSON`,
// written back byte for byte by `JSON.stringify`), and the check reads them exactly (integers
// beyond 2^53 as BigInts, as the stdio gateway's `parseExactJson` does).

type RawJson = { readonly rawJSON: string };
const json = JSON as unknown as {
  rawJSON(text: string): RawJson;
  isRawJSON(value: unknown): value is RawJson;
};

/** Whether a body's text may hold a number JavaScript would write differently (cheap, may say yes wrongly). */
export function mayHoldRewrittenNumbers(text: string): boolean {
  return /\d{16}|\d\.\d|\d[eE]|-0/.test(text);
}

/** A `JSON.parse` reviver that keeps each number JavaScript would write differently as its text. */
export function keepNumberText(_key: string, value: unknown, context?: { source?: string }) {
  if (typeof value !== 'number' || context?.source === undefined) return value;
  return String(value) === context.source ? value : json.rawJSON(context.source);
}

const integerText = /^-?\d+$/;

/**
 * The arguments as the check reads them: a kept number becomes its exact value — a BigInt for
 * an integer beyond 2^53, else the number. Throws `InexactNumberError` for a number no value
 * holds (`1e400`). Arguments without kept numbers come back as they are.
 */
export function checkedArguments(value: Record<string, unknown>): Record<string, unknown> {
  return exactValue(value) as Record<string, unknown>;
}

function exactValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (json.isRawJSON(value)) {
    const text = value.rawJSON;
    const number = Number(text);
    if (!Number.isFinite(number)) throw new InexactNumberError(text);
    return integerText.test(text) && !Number.isSafeInteger(number) ? BigInt(text) : number;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, index) => {
      const exact = exactValue(item);
      if (exact !== item) {
        copy ??= [...value];
        copy[index] = exact;
      }
    });
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const exact = exactValue(item);
    if (exact !== item) {
      copy ??= { ...(value as Record<string, unknown>) };
      // Defined, not assigned: a key named __proto__ stays a key.
      Object.defineProperty(copy, key, {
        value: exact,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return copy ?? value;
}
