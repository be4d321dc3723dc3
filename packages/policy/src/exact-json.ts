import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { KEPT_KEYS_MIN, rememberKeys } from './budget';

// A JSON parser that loses nothing a policy could compare: `JSON.parse` turns every number into
// a double, so 12345678901234567891 reads as 12345678901234567000 and `1.0` as `1`. Here a
// number written without a fraction or exponent is an integer and stays exact (CEL `int`, or
// `uint` above int64), anything else is a CEL `double`. It also refuses what `JSON.parse`
// quietly accepts or resolves one way while other parsers resolve it another: duplicate keys
// (the policy could check one value while the tool runs with the other). Hand-written rather
// than a library: the libraries that keep big numbers exact (json-bigint, lossless-json) either
// allow duplicate keys, re-parse every number through a regex, or return wrapper objects for
// every number; this one makes the values CEL uses directly, in one pass.

/** The deepest nesting `parseExactJson` accepts unless told otherwise (root container = 1). */
export const EXACT_JSON_MAX_DEPTH = 64;

const int64Max = 9_223_372_036_854_775_807n;
const int64Min = -9_223_372_036_854_775_808n;
const uint64Max = 18_446_744_073_709_551_615n;

/**
 * The CEL value of an integer, by the rule `parseExactJson` applies: within int64 the `bigint`
 * itself (CEL `int`), above int64's maximum up to uint64's a cel-js `UnsignedInt` (CEL `uint`),
 * beyond either the nearest `number` (CEL `double`).
 */
export function exactInteger(value: bigint): bigint | UnsignedInt | number {
  if (value <= int64Max && value >= int64Min) return value;
  if (value > int64Max && value <= uint64Max) return new UnsignedInt(value);
  return Number(value);
}

/**
 * Whether `value` is a CEL `uint` as `parseExactJson` makes it (an integer above int64's maximum):
 * a JS object, so code that tells JSON objects apart must rule it out.
 */
export function isExactUint(value: unknown): value is UnsignedInt {
  return value instanceof UnsignedInt;
}

/** Options of `parseExactJson`. */
export interface ExactJsonOptions {
  /** The deepest nesting of arrays and objects allowed (default 64; the root container is 1). */
  maxDepth?: number;
  /**
   * The most JSON values the text may hold (default: no limit): every number, string, boolean,
   * null, array and object counts one, the root and each member's and element's value (a key does
   * not count). The parse stops at the first value past it (`too_many_values`), so a large text
   * costs no more to refuse than the limit's worth of values.
   */
  maxValues?: number;
}

/**
 * The text is not JSON, or is JSON that would be read differently by different parsers.
 * `path` names the value (`kwargs.amount`, `args[2]`; empty at the top), `position` the
 * character offset in the text.
 */
export class ExactJsonError extends SyntaxError {
  override readonly name = 'ExactJsonError';
  constructor(
    /**
     * `syntax`: not JSON; `non_finite`: a bare NaN or (-)Infinity; `duplicate_key`: a key twice
     * in one object; `too_deep`: nested beyond `maxDepth`; `too_many_values`: more values than
     * `maxValues`.
     */
    readonly code: 'syntax' | 'non_finite' | 'duplicate_key' | 'too_deep' | 'too_many_values',
    /** What is wrong, without the path. */
    readonly reason: string,
    readonly path: string,
    readonly position: number,
  ) {
    super(path ? `${path}: ${reason}` : reason);
  }
}

/** A JSON object with the source text of each of its members' values, as written. */
export interface ExactJsonMembers {
  value: Record<string, unknown>;
  /** The exact text of each member's value, byte for byte (whitespace inside kept). */
  sources: Map<string, string>;
}

/**
 * Parses JSON text into the values a CEL condition compares exactly:
 * - an integer (no fraction, no exponent) → `bigint` (CEL `int`); above int64's maximum and up
 *   to uint64's → cel-js `UnsignedInt` (CEL `uint`); beyond either → `number` (CEL `double`).
 *   `-0` is the integer `0n`.
 * - any other number (`1.0`, `2.5e3`, `1e400`) → `number` (CEL `double`; `1e400` is Infinity);
 * - strings, booleans, null, arrays and objects as `JSON.parse` makes them (a `"__proto__"` key
 *   is an own property, never the prototype).
 *
 * Throws `ExactJsonError` for text that is not JSON — with a plain-language reason for Python's
 * bare `NaN`, `Infinity` and `-Infinity` — for a duplicate key in an object, and for nesting
 * deeper than `maxDepth` or more values than `maxValues`. Pure and synchronous; recursion is
 * bounded by `maxDepth`.
 */
