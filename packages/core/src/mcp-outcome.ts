/** Reports what became of a checked `tools/call` to Arden, the way every adapter does. */
import type { Arden } from './arden';

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A forwarded call, as the outcome report needs it. */
export interface ReportedCall {
  method: string;
  started: number;
  actionId: string | undefined;
}

const maxErrorLength = 500;

/**
 * The outcome of a `tools/call` the upstream answered: `failed` for a JSON-RPC error or a
 * `CallToolResult` with `isError`, else `succeeded`, with the time since it was forwarded.
 * Off the critical path (core batches reports); does nothing for other methods or unchecked calls.
 */
export function reportToolOutcome(
  arden: Arden,
  call: ReportedCall,
  response: { result?: unknown; error?: unknown },
): void {
  if (call.method !== 'tools/call' || call.actionId === undefined) return;
  const duration = Math.round((performance.now() - call.started) * 1000) / 1000;
  const error = errorText(response);
  arden.reportResult(
    call.actionId,
    error === undefined
      ? { status: 'succeeded', duration_ms: duration }
      : { status: 'failed', duration_ms: duration, error },
  );
}

function errorText(response: { result?: unknown; error?: unknown }): string | undefined {
  if (response.error !== undefined) {
    const message = asRecord(response.error)?.message;
    return clip(typeof message === 'string' ? message : 'The MCP server answered with an error.');
  }
  const result = asRecord(response.result);
  if (result?.isError !== true) return undefined;
  const content = Array.isArray(result.content) ? result.content : [];
  const text = content
    .map((part) => asRecord(part))
    .find((part) => part?.type === 'text' && typeof part.text === 'string')?.text;
  return clip(typeof text === 'string' ? text : 'The tool answered with isError.');
}

function clip(text: string): string {
  return text.length > maxErrorLength ? `${text.slice(0, maxErrorLength)}…` : text;
}
