import { randomBytes } from 'node:crypto';

/** Stored JSON text as it is, or `fallback` when the column holds none. */
export function jsonText(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

// A placeholder only this process can write: a string that holds it in a value it did not make
// itself would need the random part, which is never shown.
const nonce = randomBytes(12).toString('hex');
const placeholder = `\u0000raw-json-${nonce}-`;
// JSON.stringify writes the NUL as the six characters \u0000.
const placeholderPattern = new RegExp(`"\\\\u0000raw-json-${nonce}-(\\d+)"`, 'g');
let collected: string[] | undefined;

/**
 * JSON text to be written into an answer exactly as it is (the arguments an agent sent), not
 * re-serialised: `stringifyJson` puts `text` in place of this value. Elsewhere (a plain
 * `JSON.stringify`) it reads as `JSON.parse(text)`.
 */
export class RawJson {
  constructor(readonly text: string) {}

  toJSON(): unknown {
    if (collected) return `${placeholder}${collected.push(this.text) - 1}`;
    return JSON.parse(this.text);
  }
}

/**
 * `JSON.stringify`, except that each `RawJson` in `value` is written as its text, byte for byte:
 * a JSON number such as 12345678901234567891 or 1.0, or an object's key order and escapes, are
 * sent back as the agent wrote them.
 */
export function stringifyJson(value: unknown, indent?: number): string {
  const outer = collected;
  const texts: string[] = [];
  collected = texts;
  let text: string;
  try {
    text = JSON.stringify(value, null, indent);
  } finally {
    collected = outer;
  }
  if (texts.length === 0) return text;
  return text.replace(placeholderPattern, (_, index: string) => texts[Number(index)] as string);
}

/** Parses stored JSON text; a damaged value reads as `fallback` instead of failing a listing. */
export function parseJson<T>(text: unknown, fallback: T): T {
  if (typeof text !== 'string') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** JSON text of a value, or null for null/undefined. */
export function jsonOrNull(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/** An opaque cursor for a sequence number. */
export function encodeCursor(seq: number | string): string {
  return Buffer.from(String(seq)).toString('base64url');
}

/** The sequence number in a cursor, or undefined when the cursor is malformed. */
export function decodeCursor(cursor: string | undefined): number | undefined {
  if (!cursor) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString();
  return /^\d{1,18}$/.test(text) ? Number(text) : undefined;
}

/** A `LIKE` pattern for a prefix, with `%`, `_` and `\` escaped (use with `ESCAPE '\'`). */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}
