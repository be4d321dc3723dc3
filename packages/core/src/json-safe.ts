/** A value that survives `JSON.stringify` unchanged. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

const maxDepth = 32;

/**
 * Turns any value into plain JSON data without throwing: Dates become ISO strings, BigInts
 * strings, Maps objects (or entry lists when keys are not strings), Sets arrays, class instances
 * their own enumerable fields (or their `toJSON()`), functions and symbols a short description,
 * cycles `"[Circular]"`. Used to send a tool call's arguments to the policy engine.
 */
export function toJsonSafe(value: unknown): JsonValue {
  return convert(value, new WeakSet(), 0, false);
}

/**
 * Like `toJsonSafe`, except that BigInts stay BigInts, so that `stringifyWire` sends them as
 * exact JSON integers (`12345678901234567891`, not a string or a rounded double). What a tool
 * call's arguments go through on their way to the policy engine.
 */
export function toWireSafe(value: unknown): JsonValue {
  return convert(value, new WeakSet(), 0, true);
}

// Made on first use (nothing happens on import); unguessable, so that no string an agent passes
// can be mistaken for one of our BigInts.
let bigIntMarker: { prefix: string; pattern: RegExp } | undefined;

function marker(): { prefix: string; pattern: RegExp } {
  if (!bigIntMarker) {
    const nonce = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(12)), (byte) =>
      byte.toString(16).padStart(2, '0'),
    ).join('');
    // JSON.stringify writes the NUL as the six characters \u0000.
    bigIntMarker = {
      prefix: `\u0000bigint-${nonce}:`,
      pattern: new RegExp(`"\\\\u0000bigint-${nonce}:(-?\\d+)"`, 'g'),
    };
  }
  return bigIntMarker;
}

/**
 * `JSON.stringify` that writes BigInts as exact JSON integers. Values without BigInts take
 * `JSON.stringify`'s path unchanged.
 */
export function stringifyWire(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError) || !/bigint/i.test(error.message)) throw error;
  }
  const { prefix, pattern } = marker();
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? `${prefix}${item}` : item,
  ).replace(pattern, '$1');
}

function convert(
  value: unknown,
  seen: WeakSet<object>,
  depth: number,
  keepBigInts: boolean,
): JsonValue {
  try {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        return Number.isFinite(value) ? value : String(value);
      case 'bigint':
        return keepBigInts ? (value as unknown as JsonValue) : value.toString();
      case 'undefined':
        return null;
      case 'symbol':
        return value.toString();
      case 'function':
        return `[Function${value.name ? ` ${value.name}` : ''}]`;
    }
    if (value === null) return null;
    const object = value as object;
    if (seen.has(object)) return '[Circular]';
    if (depth >= maxDepth) return '[Too deep]';
    if (object instanceof Date) {
      return Number.isNaN(object.getTime()) ? 'Invalid Date' : object.toISOString();
    }
    if (object instanceof RegExp) return object.toString();
    if (object instanceof Error) {
      return { name: object.name, message: object.message };
    }
    if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) {
      return `[${object.constructor.name} ${object.byteLength} bytes]`;
    }
    seen.add(object);
    try {
      if (Array.isArray(object))
        return object.map((item) => convert(item, seen, depth + 1, keepBigInts));
      if (object instanceof Set)
        return [...object].map((item) => convert(item, seen, depth + 1, keepBigInts));
      if (object instanceof Map) {
        const entries = [...object.entries()];
        if (entries.every(([key]) => typeof key === 'string')) {
          const result: Record<string, JsonValue> = {};
          for (const [key, item] of entries)
            result[key as string] = convert(item, seen, depth + 1, keepBigInts);
          return result;
        }
        return entries.map(([key, item]) => [
          convert(key, seen, depth + 1, keepBigInts),
          convert(item, seen, depth + 1, keepBigInts),
        ]);
      }
      const toJSON = (object as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const replaced = toJSON.call(object);
        if (replaced !== object) return convert(replaced, seen, depth + 1, keepBigInts);
      }
      const result: Record<string, JsonValue> = {};
      for (const key of Object.keys(object)) {
        const item = (object as Record<string, unknown>)[key];
        if (item === undefined) continue;
        result[key] = convert(item, seen, depth + 1, keepBigInts);
      }
      return result;
    } finally {
      seen.delete(object);
    }
  } catch {
    return '[Unserializable]';
  }
}

/** True for `{}`-style objects (not arrays, class instances, Dates or Maps). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
