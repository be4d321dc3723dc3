// What a test process and its server's child process say to each other over the IPC channel.
// Values travel as JSON text with big integers tagged: an action's parsed arguments may hold a
// bigint, which JSON (and the channel's own JSON) cannot carry; V8's structured clone could, but
// its format is not promised to be readable by an older Node.js, and the two sides differ.
import { ArdenServerError } from '../errors';
import type { TestServerHelper } from './types';

const bigintTag = '__ardenBigInt__';

/** JSON text of `value`, with bigints kept (see `decode`). */
export function encode(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? { [bigintTag]: item.toString() } : item,
  );
}

/** The value `encode` wrote. */
export function decode(text: string): unknown {
  return JSON.parse(text, (_key, item: unknown) => {
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      const keys = Object.keys(item);
      const tagged = (item as Record<string, unknown>)[bigintTag];
      if (keys.length === 1 && typeof tagged === 'string') return BigInt(tagged);
    }
    return item;
  });
}

/** An error as it crosses the channel: enough to throw the same message with the same code. */
export interface WireError {
  name: string;
  message: string;
  /** Set for an `ArdenServerError`: its HTTP status and code. */
  status?: number;
  code?: string;
}

/** Parent to child. */
export type ToServer =
  | { kind: 'start'; options: string }
  | { kind: 'call'; id: number; helper: TestServerHelper; args: string };

/** Child to parent. `error` without an `id` is a failed start. */
export type FromServer =
  | { kind: 'started'; server: string }
  | { kind: 'result'; id: number; value: string }
  | { kind: 'error'; id?: number; error: WireError };

export function toWireError(error: unknown): WireError {
  if (ArdenServerError.isInstance(error)) {
    return { name: error.name, message: error.message, status: error.status, code: error.code };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** The error to throw in the test process: an `ArdenServerError` again when it was one. */
export function fromWireError(wire: WireError): Error {
  const error =
    wire.status !== undefined && wire.code !== undefined
      ? new ArdenServerError(wire.status, wire.code, wire.message)
      : new Error(wire.message);
  error.name = wire.name;
  return error;
}
