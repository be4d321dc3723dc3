/**
 * Every policy decision, the one list of them: `@arden/policy`'s schemas, the server's zod
 * schemas (and through them its OpenAPI document and the wire contract the dashboard and core are
 * checked against) and its CLI read it from here.
 */
export const EFFECTS = ['allow', 'block', 'requires_approval'] as const;

/** Whether `value` is a policy decision (`allow`, `block` or `requires_approval`). */
export function isEffect(value: unknown): value is (typeof EFFECTS)[number] {
  return typeof value === 'string' && (EFFECTS as readonly string[]).includes(value);
}
