import { type CompiledPolicy, type CompiledPolicySet, matchPolicy } from './compile';

/**
 * The policy that blocks every call of `tool`, whatever its arguments, session or time: the
 * policy `tool` matches, when each of its rules either blocks (on its condition and on a
 * condition error alike) or always applies and blocks, and its default blocks. Undefined when
 * some call of `tool` could be allowed or held, or when no policy matches (the agent's default
 * action is not a policy's decision). The MCP gateway hides such tools from `tools/list`.
 */
export function alwaysBlocks(set: CompiledPolicySet, tool: string): CompiledPolicy | undefined {
  const policy = matchPolicy(set, tool);
  if (policy === undefined) return undefined;
  // Arguments of the wrong declared type are decided by on_error.
  if (policy.definition.args !== undefined && policy.onError !== 'block') return undefined;
  for (const rule of policy.rules) {
    if (rule.effect !== 'block') return undefined;
    if (rule.condition === undefined) return policy;
    if (rule.onError !== 'block') return undefined;
  }
  return policy.defaultEffect === 'block' ? policy : undefined;
}
