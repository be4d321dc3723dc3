/**
 * Keys that differ only in case. Go's encoding/json — the parser of many Go MCP servers — matches
 * object keys to fields case-insensitively, with Unicode folding (`ſ` is `s`, `K` is `k`), and
 * the last match wins. A message with `"Method"`, or with both `"path"` and `"Path"`, would let
 * such an upstream read another method, tool or argument than Arden checked, so the gateway
 * refuses it instead of forwarding it.
 */

/** A key folded the way case-insensitive parsers compare it. */
export function foldKey(key: string): string {
  return key.toUpperCase().toLowerCase();
}

const messageKeys = ['jsonrpc', 'id', 'method', 'params', 'result', 'error'];
const toolCallParamKeys = ['name', 'arguments', '_meta'];

function misspelled(record: Record<string, unknown>, names: string[]): string | undefined {
  for (const key of Object.keys(record)) {
    if (!names.includes(key) && names.includes(foldKey(key))) return key;
  }
  return undefined;
}

function clashing(value: unknown, depth: number): string | undefined {
  if (depth > 200 || typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = clashing(item, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (const [key, item] of Object.entries(value)) {
    const folded = foldKey(key);
    if (seen.has(folded)) return key;
    seen.add(folded);
    const found = clashing(item, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The first key of a client message that a case-insensitive parser could read as another:
 * a JSON-RPC member spelled otherwise (`"Method"`), a tools/call parameter spelled otherwise
 * (`"Name"`), or — in a tools/call — two keys of one object that fold to the same.
 */
export function ambiguousKey(message: object): string | undefined {
  const record = message as Record<string, unknown>;
  const top = misspelled(record, messageKeys);
  if (top !== undefined) return top;
  if (record.method !== 'tools/call') return undefined;
  const params = record.params;
  if (typeof params === 'object' && params !== null && !Array.isArray(params)) {
    const inParams = misspelled(params as Record<string, unknown>, toolCallParamKeys);
    if (inParams !== undefined) return inParams;
  }
  return clashing(message, 0);
}
