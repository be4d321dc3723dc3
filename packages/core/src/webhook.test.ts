import { afterEach, describe, expect, it, vi } from 'vitest';
import { Arden, type PendingApproval } from './arden';
import { PolicyDeniedError, WebhookVerificationError } from './errors';
import { signWebhookPayload } from './signature';
import { createTestArden } from './test/index';

const signingKey = 'whsec_signing';
const instances: Arden[] = [];
function arden(server = createTestArden()) {
  const instance = new Arden({ ...server.options(), signingKey });
  instances.push(instance);
  return instance;
}
afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.shutdown()));
});

async function delivery(
  payload: Record<string, unknown>,
  options: { eventId?: string; timestamp?: number; key?: string } = {},
) {
  const body = JSON.stringify(payload);
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      'Content-Type': 'application/json',
      'X-Arden-Timestamp': String(timestamp),
      'X-Arden-Signature': await signWebhookPayload(body, timestamp, options.key ?? signingKey),
      'X-Arden-Event-Id': options.eventId ?? `evt_${Math.random()}`,
    },
  };
}

function payload(
  actionId: string,
  toolName: string,
  approved: boolean,
  context: Record<string, unknown> = {},
) {
  return {
    event_type: approved ? 'action_approved' : 'action_denied',
    action: {
      action_id: actionId,
      tool_name: toolName,
      agent_id: 'agent_1',
      context,
      environment: 'test',
    },
    approval: { admin_user_id: 'user_1', notes: approved ? 'ok' : 'no' },
  };
}