export function parseExactJson(text: string, options: ExactJsonOptions = {}): unknown {
  parser.start(text, options, undefined);
  return parser.whole(() => {
    parser.skipSpace();
    const value = parser.value(0);
    parser.end();
    return value;
  });
}

/**
 * Like `parseExactJson` for text that must hold an object, and also returns the exact source
 * text of each member's value: what the server stores and sends back so that the call shown
 * and replayed is the call that was checked, byte for byte.
 */
export function parseExactJsonMembers(
  text: string,
  options: ExactJsonOptions = {},
): ExactJsonMembers {
  const sources = new Map<string, string>();
  parser.start(text, options, sources);
  return parser.whole(() => {
    parser.skipSpace();
    if (text.charCodeAt(parser.index) !== 123) {
      throw parser.error('expected a JSON object ({…}) here');
    }
    const value = parser.value(0) as Record<string, unknown>;
    parser.end();
    return { value, sources };
  });
}

/**
 * Like `parseExactJsonMembers` for text that holds an object or an array: the exact source text
 * of each member's value, or of each element (keyed `"0"`, `"1"`, …). What an edit of stored
 * arguments walks, so that every value it does not change keeps its bytes.
 */
export function parseExactJsonParts(
  text: string,
  options: ExactJsonOptions = {},
): { value: Record<string, unknown> | unknown[]; sources: Map<string, string> } {
  const sources = new Map<string, string>();
  parser.start(text, options, sources);
  return parser.whole(() => {
    parser.skipSpace();
    const first = text.charCodeAt(parser.index);
    if (first !== 123 && first !== 91) {
      throw parser.error('expected a JSON object ({…}) or array ([…]) here');
    }
    const value = parser.value(0) as Record<string, unknown> | unknown[];
    parser.end();
    return { value, sources };
  });
}

function describe(code: number): string {
  return Number.isNaN(code) ? 'the end of the text' : JSON.stringify(String.fromCharCode(code));
}

const bareWords: [string, string][] = [
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['-Infinity', '-Infinity'],
];

/**
 * The elements of the arrays being read, shared by every parse (a parse runs to its end without
 * yielding, so one at a time): growing a fresh array for every large list costs 4× the parse
 * itself (64 ms against 16 for 524 000 elements on the development machine — each growth copies
 * and the new memory is touched once more), reusing this one does not. Cleared after each array,
 * so it holds no value of a parse after it; shrunk after a list of more than `KEPT_ELEMENTS`.
 */
const elements: unknown[] = [];
const KEPT_ELEMENTS = 1 << 20;

/** Integers below this are made once and shared by every parse. */
const SMALL_INTEGERS = 1024;
const positiveIntegers = Array.from({ length: SMALL_INTEGERS }, (_, value) => BigInt(value));
const negativeIntegers = positiveIntegers.map((value) => -value);

/**
 * The characters of a string that need no look (not `"`, `\\` or a control character), from
 * `lastIndex` on: a long string is scanned by the regular expression engine's native code rather
 * than by the loop in `string()`, whose speed depends on how far V8 has optimised it — and after a
 * full garbage collection V8 often drops that code, so a 250 KiB string read by the bytecode
 * interpreter took ~4 ms where it takes ~0.2 ms optimised (docs/performance.md, row 8). Strings up
 * to `INLINE_SCAN` characters stay in the loop (cheaper than the call for a short one).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids them unescaped in a string: the scan stops at them.
const plainRun = /[^"\\\u0000-\u001f]*/y;
const INLINE_SCAN = 32;

/** Where the run of plain characters starting at `index` ends (see `plainRun`). */
function plainRunEnd(text: string, index: number): number {
  plainRun.lastIndex = index;
  plainRun.test(text);
  return plainRun.lastIndex;
}

class Parser {
  private text = '';
  index = 0;
  /** Where the elements of the array being read start on `elements` (nested ones above). */
  private top = 0;
  /** Set to collect the source text of the top-level object's members. */
  private sources: Map<string, string> | undefined = undefined;
  private readonly path: (string | number)[] = [];
  private maxDepth = EXACT_JSON_MAX_DEPTH;
  /** Values still allowed (`maxValues`, counted down as each value starts). */
  private valuesLeft = Number.POSITIVE_INFINITY;
  private maxValues = Number.POSITIVE_INFINITY;

