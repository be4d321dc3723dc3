/**
 * `text` without its final full stop, for a message that goes on after it ("…: <text>. Check …"):
 * the messages of errors from Node, PostgreSQL and our own code often end with one already.
 */
export function withoutFinalStop(text: string): string {
  return text.trim().replace(/\.+$/, '');
}

/** Replaces NUL characters in free text (error messages, notes) that is stored as is. */
export function withoutNul(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}
