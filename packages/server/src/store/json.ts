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
