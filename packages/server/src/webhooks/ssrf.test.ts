import { afterEach, describe, expect, test } from 'vitest';
import { startTestServer } from '../test-fixtures/harness';
import { approveOne, onCleanup, receiver, runCleanups, until } from '../test-fixtures/webhooks';

afterEach(runCleanups);

describe('SSRF protection', () => {
  test('private, loopback, link-local, metadata and mapped addresses are recognised', async () => {
    const { forbiddenAddressReason } = await import('./ssrf');
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a9fe:a9fe',
      '2002:a9fe:a9fe::1',
      '224.0.0.1',
    ]) {
      expect(forbiddenAddressReason(address), address).toBeDefined();
    }
    for (const address of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(forbiddenAddressReason(address), address).toBeUndefined();
    }
    expect(forbiddenAddressReason('169.254.169.254')).toMatch(/metadata/);
  });

  test('refused when saved: literal addresses and names that resolve to them; allowed by config', async () => {
    const strict = await startTestServer({ webhooks: { allowPrivate: false } });
    onCleanup(() => strict.close());
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://10.0.0.5/hook',
    ]) {
      await expect(
        strict.server.agents.updateAgent(strict.agent.id, { webhookUrl: url }),
        url,
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/ARDEN_WEBHOOK_ALLOW_PRIVATE/),
      });
      await expect(
        strict.server.agents.createAgent({
          name: `x-${Math.random().toString(36).slice(2)}`,
          webhookUrl: url,
        }),
      ).rejects.toMatchObject({ status: 400 });
    }
    // A public address, and a name that does not resolve (yet), are accepted.
    await strict.server.agents.updateAgent(strict.agent.id, {
      webhookUrl: 'https://93.184.216.34/hook',
    });
    await strict.server.agents.updateAgent(strict.agent.id, {
      webhookUrl: 'https://does-not-exist.invalid/hook',
    });

    const listed = await startTestServer({
      webhooks: { allowPrivate: false, allowedHosts: ['127.0.0.1', 'localhost', '10.0.0.0/8'] },
    });
    onCleanup(() => listed.close());
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://10.0.0.5/x',
    ]) {
      await listed.server.agents.updateAgent(listed.agent.id, { webhookUrl: url });
    }
    await expect(
      listed.server.agents.updateAgent(listed.agent.id, { webhookUrl: 'http://192.168.0.1/x' }),
    ).rejects.toMatchObject({ status: 400 });
  });

  test('refused when sent: the address is checked again at every attempt, on the address connected to', async () => {
    const hook = await receiver(() => 200);
    const t = await startTestServer(
      { webhooks: { pollIntervalMs: 20, allowPrivate: false, retrySchedule: [] } },
      { agent: { defaultAction: 'requires_approval' } },
    );
    onCleanup(() => t.close());
    // The URL got in while private addresses were allowed (or its name pointed elsewhere).
    await t.server.store.agents.update(t.agent.id, { webhookUrl: hook.url }, Date.now());
    const id = await approveOne(t);
    await until(async () => (await t.server.store.webhooks.get(id))?.status === 'failed');
    const [attempt] = await t.server.store.webhooks.attempts(id);
    expect(attempt?.statusCode).toBeNull();
    expect(attempt?.error).toMatch(/webhooks may not be sent to 127\.0\.0\.1.*loopback/);
    expect(hook.requests).toHaveLength(0);
  });

  test('DNS rebinding: a name that resolved to a public address at save time and to a private one at send time is refused', async () => {
    const { createWebhookSender } = await import('./sender');
    const { checkWebhookUrl } = await import('./ssrf');
    const hook = await receiver(() => 200);
    const port = new URL(hook.url).port;
    let answers = 0;
    const resolver = async () => {
      answers++;
      return answers === 1
        ? [{ address: '93.184.216.34', family: 4 }]
        : [{ address: '127.0.0.1', family: 4 }];
    };
    const url = `http://rebind.example:${port}/hook`;
    await checkWebhookUrl(url, {}, resolver);
    const send = createWebhookSender({}, { resolver });
    await expect(send({ url, headers: {}, body: '{}', timeoutMs: 2_000 })).rejects.toMatchObject({
      kind: 'forbidden_address',
      message: expect.stringMatching(/rebind\.example \(127\.0\.0\.1\).*loopback/),
    });
    expect(hook.requests).toHaveLength(0);
    // Allowed by name, the same lookup connects.
    const allowed = createWebhookSender({ allowedHosts: ['rebind.example'] }, { resolver });
    expect((await allowed({ url, headers: {}, body: '{}', timeoutMs: 2_000 })).status).toBe(200);
    expect(hook.requests).toHaveLength(1);
  });
});