  /** Sets the parser up for a parse of `text` (then `whole` runs it). */
  start(text: string, options: ExactJsonOptions, sources: Map<string, string> | undefined): void {
    this.text = text;
    this.index = 0;
    this.top = 0;
    this.sources = sources;
    this.path.length = 0;
    this.maxDepth = options.maxDepth ?? EXACT_JSON_MAX_DEPTH;
    this.maxValues = options.maxValues ?? Number.POSITIVE_INFINITY;
    this.valuesLeft = this.maxValues;
  }

  /** Runs a whole parse; after an error, `elements` lets go of what the parse had put there. */
  whole<T>(parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      elements.length = 0;
      throw error;
    } finally {
      // Holds nothing of this parse after it (the text may be a 256 KiB body).
      this.text = '';
      this.sources = undefined;
    }
  }

  error(reason: string, at = this.index, code: ExactJsonError['code'] = 'syntax'): ExactJsonError {
    let path = '';
    for (const segment of this.path) {
      path +=
        typeof segment === 'number'
          ? `[${segment}]`
          : /^[A-Za-z_$][\w$]*$/.test(segment)
            ? `${path ? '.' : ''}${segment}`
            : `[${JSON.stringify(segment)}]`;
    }
    return new ExactJsonError(code, reason, path, at);
  }

  skipSpace(): void {
    const text = this.text;
    let index = this.index;
    for (;;) {
      const code = text.charCodeAt(index);
      if (code === 32 || code === 10 || code === 13 || code === 9) index++;
      else break;
    }
    this.index = index;
  }

  end(): void {
    this.skipSpace();
    if (this.index < this.text.length) {
      throw this.error(
        `unexpected ${describe(this.text.charCodeAt(this.index))} after the JSON value at character ${this.index}`,
      );
    }
  }

  value(depth: number): unknown {
    if (--this.valuesLeft < 0) throw this.tooMany();
    const code = this.text.charCodeAt(this.index);
    switch (code) {
      case 34:
        return this.string();
      case 123:
        return this.object(depth + 1);
      case 91:
        return this.array(depth + 1);
      case 116:
        return this.word('true', true);
      case 102:
        return this.word('false', false);
      case 110:
        return this.word('null', null);
      default:
        if (code === 45 || (code >= 48 && code <= 57)) return this.number();
        throw this.unexpected();
    }
  }

  private unexpected(): ExactJsonError {
    for (const [word, shown] of bareWords) {
      if (this.text.startsWith(word, this.index)) {
        return this.error(
          `${shown} is not a JSON value (Python's json module writes it for float('${shown === 'NaN' ? 'nan' : shown === 'Infinity' ? 'inf' : '-inf'}')); send a finite number, or null, or the value as a string`,
          this.index,
          'non_finite',
        );
      }
    }
    const code = this.text.charCodeAt(this.index);
    return this.error(
      Number.isNaN(code)
        ? 'the JSON text ends where a value was expected'
        : `unexpected ${describe(code)} at character ${this.index} where a JSON value was expected`,
    );
  }

  private word(word: string, value: boolean | null): boolean | null {
    if (!this.text.startsWith(word, this.index)) throw this.unexpected();
    this.index += word.length;
    return value;
  }

  private number(): unknown {
    const text = this.text;
    const start = this.index;
    let index = start;
    let code = text.charCodeAt(index);
    const negative = code === 45;
    if (negative) {
      index++;
      if (text.startsWith('Infinity', index)) throw this.unexpected();
      code = text.charCodeAt(index);
    }
    let small = 0;
    const digitsStart = index;
    if (code === 48) {
      index++;
      code = text.charCodeAt(index);
    } else if (code >= 49 && code <= 57) {
      do {
        small = small * 10 + (code - 48);
        index++;
        code = text.charCodeAt(index);
      } while (code >= 48 && code <= 57);
    } else {
      this.index = index;
      throw this.error(`a number needs a digit at character ${index}`);
    }
    const digits = index - digitsStart;
    let integer = true;
    if (code === 46) {
      integer = false;
      index++;
      code = text.charCodeAt(index);
      if (!(code >= 48 && code <= 57)) {
        this.index = index;
        throw this.error(`a number needs a digit after "." at character ${index}`);
      }
      do code = text.charCodeAt(++index);
      while (code >= 48 && code <= 57);
    }
    if (code === 101 || code === 69) {
      integer = false;
      code = text.charCodeAt(++index);
      if (code === 43 || code === 45) code = text.charCodeAt(++index);
      if (!(code >= 48 && code <= 57)) {
        this.index = index;
        throw this.error(`a number needs a digit in its exponent at character ${index}`);
      }
      do code = text.charCodeAt(++index);
      while (code >= 48 && code <= 57);
    }
    this.index = index;
    if (!integer) return Number(text.slice(start, index));
    // Small integers are shared (a bigint is immutable): no allocation for the common ones.
    if (digits <= 3 && small < SMALL_INTEGERS) {
      return (negative ? negativeIntegers : positiveIntegers)[small];
    }
    // Up to 15 digits a double holds the value exactly: skip BigInt's string parsing.
    if (digits <= 15) return BigInt(negative ? -small : small);
    return exactInteger(BigInt(text.slice(start, index)));
  }

  private string(): string {
    const text = this.text;
    const start = this.index + 1;
    let index = start;
    for (;;) {
      const code = text.charCodeAt(index);
      if (code === 34) {
        this.index = index + 1;
        return text.slice(start, index);
      }
      if (code === 92) break;
      if (code < 32 || Number.isNaN(code)) throw this.badCharacter(code, index);
      if (++index - start === INLINE_SCAN) index = plainRunEnd(text, index);
    }
    let result = text.slice(start, index);
    let chunk = index;
    for (;;) {
      const code = text.charCodeAt(index);
      if (code === 34) {
        this.index = index + 1;
        return result + text.slice(chunk, index);
      }
      if (code === 92) {
        result += text.slice(chunk, index);
        const escaped = text.charCodeAt(index + 1);
        switch (escaped) {
          case 34:
            result += '"';
            break;
          case 92:
            result += '\\';
            break;
          case 47:
            result += '/';
            break;
          case 98:
            result += '\b';
            break;
          case 102:
            result += '\f';
            break;
          case 110:
            result += '\n';
            break;
          case 114:
            result += '\r';
            break;
          case 116:
            result += '\t';
            break;
          case 117: {
            const hex = text.slice(index + 2, index + 6);
            if (!/^[0-9A-Fa-f]{4}$/.test(hex)) {
              this.index = index;
              throw this.error(`\\u needs four hex digits at character ${index}`);
            }
            result += String.fromCharCode(Number.parseInt(hex, 16));
            index += 4;
            break;
          }
          default:
            this.index = index;
            throw this.error(
              `unknown escape \\${String.fromCharCode(escaped)} at character ${index}`,
            );
        }
        index += 2;
        chunk = index;
        continue;
      }
      if (code < 32 || Number.isNaN(code)) throw this.badCharacter(code, index);
      index = plainRunEnd(text, index + 1);
    }
  }

  private badCharacter(code: number, index: number): ExactJsonError {
    this.index = index;
    return this.error(
      Number.isNaN(code)
        ? 'a string is not closed (no ending ")'
        : `a control character (U+${code.toString(16).padStart(4, '0')}) inside a string at character ${index}; escape it (\\n, \\t, \\u00XX)`,
    );
  }

  private tooDeep(): ExactJsonError {
    return this.error(
      `nested more than ${this.maxDepth} levels deep; flatten the tool arguments`,
      this.index,
      'too_deep',
    );
  }

  private tooMany(): ExactJsonError {
    return this.error(
      `more than ${this.maxValues} JSON values; send fewer values`,
      this.index,
      'too_many_values',
    );
  }

  private array(depth: number): unknown[] {
    if (depth > this.maxDepth) throw this.tooDeep();
    const text = this.text;
    this.index++;
    this.skipSpace();
    if (text.charCodeAt(this.index) === 93) {
      this.index++;
      return [];
    }
    const path = this.path;
    path.push(0);
    // Only the top-level array's elements are recorded (`parseExactJsonParts`).
    const sources = depth === 1 ? this.sources : undefined;
    // The elements go on the shared `elements` and become an array of the right size at the end.
    const stack = elements;
    const first = this.top;
    for (;;) {
      path[path.length - 1] = this.top - first;
      const valueAt = this.index;
      const element = this.value(depth);
      if (sources) sources.set(String(this.top - first), text.slice(valueAt, this.index));
      stack[this.top++] = element;
      this.skipSpace();
      const code = text.charCodeAt(this.index);
      if (code === 44) {
        this.index++;
        this.skipSpace();
        continue;
      }
      if (code === 93) {
        this.index++;
        path.pop();
        const top = this.top;
        let result: unknown[];
        if (top - first <= 8) {
          // A short list: built and cleared by hand (cheaper than the two calls for a few).
          result = [];
          for (let at = first; at < top; at++) {
            result.push(stack[at]);
            stack[at] = undefined;
          }
        } else {
          result = stack.slice(first, top);
          stack.fill(undefined, first, top);
        }
        this.top = first;
        if (first === 0 && stack.length > KEPT_ELEMENTS) stack.length = 0;
        return result;
      }
      throw this.error(
        `expected "," or "]" in an array at character ${this.index}, found ${describe(code)}`,
      );
    }
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) throw this.tooDeep();
    const text = this.text;
    const start = this.index;
    const result: Record<string, unknown> = {};
    // Only the top-level object's members are recorded.
    const sources = depth === 1 ? this.sources : undefined;
    this.index++;
    this.skipSpace();
    if (text.charCodeAt(this.index) === 125) {
      this.index++;
      return result;
    }
    const path = this.path;
    path.push('');
    // A large object's keys, in `Object.keys` order, recorded as they are read (see
    // `rememberKeys`): from the KEPT_KEYS_MIN-th key on, when they are worth keeping.
    let count = 0;
    let keys: string[] | undefined;
    let laterIndexKeys: string[] | undefined;
    let bulkTried = false;
    for (;;) {
      if (text.charCodeAt(this.index) !== 34) throw this.expectedKey();
      const keyAt = this.index;
      const key = this.string();
      path[path.length - 1] = key;
      if (Object.hasOwn(result, key)) throw this.repeated(keyAt);
      this.skipSpace();
      if (text.charCodeAt(this.index) !== 58) throw this.expectedColon();
      this.index++;
      this.skipSpace();
      const valueAt = this.index;
      const value = this.value(depth);
      if (sources) sources.set(key, text.slice(valueAt, this.index));
      put(result, key, value);
      if (keys !== undefined) {
        if (!isArrayIndex(key)) keys.push(key);
        else if (laterIndexKeys === undefined) laterIndexKeys = [key];
        else laterIndexKeys.push(key);
      } else if (++count === KEPT_KEYS_MIN) keys = Object.keys(result);
      this.skipSpace();
      const code = text.charCodeAt(this.index);
      if (code === 44) {
        this.index++;
        this.skipSpace();
        if (
          bulkObjects &&
          !bulkTried &&
          keys?.length === BULK_AFTER &&
          laterIndexKeys === undefined &&
          !isArrayIndex(keys[0] as string)
        ) {
          // A large object so far of named keys only: the rest in bulk, while it stays flat.
          bulkTried = true;
          const bulk = this.flatRest(start, depth, result, keys, sources);
          if (bulk !== undefined) {
            path.pop();
            return bulk;
          }
        }
        continue;
      }
      if (code === 125) {
        this.index++;
        path.pop();
        if (keys !== undefined) rememberKeys(result, inKeysOrder(keys, laterIndexKeys));
        return result;
      }
      throw this.expectedCommaOrBrace(code);
    }
  }

  /**
   * The members of a large object after its first `BULK_AFTER` (in `result`, their keys
   * `listed`, none an array index), read without building the object as they are read: V8 makes
   * each new key of a large object an internalised string, one at a time through its runtime
   * (the string table looked up twice per key, then inserted), where its own `JSON.parse` does it
   * in one look from the text — an 8,000-key map of keys new to the process took 4.3 ms to
   * build here, 1.5 ms in `JSON.parse` (docs/performance.md, "Tenth round"). So while
   * every member's value is a string, number, boolean or null (a flat map: nothing nested that
   * `JSON.parse` would read a second time), the keys and values are only collected; at the
   * closing brace `JSON.parse` builds the object from its text, and the values that differ from
   * its doubles (integers, as `bigint` or `UnsignedInt`) are put in, by the keys it made.
   * Repeated keys are found by the count of keys, and refused where the member-by-member path
   * would refuse them (the first repeat, before any later error). A nested value or an array
   * index as a key ends the bulk read: what was collected goes into `result` as the ordinary path
   * puts it, which then goes on from that member (undefined is returned).
   */
  private flatRest(
    start: number,
    depth: number,
    result: Record<string, unknown>,
    listed: string[],
    sources: Map<string, string> | undefined,
  ): Record<string, unknown> | undefined {
    const text = this.text;
    const path = this.path;
    // Each member's key by where it stands: its opening and closing quotes; a key written with
    // escapes is read (and kept) as the ordinary path reads it, others are cut out only if needed.
    const late: LateMembers = { at: [], end: [], escaped: undefined, values: [] };
    try {
      for (;;) {
        if (text.charCodeAt(this.index) !== 34) throw this.expectedKey();
        const keyAt = this.index;
        let index = keyAt + 1;
        let code = text.charCodeAt(index);
        while (code !== 34 && code !== 92 && code >= 32) code = text.charCodeAt(++index);
        let key: string | undefined;
        if (code === 34) {
          this.index = index + 1;
        } else {
          key = this.string();
          index = this.index - 1;
        }
        const first = text.charCodeAt(keyAt + 1);
        if (
          (key !== undefined || (first >= 48 && first <= 57)) &&
          isArrayIndex(key ?? text.slice(keyAt + 1, index))
        ) {
          this.index = keyAt;
          this.flush(result, listed, late);
          return undefined;
        }
        if (key !== undefined) {
          late.escaped ??= new Map();
          late.escaped.set(late.at.length, key);
        }
        late.at.push(keyAt);
        late.end.push(index);
        this.skipSpace();
        if (text.charCodeAt(this.index) !== 58) throw this.expectedColon();
        this.index++;
        this.skipSpace();
        const valueAt = this.index;
        const opening = text.charCodeAt(valueAt);
        if (opening === 123 || opening === 91) {
          late.at.pop();
          late.end.pop();
          this.index = keyAt;
          this.flush(result, listed, late);
          return undefined;
        }
        late.values.push(this.value(depth));
        if (sources) {
          sources.set(this.lateKey(late, late.at.length - 1), text.slice(valueAt, this.index));
        }
        this.skipSpace();
        code = text.charCodeAt(this.index);
        if (code === 44) {
          this.index++;
          this.skipSpace();
          continue;
        }
        if (code === 125) {
          this.index++;
          break;
        }
        throw this.expectedCommaOrBrace(code);
      }
    } catch (error) {
      if (!(error instanceof ExactJsonError) || error.code === 'duplicate_key') throw error;
      // Member by member, a repeated key before this error would have been refused first (a
      // repeat that `flush` refused is that first one already).
      this.refuseFirstRepeat(listed, late);
      // And the error names the member being read (the last whose key was read), as there.
      if (late.at.length === 0) throw error;
      path[path.length - 1] = this.lateKey(late, late.at.length - 1);
      throw this.error(error.reason, error.position, error.code);
    }
    let object: Record<string, unknown>;
    let made: string[];
    try {
      object = JSON.parse(text.slice(start, this.index)) as Record<string, unknown>;
      made = Object.keys(object);
    } catch {
      // Never expected (the text was read as JSON above): build it member by member instead.
      const end = this.index;
      this.flush(result, listed, late);
      this.index = end;
      rememberKeys(result, listed);
      return result;
    }
    if (made.length !== listed.length + late.at.length) this.refuseFirstRepeat(listed, late);
    // Without array indices and repeats, `Object.keys` lists the keys in the order read.
    const early = listed.length;
    for (let at = 0; at < early; at++) {
      const value = result[listed[at] as string];
      if (typeof value === 'bigint' || (typeof value === 'object' && value !== null)) {
        put(object, made[at] as string, value);
      }
    }
    const values = late.values;
    for (let at = 0; at < values.length; at++) {
      const value = values[at];
      if (typeof value === 'bigint' || (typeof value === 'object' && value !== null)) {
        put(object, made[early + at] as string, value);
      }
    }
    rememberKeys(object, made);
    return object;
  }

  /** The key of the `at`-th member `flatRest` collected. */
  private lateKey(late: LateMembers, at: number): string {
    return late.escaped?.get(at) ?? this.text.slice((late.at[at] as number) + 1, late.end[at]);
  }

  /** Puts the members collected by `flatRest` into `result`, as the ordinary path does. */
  private flush(result: Record<string, unknown>, listed: string[], late: LateMembers): void {
    const path = this.path;
    for (let at = 0; at < late.at.length; at++) {
      const key = this.lateKey(late, at);
      if (Object.hasOwn(result, key)) {
        path[path.length - 1] = key;
        throw this.repeated(late.at[at] as number);
      }
      put(result, key, late.values[at]);
      listed.push(key);
    }
  }

  /** Throws the error of the first collected key that repeats an earlier one, if any. */
  private refuseFirstRepeat(listed: string[], late: LateMembers): void {
    const seen = new Set(listed);
    for (let at = 0; at < late.at.length; at++) {
      const key = this.lateKey(late, at);
      if (seen.has(key)) {
        this.path[this.path.length - 1] = key;
        throw this.repeated(late.at[at] as number);
      }
      seen.add(key);
    }
  }

  private expectedKey(): ExactJsonError {
    return this.error(
      `expected a key in double quotes at character ${this.index}, found ${describe(this.text.charCodeAt(this.index))}`,
    );
  }

  private expectedColon(): ExactJsonError {
    return this.error(`expected ":" after the key at character ${this.index}`);
  }

  private expectedCommaOrBrace(code: number): ExactJsonError {
    return this.error(
      `expected "," or "}" in an object at character ${this.index}, found ${describe(code)}`,
    );
  }

  private repeated(keyAt: number): ExactJsonError {
    return this.error(
      'this key appears twice in one object; send each key once (parsers disagree on which copy wins, so Arden refuses both)',
      keyAt,
      'duplicate_key',
    );
  }
}

