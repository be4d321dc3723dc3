import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Arden, createArden, PolicyDeniedError, withSession } from '@arden/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ActionRecord } from './store';
import { startTestServer, type TestServer } from './test-fixtures/harness';

let t: TestServer;
let arden: Arden;
let receiver: Server;
const received: { headers: Record<string, unknown>; body: string; handled: Promise<unknown> }[] =
  [];

/** Resolves with the next action held for approval. */
function nextPending(): Promise<ActionRecord> {
  return new Promise((resolve) => {
    const stop = t.server.events.subscribe((event) => {
      if (event.type === 'action.created' && event.action.status === 'pending') {
        stop();
        resolve(event.action);
      }
    });
  });
}

async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  receiver = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const handled = arden.handleWebhook(body, request.headers as Record<string, string>).then(
        (result) => {
          response.writeHead(200).end('{}');
          return result;
        },
        (error) => {
          response.writeHead(error.statusCode ?? 400).end(JSON.stringify({ error: String(error) }));
          return error;
        },
      );
      received.push({ headers: request.headers, body, handled });
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/arden`;
  t = await startTestServer({}, { agent: { webhookUrl } });
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'Never drop tables', tool: 'db.drop_table', action: 'block' },
    { name: 'Payments need a human', tool: 'payments.*', action: 'requires_approval' },
  ]);
  arden = createArden({
    apiKey: t.liveKey,
    apiUrl: t.url,
    signingKey: t.agent.signingKey,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
  });
});

afterAll(async () => {
  await arden.shutdown();
  await t.close();
  await new Promise((resolve) => receiver.close(resolve));
});

describe('@arden/core against the real server', () => {
  test('allow runs the tool and reports its outcome', async () => {
    const read = arden.guardTool(
      'file.read',
      async ({ path }: { path: string }) => `contents of ${path}`,
    );
    await expect(read({ path: '/etc/motd' })).resolves.toBe('contents of /etc/motd');
    await arden.flush();
    const [action] = (await t.server.store.actions.list({ tool: 'file.read' })).items;
    expect(action).toMatchObject({
      decision: 'allow',
      kwargs: { path: '/etc/motd' },
      resultStatus: 'succeeded',
    });
  });

  test('a failing tool reports the failure', async () => {
    const broken = arden.guardTool('file.write', async (_input: { path: string }) => {
      throw new Error('disk full');
    });
    await expect(broken({ path: '/full' })).rejects.toThrow('disk full');
    await arden.flush();
    const [action] = (await t.server.store.actions.list({ tool: 'file.write' })).items;
    expect(action).toMatchObject({ resultStatus: 'failed', resultError: 'Error: disk full' });
  });

  test('block throws PolicyDeniedError and never runs the tool', async () => {
    let ran = false;
    const drop = arden.guardTool('db.drop_table', async (_input: { table: string }) => {
      ran = true;
    });
    const error = await drop({ table: 'users' }).catch((caught) => caught);
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect(error.reason).toBe('blocked');
    expect(ran).toBe(false);
  });

  test('requires_approval in wait mode: approved runs, denied throws with the notes', async () => {
    const refund = arden.guardTool(
      'payments.refund',
      async ({ amount }: { amount: number }) => `refunded ${amount}`,
    );
    const held = nextPending();
    const call = refund({ amount: 150 });
    const action = await held;
    // As the agent sent it, and as the policy saw it (an exact integer).
    expect(action.kwargsJson).toBe('{"amount":150}');
    expect(action.kwargs).toEqual({ amount: 150n });
    await t.server.approvals.decide(action.id, {
      decision: 'approve',
      userId: 'alice',
      notes: 'ok',
    });
    await expect(call).resolves.toBe('refunded 150');

    const heldAgain = nextPending();
    const denied = refund({ amount: 9_999 });
    await t.server.approvals.decide((await heldAgain).id, {
      decision: 'deny',
      userId: 'bob',
      notes: 'Too much',
    });
    const error = await denied.catch((caught) => caught);
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect(error.reason).toBe('denied');
    expect(error.message).toContain('Too much');
  });

  test('requires_approval in async mode calls onApproval with the result', async () => {
    let settle!: (value: unknown) => void;
    const settled = new Promise((resolve) => {
      settle = resolve;
    });
    const pay = arden.guardTool('payments.pay', async ({ to }: { to: string }) => `paid ${to}`, {
      approvalMode: 'async',
      onApproval: (result) => settle(result),
      onDenial: (error) => settle(error),
    });
    const held = nextPending();
    const pending = await pay({ to: 'acme' });
    expect(pending).toMatchObject({ status: 'pending', toolName: 'payments.pay' });
    const action = await held;
    await t.server.approvals.decide(action.id, { decision: 'approve', userId: 'alice' });
    await expect(settled).resolves.toBe('paid acme');
  });

  test('requires_approval in webhook mode: the signed webhook reaches handleWebhook and runs the call', async () => {
    let settle!: (value: unknown) => void;
    const settled = new Promise((resolve) => {
      settle = resolve;
    });
    const wire = arden.guardTool(
      'payments.wire',
      async ({ iban }: { iban: string }) => `wired to ${iban}`,
      {
        approvalMode: 'webhook',
        onApproval: (result) => settle(result),
        onDenial: (error) => settle(error),
      },
    );
    const held = nextPending();
    const pending = await wire({ iban: 'DE00' });
    expect(pending).toMatchObject({ status: 'pending' });
    const action = await held;
    await t.server.approvals.decide(action.id, {
      decision: 'approve',
      userId: 'carol',
      notes: 'fine',
    });
    await expect(settled).resolves.toBe('wired to DE00');
    // Earlier tests' deliveries may still be arriving: pick this action's.
    const delivery = received.find((item) => item.body.includes(action.id));
    expect(delivery?.headers['x-arden-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(delivery?.headers['x-arden-event-id']).toMatch(/^evt_/);
    const body = JSON.parse(delivery?.body ?? '{}');
    expect(body).toMatchObject({
      event_type: 'action_approved',
      action: {
        action_id: action.id,
        tool_name: 'payments.wire',
        context: { iban: 'DE00' },
        environment: 'live',
      },
      approval: { admin_user_id: 'carol', notes: 'fine' },
    });
    const [outbox] = (await t.server.store.webhooks.list({ actionId: action.id })).items;
    await eventually(
      () => t.server.store.webhooks.get(outbox?.id as string),
      (row) => row?.status === 'delivered',
    );
    const attempts = await t.server.store.webhooks.attempts(outbox?.id as string);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.statusCode).toBe(200);
  });

  test('sessions reach the action log and usage, with cost', async () => {
    const search = arden.guardTool('web.search', async (_input: { q: string }) => 'results');
    await withSession('conversation-7', async () => {
      await search({ q: 'arden' });
      arden.logTokenUsage({ model: 'gpt-4o-mini', promptTokens: 2_000, completionTokens: 1_000 });
    });
    await arden.flush();
    const [action] = (await t.server.store.actions.list({ sessionId: 'conversation-7' })).items;
    expect(action?.toolName).toBe('web.search');
    const usage = await eventually(
      () => t.server.store.usage.list({ sessionId: 'conversation-7' }),
      (page) => page.items.length === 1,
    );
    expect(usage.items[0]).toMatchObject({
      model: 'gpt-4o-mini',
      promptTokens: 2_000,
      rateFound: true,
    });
    expect(usage.items[0]?.costUsd).toBeCloseTo((2_000 * 0.15 + 1_000 * 0.6) / 1e6, 12);
    const sessions = await t.server.store.actions.listSessions({ agentId: t.agent.id });
    expect(sessions.items.find((session) => session.sessionId === 'conversation-7')).toMatchObject({
      actions: 1,
      totalTokens: 3_000,
    });
  });
});
