import type { EditedCall } from './call-types';

// Approve with edit: the one sentence every adapter gives the model when a tool ran with arguments
// an approver changed, so the model does not take the result for the call it made.

/**
 * The note for the model about an approver's edit, for example: `[Arden] ann@example.com approved
 * the call with changed arguments (amount: 4000 → 40). The tool ran with {"amount":40}; its result
 * follows.`
 */
export function editedCallNote(edited: EditedCall): string {
  return `[Arden] ${edited.message.trim()} The tool ran with ${edited.kwargsJson}; its result follows.`;
}

/** A tool's result as text for the model, with the edit's note before it. */
export function withEditedCallNote(output: unknown, edited: EditedCall): string {
  const text = typeof output === 'string' ? output : (JSON.stringify(output) ?? String(output));
  return `${editedCallNote(edited)}\n\n${text}`;
}

/**
 * An MCP tool's result (a `CallToolResult`, or its `content` list) with a text item carrying the
 * edit's note first, so that the model reads it before the result. Any other value comes back
 * unchanged.
 */
export function withMcpEditNote(output: unknown, edited: EditedCall): unknown {
  const note = { type: 'text', text: editedCallNote(edited) };
  if (Array.isArray(output)) return [note, ...output];
  const content = (output as { content?: unknown } | null)?.content;
  if (Array.isArray(content)) return { ...(output as object), content: [note, ...content] };
  return output;
}