/**
 * The members an object's first ones are read one by one before the rest may be read in bulk
 * (`flatRest`): in bulk, an object of 40 keys took 8 µs against 6 (the call to `JSON.parse`, the
 * listing of its keys), one of 300 keys 61 µs against 95.
 */
const BULK_AFTER = 128;

/** The members of a large object collected by `flatRest`, each by its index. */
interface LateMembers {
  /** Where each key's opening quote stands. */
  at: number[];
  /** Where each key's closing quote stands. */
  end: number[];
  /** The keys written with escapes, read. */
  escaped: Map<number, string> | undefined;
  values: unknown[];
}

/** Whether large flat objects are read in bulk (`flatRest`); off only to compare, in tests. */
let bulkObjects = true;

/** For tests: reads every object member by member (`false`), or large flat ones in bulk. */
export function setBulkObjects(enabled: boolean): void {
  bulkObjects = enabled;
}

/** Sets a member as JSON does: `__proto__` too is an own property, never the prototype. */
function put(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(object, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    object[key] = value;
  }
}

/**
 * The parser of every parse, one at a time (a parse runs to its end without yielding), made once
 * rather than per parse so that its hidden class (map) stays alive. V8 holds a class's maps after
 * its constructor only weakly: with a parser per parse, none was alive at a full garbage
 * collection, the maps were collected, and the optimised code of every method that checks them
 * was thrown away ("embedded weak objects cleared"), so the next parse ran in the bytecode
 * interpreter: ~3 ms instead of ~0.3 ms for 8,192 values at the check limit
 * (docs/performance.md, row 8).
 */
const parser = new Parser();

/** Whether `key` is an array index, which `Object.keys` lists first, in numeric order. */
function isArrayIndex(key: string): boolean {
  // The empty key is not one (its first character code is NaN, which every test below passes).
  if (key.length === 0) return false;
  const first = key.charCodeAt(0);
  if (first < 48 || first > 57 || key.length > 10) return false;
  if (first === 48) return key.length === 1;
  for (let index = 1; index < key.length; index++) {
    const code = key.charCodeAt(index);
    if (code < 48 || code > 57) return false;
  }
  return Number(key) < 4_294_967_295;
}

/**
 * The keys in `Object.keys` order: `listed` is that order for the first keys, and the keys read
 * after them that are not array indices follow in the order read; array indices read later go
 * with the listed ones, all in numeric order, first.
 */
function inKeysOrder(listed: string[], laterIndexKeys: string[] | undefined): string[] {
  if (laterIndexKeys === undefined) return listed;
  let firstString = 0;
  while (firstString < listed.length && isArrayIndex(listed[firstString] as string)) firstString++;
  const indices = listed
    .slice(0, firstString)
    .concat(laterIndexKeys)
    .sort((left, right) => Number(left) - Number(right));
  return indices.concat(listed.slice(firstString));
}
