import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { CliIo } from '../cli/io';
import { run } from '../cli/main';

// `arden approvals approve ID --patch …` and `arden approvals groups` against a real server.

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

async function arden(argv: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
    cwd: process.cwd(),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

describe('arden approvals (approve with edit, groups)', () => {
  test('--patch approves with edited arguments; a bad patch is a usage error', async () => {
    const t = await startAdminTestServer({ workers: false });
    servers.push(t);
    await t.server.policies.saveSet(t.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'refund',
        rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
        default: 'allow',
      },
    ]);
    const env = { ARDEN_URL: t.url, ARDEN_ADMIN_TOKEN: t.tokens.approver };
    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'refund', kwargs: { amount: 4000 } },
    });
    const id = held.json.action_id as string;
    const bad = await arden(['approvals', 'approve', id, '--patch', '[{op'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--patch is not JSON');
    const approved = await arden(
      [
        'approvals',
        'approve',
        id,
        '--patch',
        '[{"op": "replace", "path": "/amount", "value": 40}]',
      ],
      env,
    );
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('with edited arguments {"amount":40}');
    const status = await t.request('GET', `/status/${id}?capabilities=edits`);
    expect(status.json.edited.kwargs).toEqual({ amount: 40 });

    const admin = { ARDEN_URL: t.url, ARDEN_ADMIN_TOKEN: t.tokens.admin };
    const set = await arden(
      ['approvals', 'groups', 'approver@example.com', '--set', 'finance,ops'],
      admin,
    );
    expect(set.stdout).toContain('approver@example.com: finance, ops');
    const list = await arden(['approvals', 'groups'], admin);
    expect(list.stdout).toMatch(/approver@example\.com\s+finance, ops/);
  });
});
