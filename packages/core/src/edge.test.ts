// @vitest-environment edge-runtime
import { describe, expect, it } from 'vitest';
import { Arden } from './arden';
import { PolicyDeniedError } from './errors';
import { getSession, withSession } from './session';
import { signWebhookPayload, verifyWebhookSignature } from './signature';
import { createTestArden } from './test/index';

describe('on an edge runtime (@edge-runtime/vm)', () => {
  it('has no Node globals here', () => {
    expect(typeof (globalThis as { EdgeRuntime?: unknown }).EdgeRuntime).toBe('string');
  });

  it('guards calls through fetch and Web Crypto', async () => {
    const server = createTestArden({
      decisions: { 'db.drop': 'block', refund: 'requires_approval' },
    });
    const arden = new Arden(server.options());
    const lookup = arden.guardTool('lookup', async ({ id }: { id: number }) => `customer ${id}`);
    expect(await withSession('edge-session', () => lookup({ id: 1 }))).toBe('customer 1');
    expect(server.checks[0]?.sessionId).toBe('edge-session');
    expect(getSession()).toBeUndefined();
    const error = await arden
      .guardTool('db.drop', async () => 'dropped')()
      .catch((caught: unknown) => caught);
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    const held = arden.guardTool('refund', async () => 'refunded')();
    server.approve((await server.nextPending()).actionId);
    expect(await held).toBe('refunded');
    const signature = await signWebhookPayload('{"a":1}', 100, 'key');
    expect(
      await verifyWebhookSignature('{"a":1}', '100', signature, 'key', { now: () => 100_000 }),
    ).toBe(true);
    await arden.shutdown();
  });
});
