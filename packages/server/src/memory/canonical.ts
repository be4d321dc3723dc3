import { hash } from 'node:crypto';
import { isExactUint } from '@arden/policy';

/**
 * Canonical JSON of a value: object keys sorted (by UTF-16 code units), no spaces, numbers in
 * their shortest form (`1.0`, `1e0` and `1` are one number; an exact big integer, a CEL `uint`
 * included, as its digits). Two calls whose arguments differ only in formatting have the same
 * canonical JSON. Used to compare calls, never to store or send them (the log keeps the
 * arguments verbatim). A number the value no longer holds exactly (an integer beyond uint64, or
 * one beyond a double's range such as `1e400`) is written from its text when the text is known
 * (`argumentsHash`), else as the nearest double (`Infinity`, not JSON, when it is not finite).
 */
export function canonicalJson(value: unknown): string {
  return write(value, { inexact: false });
}

/** Written while walking a value: whether it holds a number that is not exact (`inexact`). */
interface Walk {
  inexact: boolean;
}

/** Above this a double integer may be a rounded integer of the text (beyond uint64: a double). */
const exactDoubleLimit = 2 ** 64;

/** A number that has a source text beside it (`JSON.parse`'s reviver), not rounded. */
class ExactNumber {
  constructor(readonly text: string) {}
}

/** Above this power of ten an integer's text is written as digits and power, not all its digits. */
const maxWrittenPower = 1_000;

/**
 * The exact decimal value of a JSON number's text: its sign, its digits without leading or
 * trailing zeros, and the power of ten (`-1.50e400`: `-`, `15`, 399); undefined for zero.
 */
function exactDecimal(text: string): { sign: string; digits: string; power: number } | undefined {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null) return undefined;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  const digits = (whole + fraction).replace(/^0+/, '');
  const trimmed = digits.replace(/0+$/, '');
  if (trimmed === '') return undefined;
  const power = Number(exponent) - fraction.length + (digits.length - trimmed.length);
  return { sign, digits: trimmed, power };
}

function write(value: unknown, walk: Walk): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) {
        // `1e400` read as a double (JSON has no Infinity): never like `null`; its text, when
        // known, tells it from `1e401`.
        walk.inexact = true;
        return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
      }
      if (Math.abs(value) >= exactDoubleLimit && Number.isInteger(value)) walk.inexact = true;
      return JSON.stringify(value);
    case 'bigint':
      // An exact integer that a double holds exactly reads like that double.
      return Number.isSafeInteger(Number(value)) ? JSON.stringify(Number(value)) : value.toString();
    case 'object':
      break;
    default:
      return 'null';
  }
  // A plain object (the common case: arguments parsed from JSON) is none of the special ones.
  if (Object.getPrototypeOf(value) === Object.prototype) {
    return writeObject(value as Record<string, unknown>, walk);
  }
  if (isExactUint(value)) {
    // A CEL `uint` (above int64's maximum): an object whose value is private, kept as digits.
    return String(value.valueOf());
  }
  if (value instanceof ExactNumber) return writeExactNumber(value.text, walk);
  if (Array.isArray(value)) {
    let text = '[';
    for (let index = 0; index < value.length; index++) {
      // A hole is skipped, as `forEach` would (arguments parsed from JSON have none).
      if (!(index in value)) continue;
      if (index > 0) text += ',';
      text += write(value[index], walk);
    }
    return `${text}]`;
  }
  if (value instanceof Map) {
    const entries = [...value.entries()].map(([key, entry]) => [String(key), entry] as const);
    entries.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    let text = '{';
    for (const [index, [key, entry]] of entries.entries()) {
      if (index > 0) text += ',';
      text += `${JSON.stringify(key)}:${write(entry, walk)}`;
    }
    return `${text}}`;
  }
  return writeObject(value as Record<string, unknown>, walk);
}

/** An object by its own enumerable string keys (as `Object.entries`), sorted. */
function writeObject(object: Record<string, unknown>, walk: Walk): string {
  // Sorted by UTF-16 code units, as the default sort compares strings (no two keys are equal).
  const keys = Object.keys(object).sort();
  let text = '{';
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    if (index > 0) text += ',';
    text += `${JSON.stringify(key)}:${write(object[key], walk)}`;
  }
  return `${text}}`;
}

/**
 * A number from its text: an integer (whatever its notation) as an exact integer, any other
 * number as its double, and one no double holds by its exact decimal value.
 */
function writeExactNumber(text: string, walk: Walk): string {
  const exact = exactDecimal(text);
  if (exact === undefined) return '0';
  if (exact.power >= 0 && exact.power <= maxWrittenPower) {
    return write(BigInt(`${exact.sign}${exact.digits}${'0'.repeat(exact.power)}`), walk);
  }
  const number = Number(text);
  if (Number.isFinite(number) && exact.power < 0) return write(number, walk);
  return `${exact.sign}${exact.digits}e${exact.power}`;
}

/** JSON text with every number kept as its text (`ExactNumber`), for `writeExactNumber`. */
function parseWithNumbers(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && context?.source !== undefined
      ? new ExactNumber(context.source)
      : value,
  );
}

/**
 * The hash of a call's arguments (positional and keyword) in canonical JSON: what "the same
 * arguments" means for refused repeats and `session.denied(pattern, args)`. With the arguments'
 * texts as sent (`texts`), a number their values no longer hold exactly (an integer beyond
 * uint64, `1e400`) is read from the text: distinct numbers are distinct calls.
 */
export function argumentsHash(
  args: unknown,
  kwargs: unknown,
  texts?: { argsJson: string; kwargsJson: string },
): string {
  const walk: Walk = { inexact: false };
  // As the canonical JSON of `[args, kwargs]`.
  let canonical = `[${write(args ?? [], walk)},${write(kwargs ?? {}, walk)}]`;
  if (walk.inexact && texts !== undefined) {
    const exact = exactArguments(texts);
    if (exact !== undefined) canonical = exact;
  }
  return hash('sha256', canonical, 'base64url').slice(0, 32);
}

/** Canonical JSON of the arguments from their texts (undefined when a text is not JSON). */
function exactArguments(texts: { argsJson: string; kwargsJson: string }): string | undefined {
  try {
    return write(
      [parseWithNumbers(texts.argsJson) ?? [], parseWithNumbers(texts.kwargsJson) ?? {}],
      { inexact: false },
    );
  } catch {
    return undefined;
  }
}
