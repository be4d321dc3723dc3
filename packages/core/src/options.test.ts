import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from './errors';
import { environmentOfKey, resolveOptions } from './options';

const testKey = `arden_test_${'a'.repeat(32)}`;
const liveKey = `arden_live_${'b'.repeat(32)}`;

function configurationError(run: () => unknown): ConfigurationError {
  try {
    run();
  } catch (error) {
    if (ConfigurationError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('resolveOptions', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('applies the documented defaults', () => {
    vi.stubEnv('ARDEN_API_URL', '');
    const options = resolveOptions({ apiKey: testKey });
    expect(options).toMatchObject({
      apiUrl: 'http://localhost:8787',
      environment: 'test',
      timeoutMs: 30_000,
      pollIntervalMs: 2_000,
      maxWaitMs: 300_000,
      retryAttempts: 3,
      onUnavailable: 'block',
      signingKey: undefined,
    });
  });

  it('reads ARDEN_API_KEY, ARDEN_API_URL and ARDEN_SIGNING_KEY', () => {
    vi.stubEnv('ARDEN_API_KEY', liveKey);
    vi.stubEnv('ARDEN_API_URL', 'https://arden.example.com/');
    vi.stubEnv('ARDEN_SIGNING_KEY', 'whsec');
    const options = resolveOptions();
    expect(options.apiKey).toBe(liveKey);
    expect(options.environment).toBe('live');
    expect(options.apiUrl).toBe('https://arden.example.com');
    expect(options.signingKey).toBe('whsec');
  });

  it('explains a missing key', () => {
    vi.stubEnv('ARDEN_API_KEY', '');
    const error = configurationError(() => resolveOptions());
    expect(error.option).toBe('apiKey');
    expect(error.message).toContain('ARDEN_API_KEY is not set');
  });

  it.each([
    [{ apiKey: 'sk_123' }, 'apiKey'],
    [{ apiKey: testKey, environment: 'live' as const }, 'environment'],
    [{ apiKey: testKey, environment: 'staging' as never }, 'environment'],
    [{ apiKey: testKey, apiUrl: 'not a url' }, 'apiUrl'],
    [{ apiKey: testKey, apiUrl: 'ftp://host' }, 'apiUrl'],
    [{ apiKey: testKey, timeoutMs: 0 }, 'timeoutMs'],
    [{ apiKey: testKey, timeoutMs: 1.5 }, 'timeoutMs'],
    [{ apiKey: testKey, pollIntervalMs: -1 }, 'pollIntervalMs'],
    [{ apiKey: testKey, maxWaitMs: '10' as never }, 'maxWaitMs'],
    [{ apiKey: testKey, retryAttempts: 11 }, 'retryAttempts'],
    [{ apiKey: testKey, onUnavailable: 'maybe' as never }, 'onUnavailable'],
    [{ apiKey: testKey, fetch: 'nope' as never }, 'fetch'],
    [{ apiKey: testKey, signingKey: '' }, 'signingKey'],
    [{ apiKey: testKey, logger: {} as never }, 'logger'],
    [{ apiKey: testKey, apiKeyy: 'typo' } as never, 'apiKeyy'],
  ])('refuses %o naming %s', (options, option) => {
    const error = configurationError(() => resolveOptions(options));
    expect(error.option).toBe(option);
    expect(error.message).toContain(option === 'apiKeyy' ? 'Unknown option apiKeyy' : '');
  });

  it('takes the environment from the key prefix', () => {
    expect(environmentOfKey(testKey)).toBe('test');
    expect(environmentOfKey(liveKey)).toBe('live');
    expect(environmentOfKey('arden_prod_x')).toBeUndefined();
    expect(resolveOptions({ apiKey: liveKey, environment: 'live' }).environment).toBe('live');
  });
});
