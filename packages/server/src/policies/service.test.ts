import { PolicyCompileError } from '@arden/policy';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { startTestServer, type TestServer } from '../test-fixtures/harness';
import { PolicyService } from './service';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ workers: false }, { listen: false });
});

afterAll(async () => {
  await t.close();
});

const check = async (tool: string, kwargs: Record<string, unknown> = {}) =>
  (await t.request('POST', '/policy/check', { body: { tool_name: tool, kwargs } })).json;

describe('policy sets', () => {
  test('every save is a version with a diff; checks see the new set at once', async () => {
    const agentId = t.agent.id;
    expect((await check('mail.send')).decision).toBe('allow');
    const first = await t.server.policies.saveSet(
      agentId,
      'live',
      [
        { name: 'Mail', tool: 'mail.*', action: 'requires_approval' },
        { name: 'Shell', tool: 'shell.run', action: 'block' },
      ],
      { createdBy: 'alice', message: 'first' },
    );
    expect(first).toMatchObject({
      version: 1,
      createdBy: 'alice',
      diff: { added: ['Mail', 'Shell'], removed: [], changed: [] },
    });
    expect((await check('mail.send')).decision).toBe('requires_approval');

    const second = await t.server.policies.saveSet(agentId, 'live', [
      {
        name: 'Mail',
        tool: 'mail.*',
        rules: [{ if: 'args.to.endsWith("@example.com")', then: 'allow' }],
        default: 'block',
      },
      { name: 'Shell', tool: 'shell.run', action: 'block' },
      { name: 'Files', tool: 'file.delete', action: 'requires_approval', timeout: 60 },
    ]);
    expect(second.version).toBe(2);
    expect(second.diff).toEqual({ added: ['Files'], removed: [], changed: ['Mail'] });
    expect((await check('mail.send', { to: 'x@example.com' })).decision).toBe('allow');
    expect((await check('mail.send', { to: 'x@evil.test' })).decision).toBe('block');

    const stored = await t.server.policies.list(agentId, 'live');
    expect(stored.map((policy) => [policy.name, policy.version])).toEqual([
      ['Mail', 2],
      ['Shell', 1],
      ['Files', 2],
    ]);
    const versions = await t.server.policies.versions(agentId, 'live');
    expect(versions.map((version) => version.version)).toEqual([2, 1]);
    expect(versions[1]?.message).toBe('first');
  });

  test('a set that does not compile is refused and nothing changes', async () => {
    const before = await t.server.policies.list(t.agent.id, 'live');
    const error = await t.server.policies
      .saveSet(t.agent.id, 'live', [
        {
          name: 'Broken',
          tool: 'x',
          rules: [{ if: 'args.amount >', then: 'allow' }],
          default: 'block',
        },
      ])
      .catch((caught) => caught);
    expect(PolicyCompileError.isInstance(error)).toBe(true);
    expect(error.issues[0]).toMatchObject({ policy: 'Broken' });
    expect(await t.server.policies.list(t.agent.id, 'live')).toEqual(before);
  });

  test('savePolicy, deletePolicy and rollback each make a version', async () => {
    const agentId = t.agent.id;
    const saved = await t.server.policies.savePolicy(agentId, 'live', {
      name: 'Shell',
      tool: 'shell.run',
      action: 'allow',
    });
    expect(saved.diff.changed).toEqual(['Shell']);
    expect((await check('shell.run')).decision).toBe('allow');
    const deleted = await t.server.policies.deletePolicy(agentId, 'live', 'Files');
    expect(deleted.diff.removed).toEqual(['Files']);
    await expect(t.server.policies.deletePolicy(agentId, 'live', 'Nope')).rejects.toMatchObject({
      status: 404,
    });
    const rolledBack = await t.server.policies.rollback(agentId, 'live', 1);
    expect(rolledBack.message).toBe('Rolled back to version 1');
    expect((await check('shell.run')).decision).toBe('block');
    expect((await t.server.policies.list(agentId, 'live')).map((policy) => policy.name)).toEqual([
      'Mail',
      'Shell',
    ]);
  });

  test('a timeout from the policy sets expires_at', async () => {
    await t.server.policies.savePolicy(t.agent.id, 'live', {
      name: 'Files',
      tool: 'file.delete',
      action: 'requires_approval',
      timeout: 60,
      on_timeout: 'allow',
    });
    const held = await check('file.delete');
    expect(Date.parse(held.expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
    expect(held.on_timeout).toBe('allow');
  });
});

describe('simulation', () => {
  test('a draft is replayed on the last logged calls, beside what was decided then', async () => {
    const agent = await t.server.agents.createAgent({ name: 'simulated' });
    const { key } = await t.server.agents.createKey(agent.id, 'live');
    for (const amount of [10, 100]) {
      await t.request('POST', '/policy/check', {
        key,
        body: { tool_name: 'pay', kwargs: { amount } },
      });
    }
    const outcomes = await t.server.policies.simulate(agent, 'live', [
      {
        name: 'Pay',
        tool: 'pay',
        rules: [{ if: 'args.amount > 50', then: 'requires_approval' }],
        default: 'allow',
      },
    ]);
    expect(
      outcomes.map((outcome) => [
        outcome.action.kwargs.amount,
        outcome.before,
        outcome.after.effect,
      ]),
    ).toEqual([
      [100, 'allow', 'requires_approval'],
      [10, 'allow', 'allow'],
    ]);
  });
});

describe('the compiled set of the hot path', () => {
  const guard = (then: 'allow' | 'block') => [
    {
      name: 'Guard',
      tool: 'cache.tool',
      rules: [{ if: 'args.n > 1', then }],
      default: 'allow' as const,
    },
  ];

  test('a save compiles the new set: the checks after it neither read nor compile it', async () => {
    const agentId = t.agent.id;
    await t.server.policies.saveSet(agentId, 'live', guard('block'));
    // (On PostgreSQL the save's own notification may have the version compared once more:
    // one query, not a compile.)
    const list = vi.spyOn(t.server.store.policies, 'list');
    try {
      expect((await check('cache.tool', { n: 2 })).decision).toBe('block');
      expect((await check('cache.tool', { n: 0 })).decision).toBe('allow');
      expect(list).not.toHaveBeenCalled();
    } finally {
      list.mockRestore();
    }
  });

  test('a load that read the set before a save does not bring the old set back', async () => {
    const agentId = t.agent.id;
    await t.server.policies.saveSet(agentId, 'live', guard('block'));
    t.server.policies.invalidate(agentId, 'live');
    // The load reads the old set, then is held until the new set is saved.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const repository = t.server.store.policies;
    const original = repository.list.bind(repository);
    const list = vi.spyOn(repository, 'list').mockImplementationOnce(async (...args) => {
      const policies = await original(...args);
      await held;
      return policies;
    });
    try {
      const loading = t.server.policies.compiled(agentId, 'live');
      await t.server.policies.saveSet(agentId, 'live', guard('allow'));
      release();
      expect((await loading).version).toBeLessThan(
        (await t.server.policies.compiled(agentId, 'live')).version,
      );
      expect((await check('cache.tool', { n: 2 })).decision).toBe('allow');
    } finally {
      release();
      list.mockRestore();
    }
  });

  test("another replica's save is compiled here when it is announced, not on the next check", async () => {
    const agentId = t.agent.id;
    await t.server.policies.saveSet(agentId, 'live', guard('block'));
    expect((await check('cache.tool', { n: 2 })).decision).toBe('block');
    // Another replica: its own service on the same store.
    const other = new PolicyService(t.server.store, t.server.logger);
    await other.saveSet(agentId, 'live', guard('allow'));
    t.server.policies.refresh(agentId, 'live');
    await t.server.policies.compiled(agentId, 'live');
    const list = vi.spyOn(t.server.store.policies, 'list');
    try {
      expect((await check('cache.tool', { n: 2 })).decision).toBe('allow');
      expect(list).not.toHaveBeenCalled();
    } finally {
      list.mockRestore();
    }
  });
});
