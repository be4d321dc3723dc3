import { type Arden, ArdenApiError, PolicyDeniedError } from '@arden/core';

/**
 * @internal Whether Arden answered the check but refused it (a revoked or unknown key, a key
 * that may not do this, a malformed request): a 4xx other than 429. Not an outage, so
 * `onUnavailable` does not apply; the call never runs.
 */
export function isRefusedCheck(error: unknown): error is ArdenApiError {
  return ArdenApiError.isInstance(error) && !error.isRetryable;
}

/** @internal What the model reads when Arden refused to check a call. */
export function refusedCheckText(ardenName: string, error: ArdenApiError): string {
  return `Arden refused to check this call to "${ardenName}" (${error.name}), so the tool did not run.`;
}

/**
 * @internal The `PolicyDeniedError` for a check Arden refused, with the `ArdenApiError` as its
 * `cause`; logs a warning with the server's answer, since it is a configuration problem.
 */
export function refusedCheckError(
  arden: Arden,
  ardenName: string,
  error: ArdenApiError,
): PolicyDeniedError {
  arden.options.logger.warn(`Arden refused to check "${ardenName}"; the call is denied.`, {
    error: error.message,
  });
  return new PolicyDeniedError({
    toolName: ardenName,
    reason: 'denied',
    notes: error.message,
    message: refusedCheckText(ardenName, error),
    cause: error,
  });
}

/** @internal The model's text when `error` is the denial of a refused check, else undefined. */
export function refusalText(error: unknown): string | undefined {
  return PolicyDeniedError.isInstance(error) && isRefusedCheck(error.cause)
    ? error.message
    : undefined;
}
