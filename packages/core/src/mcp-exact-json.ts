/**
 * JSON parsing that keeps what Arden checks equal to what the upstream receives. The gateway
 * forwards a call's line unchanged, so the check must see the same values: integers beyond
 * 2^53 stay exact (as BigInts, which core sends as exact JSON integers), and a number that has
 * no exact JavaScript value (`1e400`) is refused rather than checked as something else.
 */

/** Thrown when a message holds a number the check could not carry exactly. */
export class InexactNumberError extends Error {
  constructor(readonly source: string) {
    super(
      `The call holds the number ${source.slice(0, 40)}, which cannot be checked exactly (it is beyond what a double holds, or this Node.js does not give parsers the number's text — Node.js 22+ does).`,
    );
    this.name = 'InexactNumberError';
  }
}

type ReviverContext = { source?: string } | undefined;

/** Whether this Node.js passes the source text of numbers to revivers (Node.js 21+), so big integers stay exact. */
export const sourceTextAccess = (() => {
  let seen = false;
  JSON.parse('1', (_key, value, context?: ReviverContext) => {
    if (context?.source === '1') seen = true;
    return value;
  });
  return seen;
})();

const integerText = /^-?\d+$/;

/**
 * `JSON.parse`, except that integers a double cannot hold exactly become BigInts, and a number
 * whose value would change (an overflow to Infinity, or any integer beyond 2^53 on a Node.js
 * without source text access) throws `InexactNumberError`. Other syntax errors throw `SyntaxError`.
 */
export function parseExactJson(text: string): unknown {
  return JSON.parse(text, function revive(_key, value: unknown, context?: ReviverContext) {
    if (typeof value !== 'number') return value;
    if (!Number.isFinite(value)) throw new InexactNumberError(context?.source ?? String(value));
    if (Number.isSafeInteger(value) || !Number.isInteger(value)) return value;
    // An integer beyond 2^53: exact only when we can read its digits.
    if (!sourceTextAccess || context?.source === undefined) {
      throw new InexactNumberError(String(value));
    }
    const source = context.source;
    return integerText.test(source) ? BigInt(source) : value;
  });
}
