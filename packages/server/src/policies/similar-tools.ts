import { matchesToolPattern } from '@arden/policy';

/**
 * The hint of a check that no policy matched: the policies whose tool differs from the called
 * tool's name only by a prefix (`refund` for a call to `support.refund`, `support.refund` for a
 * call to `refund`, `stripe.*` for a call to `support.stripe.refund`). Adapters warn about it:
 * such a call was almost always meant for that policy, and the agent's default decided instead.
 */

// A prefix ends where a name's namespace does: `support.`, `crm:`, `team/`, `v2_`, `x-`.
function endsWithSeparator(prefix: string): boolean {
  return prefix.length > 0 && /[^A-Za-z0-9]$/.test(prefix);
}

/** Whether `longer` is `shorter` with a namespace-like prefix before it. */
function isPrefixed(longer: string, shorter: string): boolean {
  return (
    shorter.length > 0 &&
    longer.length > shorter.length &&
    longer.endsWith(shorter) &&
    endsWithSeparator(longer.slice(0, longer.length - shorter.length))
  );
}

/**
 * The tool patterns among `policyTools` (exact names, patterns with `*`; `*` never) whose name differs
 * from `tool` only by a prefix, in their order, without duplicates.
 */
export function similarPolicyTools(tool: string, policyTools: readonly string[]): string[] {
  const found = new Set<string>();
  for (const pattern of policyTools) {
    if (pattern === '*' || pattern === tool) continue;
    if (pattern.includes('*')) {
      for (let index = 1; index < tool.length; index++) {
        if (
          endsWithSeparator(tool.slice(0, index)) &&
          matchesToolPattern(pattern, tool.slice(index))
        ) {
          found.add(pattern);
          break;
        }
      }
    } else if (isPrefixed(tool, pattern) || isPrefixed(pattern, tool)) {
      found.add(pattern);
    }
  }
  return [...found];
}
