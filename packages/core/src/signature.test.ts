import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureProblem, signWebhookPayload, verifyWebhookSignature } from './signature';

const key = 'whsec_test_signing_key';
const body = '{"event_type":"action_approved","action":{"action_id":"a1","tool_name":"t"}}';
const now = 1_760_000_000;
const clock = () => now * 1000;

describe('webhook signatures', () => {
  it('matches an independent HMAC-SHA256 of "{timestamp}.{body}"', async () => {
    const expected = `sha256=${createHmac('sha256', key).update(`${now}.${body}`).digest('hex')}`;
    expect(await signWebhookPayload(body, now, key)).toBe(expected);
    expect(await signWebhookPayload(new TextEncoder().encode(body), String(now), key)).toBe(
      expected,
    );
  });

  it('accepts a valid signature, bytes or string', async () => {
    const signature = await signWebhookPayload(body, now, key);
    expect(await verifyWebhookSignature(body, String(now), signature, key, { now: clock })).toBe(
      true,
    );
    expect(
      await verifyWebhookSignature(new TextEncoder().encode(body), String(now), signature, key, {
        now: clock,
      }),
    ).toBe(true);
  });

  it.each([
    ['a tampered body', body.replace('a1', 'a2'), String(now), 'ok', key, 'does not match'],
    ['a wrong key', body, String(now), 'ok', 'other-key', 'does not match'],
    ['a stale timestamp', body, String(now - 301), 'sign', key, 'old'],
    ['a future timestamp', body, String(now + 301), 'sign', key, 'in the future'],
    ['a missing timestamp', body, undefined, 'ok', key, 'X-Arden-Timestamp header is missing'],
    [
      'a missing signature',
      body,
      String(now),
      undefined,
      key,
      'X-Arden-Signature header is missing',
    ],
    ['a malformed signature', body, String(now), 'md5=abc', key, 'not of the form'],
    ['odd-length hex', body, String(now), 'sha256=abc', key, 'not of the form'],
    ['a non-numeric timestamp', body, '12a', 'ok', key, 'not a unix time'],
  ])('refuses %s', async (_, candidateBody, timestamp, signatureKind, verifyKey, problem) => {
    let signature: string | undefined;
    if (signatureKind === 'ok') signature = await signWebhookPayload(body, now, key);
    else if (signatureKind === 'sign')
      signature = await signWebhookPayload(body, timestamp ?? '', key);
    else signature = signatureKind;
    const found = await signatureProblem(candidateBody, timestamp, signature, verifyKey, 300, now);
    expect(found).toContain(problem);
    expect(
      await verifyWebhookSignature(candidateBody, timestamp, signature, verifyKey, { now: clock }),
    ).toBe(false);
  });

  it('accepts timestamps just inside the tolerance and honours a custom one', async () => {
    const signature = await signWebhookPayload(body, now - 299, key);
    expect(
      await verifyWebhookSignature(body, String(now - 299), signature, key, { now: clock }),
    ).toBe(true);
    expect(
      await verifyWebhookSignature(body, String(now - 299), signature, key, {
        now: clock,
        toleranceSeconds: 60,
      }),
    ).toBe(false);
  });
});