describe('webhook mode', () => {
  it('runs the held call when its approval arrives and calls onApproval', async () => {
    const server = createTestArden({ decisions: { refund: 'requires_approval' } });
    const instance = arden(server);
    const onApproval = vi.fn();
    const body = vi.fn(async ({ amount }: { amount: number }) => amount * 2);
    const refund = instance.guardTool('refund', body, { approvalMode: 'webhook', onApproval });
    const pending = (await refund({ amount: 21 })) as PendingApproval;
    expect(pending.status).toBe('pending');
    expect(body).not.toHaveBeenCalled();
    const { body: raw, headers } = await delivery(
      payload(pending.actionId, 'refund', true, { amount: 21 }),
    );
    const handled = await instance.handleWebhook(raw, headers);
    expect(handled).toMatchObject({ handled: true, duplicate: false });
    expect(body).toHaveBeenCalledTimes(1);
    expect(onApproval).toHaveBeenCalledWith(
      42,
      expect.objectContaining({ status: 'approved', message: 'ok' }),
    );
  });

  it('calls onDenial with PolicyDeniedError when denied', async () => {
    const server = createTestArden({ decisions: { refund: 'requires_approval' } });
    const instance = arden(server);
    const onDenial = vi.fn();
    const body = vi.fn();
    const refund = instance.guardTool('refund', body, { approvalMode: 'webhook', onDenial });
    const pending = (await refund({})) as PendingApproval;
    const { body: raw, headers } = await delivery(payload(pending.actionId, 'refund', false));
    await instance.handleWebhook(raw, new Headers(headers));
    expect(body).not.toHaveBeenCalled();
    const [error, event] = onDenial.mock.calls[0]!;
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect(event).toMatchObject({ status: 'denied', message: 'no' });
  });

  it('reaches the tool after a restart: the call is rebuilt from the context', async () => {
    const server = createTestArden({ decisions: { refund: 'requires_approval' } });
    const before = arden(server);
    const pending = (await before.guardTool('refund', vi.fn(), { approvalMode: 'webhook' })({
      amount: 7,
    })) as PendingApproval;
    // The process restarts: a new instance, and the tool is guarded again at start-up.
    const after = arden(server);
    const onApproval = vi.fn();
    const body = vi.fn(async ({ amount }: { amount: number }) => `refunded ${amount}`);
    after.guardTool('refund', body, { approvalMode: 'webhook', onApproval });
    const { body: raw, headers } = await delivery(
      payload(pending.actionId, 'refund', true, { amount: 7 }),
    );
    expect((await after.handleWebhook(raw, headers)).handled).toBe(true);
    expect(body).toHaveBeenCalledWith({ amount: 7 });
    expect(onApproval).toHaveBeenCalledWith(
      'refunded 7',
      expect.objectContaining({ actionId: pending.actionId, status: 'approved' }),
    );
  });

  it('rebuilds positional calls with argNames', async () => {
    const instance = arden();
    const body = vi.fn(async (amount: number, currency: string) => `${amount} ${currency}`);
    const onApproval = vi.fn();
    instance.guardTool('pay', body, {
      approvalMode: 'webhook',
      argNames: ['amount', 'currency'],
      onApproval,
    });
    const { body: raw, headers } = await delivery(
      payload('act_9', 'pay', true, { amount: 3, currency: 'EUR' }),
    );
    await instance.handleWebhook(raw, headers);
    expect(body).toHaveBeenCalledWith(3, 'EUR');
    expect(onApproval).toHaveBeenCalledWith('3 EUR', expect.anything());
  });

  it('prefers handlers registered with onWebhook for calls it does not remember', async () => {
    const instance = arden();
    const body = vi.fn();
    instance.guardTool('notify', body, { approvalMode: 'webhook' });
    const onDenial = vi.fn();
    const unregister = instance.onWebhook('notify', { onDenial });
    const { body: raw, headers } = await delivery(payload('act_10', 'notify', false));
    await instance.handleWebhook(raw, headers);
    expect(onDenial).toHaveBeenCalledWith(
      expect.objectContaining({ actionId: 'act_10', eventType: 'action_denied' }),
    );
    expect(body).not.toHaveBeenCalled();
    unregister();
  });

  it('ignores a duplicate delivery of the same event', async () => {
    const instance = arden();
    const onApproval = vi.fn();
    instance.onWebhook('refund', { onApproval });
    const first = await delivery(payload('act_1', 'refund', true), { eventId: 'evt_same' });
    expect((await instance.handleWebhook(first.body, first.headers)).duplicate).toBe(false);
    const again = await delivery(payload('act_1', 'refund', true), { eventId: 'evt_same' });
    expect((await instance.handleWebhook(again.body, again.headers)).duplicate).toBe(true);
    expect(onApproval).toHaveBeenCalledTimes(1);
  });

  it('refuses bad signatures, stale deliveries and malformed bodies', async () => {
    const instance = arden();
    const wrongKey = await delivery(payload('a', 't', true), { key: 'other' });
    await expect(instance.handleWebhook(wrongKey.body, wrongKey.headers)).rejects.toThrow(
      /does not match/,
    );
    const stale = await delivery(payload('a', 't', true), {
      timestamp: Math.floor(Date.now() / 1000) - 3600,
    });
    await expect(instance.handleWebhook(stale.body, stale.headers)).rejects.toThrow(/tolerance/);
    const missing = await delivery(payload('a', 't', true));
    await expect(
      instance.handleWebhook(missing.body, { 'x-arden-signature': 'sha256=00' }),
    ).rejects.toThrow(/Timestamp header is missing/);
    const malformed = await delivery({ event_type: 'something' });
    const error = await instance
      .handleWebhook(malformed.body, malformed.headers)
      .catch((caught) => caught);
    expect(WebhookVerificationError.isInstance(error)).toBe(true);
    expect(error.statusCode).toBe(400);
  });

  it('says when no handler was registered', async () => {
    const instance = arden();
    const { body, headers } = await delivery(payload('a', 'unregistered.tool', true));
    expect((await instance.handleWebhook(body, headers)).handled).toBe(false);
  });

  it('needs a signing key', async () => {
    const server = createTestArden();
    const instance = new Arden(server.options());
    instances.push(instance);
    await expect(instance.handleWebhook('{}', {})).rejects.toThrow(/signing key/);
  });
});
