import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { CliIo } from '../cli/io';
import { run } from '../cli/main';
import { secretsKey } from './test-support';

let t: AdminTestServer;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startAdminTestServer({ channels: { secretsKey } });
  env = { ARDEN_URL: t.url, ARDEN_ADMIN_TOKEN: t.tokens.admin };
}, 60_000);
afterAll(() => t.close(), 60_000);

async function arden(argv: string[], extra: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: { ...env, ...extra },
    cwd: process.cwd(),
  };
  return { code: await run(argv, io), stdout, stderr };
}

describe('arden channels', { timeout: 120_000 }, () => {
  it('creates channels with secrets from the environment, lists, sets defaults, shows messages', async () => {
    const missing = await arden(['channels', 'create', 'slack', 'ops']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ARDEN_SLACK_BOT_TOKEN');
    const slack = await arden(['channels', 'create', 'slack', 'ops', '--channel', '#ops'], {
      ARDEN_SLACK_BOT_TOKEN: 'xoxb-cli-token',
      ARDEN_SLACK_SIGNING_SECRET: 'cli-signing-secret',
    });
    expect(slack.code).toBe(0);
    expect(slack.stdout).toContain('/interactions');
    expect(slack.stdout).not.toContain('xoxb-cli-token');
    const hook = await arden([
      'channels',
      'create',
      'webhook',
      'pager',
      '--endpoint',
      'https://pager.example.com/arden',
    ]);
    expect(hook.stdout).toMatch(/Signing key \(shown once.*whsec_[0-9a-f]{64}/);
    const list = await arden(['channels', 'list']);
    expect(list.stdout).toMatch(/ops\s+slack\s+yes\s+ok/);
    expect(list.stdout).toMatch(/pager\s+webhook/);
    const set = await arden(['channels', 'defaults', 'test-agent', 'slack:#ops', 'webhook:pager']);
    expect(set.stdout).toBe('slack:#ops\nwebhook:pager\n');
    expect((await arden(['channels', 'defaults', 'test-agent'])).stdout).toBe(
      'slack:#ops\nwebhook:pager\n',
    );
    const disabled = await arden(['channels', 'disable', 'pager']);
    expect(disabled.stdout).toBe('pager is disabled.\n');
    const none = await arden(['channels', 'messages', '00000000-0000-0000-0000-000000000000']);
    expect(none.code).toBe(0);
    expect((await arden(['channels', 'delete', 'pager'])).code).toBe(0);
    expect((await arden(['channels', 'list', '--json'])).stdout).not.toContain('pager');
  });
});
