/**
 * The rules a guarded call follows whoever runs it (`guardTool` or an adapter): what a tool to
 * guard must look like, when a call whose check failed runs anyway, and the error for a blocked
 * call. The adapter kit re-exports them.
 */
import type { CheckResult } from './call-types';
import { ArdenUnavailableError, ConfigurationError, PolicyDeniedError } from './errors';
import type { ResolvedOptions } from './options';

/**
 * Throws a `ConfigurationError` unless a tool to guard is well formed: a non-empty name, a
 * function, and an approval mode of `'wait'`, `'async'` or `'webhook'`. `caller` names the
 * function in the message, for example `register` for `register("refund", fn) needs a function as fn.`
 */
export function validateGuardArguments(
  caller: string,
  toolName: unknown,
  fn: unknown,
  approvalMode: unknown,
): void {
  if (typeof toolName !== 'string' || toolName.length === 0) {
    throw new ConfigurationError(`${caller}(name, fn) needs a non-empty tool name.`, {
      option: 'name',
    });
  }
  if (typeof fn !== 'function') {
    throw new ConfigurationError(`${caller}("${toolName}", fn) needs a function as fn.`, {
      option: 'fn',
    });
  }
  if (!['wait', 'async', 'webhook'].includes(approvalMode as string)) {
    throw new ConfigurationError(
      `approvalMode must be 'wait', 'async' or 'webhook'; got ${String(approvalMode)}.`,
      { option: 'approvalMode' },
    );
  }
}

/**
 * Whether a call whose check failed with `error` runs anyway, unchecked: Arden could not be
 * reached and the instance's `onUnavailable` is `'allow'`. Anything else fails closed.
 */
export function runsUnchecked(
  arden: { readonly options: Pick<ResolvedOptions, 'onUnavailable'> },
  error: unknown,
): boolean {
  return ArdenUnavailableError.isInstance(error) && arden.options.onUnavailable === 'allow';
}

/** The `PolicyDeniedError` for a call a policy blocked: the policy's message (else its reason) as notes. */
export function blockedError(
  toolName: string,
  result: Pick<CheckResult, 'actionId' | 'message' | 'reason'>,
): PolicyDeniedError {
  return new PolicyDeniedError({
    toolName,
    actionId: result.actionId,
    reason: 'blocked',
    notes: result.message ?? result.reason,
  });
}
