import { signWebhookPayload, verifyWebhookSignature } from '@arden/core';
import { describe, expect, test } from 'vitest';
import { signWebhook } from './service';

// The server signs its webhooks with core's `signWebhookPayload`; the deprecated synchronous
// `signWebhook` export must keep producing the same bytes.
describe('webhook signatures', () => {
  const body = '{"event":"action.approved","note":"café ✓"}';

  test('are HMAC-SHA256 of "{timestamp}.{body}", as a known vector says', async () => {
    const expected = 'sha256=115c370319f5c5fbf273a487dba1ff20e30aeed5d7152a6698755b3843e92aa4';
    expect(await signWebhookPayload(body, 1_700_000_000, 'whsec_test')).toBe(expected);
    expect(signWebhook(body, 1_700_000_000, 'whsec_test')).toBe(expected);
  });

  test('the deprecated signWebhook gives the bytes core signs and verifies', async () => {
    for (const [payload, timestamp, key] of [
      ['', 0, 'k'],
      ['{}', '1700000001', 'whsec_another'],
      ['x'.repeat(10_000), 42, 'whsec_🔑'],
    ] as const) {
      const signature = signWebhook(payload, timestamp, key);
      expect(signature).toBe(await signWebhookPayload(payload, timestamp, key));
      expect(
        await verifyWebhookSignature(payload, String(timestamp), signature, key, {
          now: () => Number(timestamp) * 1000,
        }),
      ).toBe(true);
    }
  });
});
