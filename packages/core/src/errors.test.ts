import { describe, expect, it } from 'vitest';
import {
  ApprovalTimeoutError,
  ArdenApiError,
  ArdenError,
  ArdenUnavailableError,
  ConfigurationError,
  PolicyDeniedError,
} from './errors';

describe('errors', () => {
  it('recognises errors by marker, as another installed copy would make them', () => {
    // An error built by a different copy of the class: same registered symbol, other prototype.
    const foreign = Object.assign(new Error('x'), {
      [Symbol.for('arden.error')]: true,
      [Symbol.for('arden.error.policy-denied')]: true,
    });
    expect(foreign instanceof PolicyDeniedError).toBe(false);
    expect(PolicyDeniedError.isInstance(foreign)).toBe(true);
    expect(ArdenError.isInstance(foreign)).toBe(true);
    expect(ApprovalTimeoutError.isInstance(foreign)).toBe(false);
  });

  it('tells subclasses apart', () => {
    const denied = new PolicyDeniedError({ toolName: 't', actionId: 'a', reason: 'blocked' });
    expect(ArdenError.isInstance(denied)).toBe(true);
    expect(PolicyDeniedError.isInstance(denied)).toBe(true);
    expect(ConfigurationError.isInstance(denied)).toBe(false);
    expect(ArdenError.isInstance(new Error('plain'))).toBe(false);
    expect(ArdenError.isInstance(null)).toBe(false);
    expect(ArdenError.isInstance('string')).toBe(false);
  });

  it('carries data and says what to do', () => {
    const denied = new PolicyDeniedError({
      toolName: 'stripe.refund',
      actionId: 'act_1',
      reason: 'denied',
      notes: 'too large',
    });
    expect(denied.message).toBe('Tool "stripe.refund" was denied: too large');
    expect(denied).toMatchObject({
      toolName: 'stripe.refund',
      actionId: 'act_1',
      reason: 'denied',
    });
    const timeout = new ApprovalTimeoutError({ toolName: 't', actionId: 'a', timeoutMs: 5 });
    expect(timeout.message).toContain('maxWaitMs');
    const unauthorised = new ArdenApiError({ statusCode: 401, path: '/policy/check' });
    expect(unauthorised.isRetryable).toBe(false);
    expect(unauthorised.message).toContain('ARDEN_API_KEY');
    expect(new ArdenApiError({ statusCode: 503, path: '/x' }).isRetryable).toBe(true);
    expect(new ArdenUnavailableError({ message: 'down' }).isRetryable).toBe(true);
    expect(new ConfigurationError('bad', { option: 'timeoutMs' }).option).toBe('timeoutMs');
  });
});
