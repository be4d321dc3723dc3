/** The few JSON-RPC 2.0 shapes the gateway looks at; everything else passes through unread. */

/** A JSON-RPC id: a string or a number (`null` only in errors about unreadable requests). */
export type JsonRpcId = string | number;

/** A message as the gateway reads it: only the fields it needs. */
export interface JsonRpcMessage {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
  result?: unknown;
  error?: unknown;
}

/** JSON-RPC error codes the gateway answers with. */
export const errorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  invalidParams: -32602,
  internalError: -32603,
  /** Server-defined: the upstream MCP server failed (exited, timed out, answered too much). */
  upstreamError: -32000,
} as const;

/** Whether `value` can be a JSON-RPC id. */
export function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** The key a request is remembered under: its id as JSON, so `1` and `"1"` stay apart. */
export function idKey(id: JsonRpcId): string {
  return JSON.stringify(id);
}

/** Whether a parsed message is a request (a method and an id). */
export function isRequest(message: JsonRpcMessage): message is JsonRpcMessage & {
  id: JsonRpcId;
  method: string;
} {
  return typeof message.method === 'string' && isId(message.id);
}

/** Whether a parsed message is a response (an id, and a result or an error, no method). */
export function isResponse(message: JsonRpcMessage): message is JsonRpcMessage & { id: JsonRpcId } {
  return (
    message.method === undefined && isId(message.id) && ('result' in message || 'error' in message)
  );
}

/** One JSON-RPC error response, as a line to write. */
export function errorLine(id: JsonRpcId | null, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } });
}

/** One JSON-RPC result response, as a line to write. */
export function resultLine(id: JsonRpcId, result: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result });
}

/** One JSON-RPC notification, as a line to write. */
export function notificationLine(method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params });
}

/** A plain object, for reading untrusted params. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
