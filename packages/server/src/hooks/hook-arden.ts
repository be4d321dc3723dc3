import { type Arden, createArden } from '@arden/core';

/** What every coding-agent hook needs to build its Arden client. */
export interface HookArdenOptions {
  /** Arden unreachable: `'block'` (the call does not run) or `'allow'` (it runs unchecked). */
  onUnavailable: 'block' | 'allow';
  /** How long a held call waits for an approver, in seconds. */
  maxWaitSeconds: number;
}

/**
 * The Arden client of one hook run (a short-lived process, one event): the agent's key and URL
 * from the environment, silent (the hook's stdout is the agent's protocol), one retry, and
 * outcomes and usage flushed at once so that nothing is lost when the process exits. Throws
 * `ConfigurationError` when the key or URL is missing or wrong; the hook turns that into a denial.
 */
export function hookArden(
  options: HookArdenOptions,
  env: Record<string, string | undefined>,
): Arden {
  return createArden({
    apiKey: env.ARDEN_API_KEY,
    apiUrl: env.ARDEN_API_URL,
    logLevel: 'silent',
    retryAttempts: 1,
    timeoutMs: 10_000,
    maxWaitMs: options.maxWaitSeconds * 1000,
    onUnavailable: options.onUnavailable,
    resultFlushIntervalMs: 1,
    usageFlushIntervalMs: 1,
  });
}
