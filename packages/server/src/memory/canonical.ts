import { createHash } from 'node:crypto';

/**
 * Canonical JSON of a value: object keys sorted (by UTF-16 code units), no spaces, numbers in
 * their shortest form (`1.0`, `1e0` and `1` are one number; an exact big integer as its
 * digits). Two calls whose arguments differ only in formatting have the same canonical JSON.
 * Used to compare calls, never to store or send them (the log keeps the arguments verbatim).
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts);
  return parts.join('');
}

function write(value: unknown, parts: string[]): void {
  if (value === null || value === undefined) {
    parts.push('null');
    return;
  }
  switch (typeof value) {
    case 'string':
      parts.push(JSON.stringify(value));
      return;
    case 'boolean':
      parts.push(value ? 'true' : 'false');
      return;
    case 'number':
      parts.push(Number.isFinite(value) ? JSON.stringify(value) : 'null');
      return;
    case 'bigint':
      // An exact integer that a double holds exactly reads like that double.
      parts.push(
        Number.isSafeInteger(Number(value)) ? JSON.stringify(Number(value)) : value.toString(),
      );
      return;
    case 'object':
      break;
    default:
      parts.push('null');
      return;
  }
  if (Array.isArray(value)) {
    parts.push('[');
    value.forEach((element, index) => {
      if (index > 0) parts.push(',');
      write(element, parts);
    });
    parts.push(']');
    return;
  }
  const entries =
    value instanceof Map
      ? [...value.entries()].map(([key, entry]) => [String(key), entry] as const)
      : Object.entries(value as Record<string, unknown>);
  entries.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
  parts.push('{');
  entries.forEach(([key, entry], index) => {
    if (index > 0) parts.push(',');
    parts.push(JSON.stringify(key), ':');
    write(entry, parts);
  });
  parts.push('}');
}

/**
 * The hash of a call's arguments (positional and keyword) in canonical JSON: what "the same
 * arguments" means for refused repeats and `session.denied(pattern, args)`.
 */
export function argumentsHash(args: unknown, kwargs: unknown): string {
  return createHash('sha256')
    .update(canonicalJson([args ?? [], kwargs ?? {}]))
    .digest('base64url')
    .slice(0, 32);
}
