import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../test-fixtures/harness';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ workers: false }, { listen: false });
});

afterAll(async () => {
  await t.close();
});

const checkWith = (key: string) =>
  t.request('POST', '/policy/check', { key, body: { tool_name: 'any.tool' } });

describe('agents and keys', () => {
  test('keys are shown once, stored hashed, and rotate/revoke take effect at once', async () => {
    const agent = await t.server.agents.createAgent({ name: 'rotating' });
    const created = await t.server.agents.createKey(agent.id, 'live', 'ci');
    expect(created.key).toMatch(/^arden_live_[0-9a-f]{32}$/);
    expect(created.record.prefix).toBe(created.key.slice(0, 15));
    const stored = await t.server.store.database.get<{ hash: string }>(
      'SELECT hash FROM api_keys WHERE id = ?',
      [created.record.id],
    );
    expect(stored?.hash).not.toContain(created.key.slice(11));
    expect((await checkWith(created.key)).status).toBe(200);

    const rotated = await t.server.agents.rotateKey(created.record.id);
    expect((await checkWith(created.key)).status).toBe(401);
    expect((await checkWith(rotated.key)).status).toBe(200);
    await expect(t.server.agents.rotateKey(created.record.id)).rejects.toMatchObject({
      status: 409,
    });

    await t.server.agents.revokeKey(rotated.record.id);
    expect((await checkWith(rotated.key)).status).toBe(401);
  });

  test('changing the default action applies to the next check', async () => {
    const agent = await t.server.agents.createAgent({ name: 'defaults' });
    const { key } = await t.server.agents.createKey(agent.id, 'test');
    expect((await checkWith(key)).json).toMatchObject({ decision: 'allow', environment: 'test' });
    await t.server.agents.updateAgent(agent.id, { defaultAction: 'block' });
    expect((await checkWith(key)).json).toMatchObject({
      decision: 'block',
      reason: 'no_policy_configured',
    });
  });

  test('a deleted agent’s keys stop working; names are unique and validated', async () => {
    const agent = await t.server.agents.createAgent({
      name: 'doomed',
      webhookUrl: 'https://example.com/hook',
    });
    expect(agent.webhookUrl).toBe('https://example.com/hook');
    expect(agent.signingKey).toMatch(/^whsec_[0-9a-f]{64}$/);
    const { key } = await t.server.agents.createKey(agent.id, 'live');
    await checkWith(key);
    await t.server.agents.deleteAgent(agent.id);
    expect((await checkWith(key)).status).toBe(401);
    await expect(t.server.agents.createAgent({ name: 'rotating' })).rejects.toMatchObject({
      status: 409,
    });
    await expect(t.server.agents.createAgent({ name: '' })).rejects.toMatchObject({
      status: 400,
      field: 'name',
    });
    await expect(
      t.server.agents.createAgent({ name: 'bad-hook', webhookUrl: 'ftp://example.com' }),
    ).rejects.toMatchObject({ field: 'webhookUrl' });
  });

  test('rotating the signing key changes it', async () => {
    const agent = await t.server.agents.createAgent({ name: 'signer' });
    const rotated = await t.server.agents.rotateSigningKey(agent.id);
    expect(rotated.signingKey).not.toBe(agent.signingKey);
    expect((await t.server.agents.getAgent('signer')).signingKey).toBe(rotated.signingKey);
  });

  test('last-used times are written in batches', async () => {
    const agent = await t.server.agents.createAgent({ name: 'used' });
    const created = await t.server.agents.createKey(agent.id, 'live');
    await checkWith(created.key);
    await t.server.agents.flushKeyUse();
    expect((await t.server.store.apiKeys.get(created.record.id))?.lastUsedAt).toBeGreaterThan(0);
  });
});
