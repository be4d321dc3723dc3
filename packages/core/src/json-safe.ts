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
  return convert(value, new WeakSet(), 0);
}

function convert(value: unknown, seen: WeakSet<object>, depth: number): JsonValue {
  try {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        return Number.isFinite(value) ? value : String(value);
      case 'bigint':
        return value.toString();
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
      if (Array.isArray(object)) return object.map((item) => convert(item, seen, depth + 1));
      if (object instanceof Set) return [...object].map((item) => convert(item, seen, depth + 1));
      if (object instanceof Map) {
        const entries = [...object.entries()];
        if (entries.every(([key]) => typeof key === 'string')) {
          const result: Record<string, JsonValue> = {};
          for (const [key, item] of entries) result[key as string] = convert(item, seen, depth + 1);
          return result;
        }
        return entries.map(([key, item]) => [
          convert(key, seen, depth + 1),
          convert(item, seen, depth + 1),
        ]);
      }
      const toJSON = (object as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const replaced = toJSON.call(object);
        if (replaced !== object) return convert(replaced, seen, depth + 1);
      }
      const result: Record<string, JsonValue> = {};
      for (const key of Object.keys(object)) {
        const item = (object as Record<string, unknown>)[key];
        if (item === undefined) continue;
        result[key] = convert(item, seen, depth + 1);
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
