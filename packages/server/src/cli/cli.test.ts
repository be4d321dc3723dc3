import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { CliIo } from './io';
import { run } from './main';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures');
const builtCli = join(here, '..', '..', 'dist', 'cli.js');

/** Runs `arden` in this process and captures what it prints. */
async function arden(argv: string[], env: Record<string, string | undefined> = {}, cwd = fixtures) {
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
    cwd,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

describe('arden policies test', () => {
  it('exits 0 when every case passes', async () => {
    const result = await arden(['policies', 'test', '-f', 'passing.yaml']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('4 passed, 0 failed');
  });

  it('exits 1 on a failing case and prints it with file:line', async () => {
    const result = await arden(['policies', 'test', '-f', 'failing.yaml', '-f', 'passing.yaml']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'failing.yaml:14: test "this one is wrong" (stripe.issue_refund) failed: expected allow, decided requires_approval.',
    );
    expect(result.stdout).not.toContain('failing.yaml:10');
    expect(result.stdout).toContain('5 passed, 1 failed');
    const verbose = await arden(['policies', 'test', '-f', 'failing.yaml', '--verbose']);
    expect(verbose.stdout).toContain('failing.yaml:10: test "small refund"');
  });

  it('exits 3 when a policy does not compile, with file:line:column', async () => {
    const result = await arden(['policies', 'test', '-f', 'invalid.yaml']);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/^invalid\.yaml:6:\d+: policies\[0\]\.rules\[0\]\.if: /m);
  });

  it('exits 2 on a wrong command line or a missing file', async () => {
    expect((await arden(['policies', 'test'])).code).toBe(2);
    const missing = await arden(['policies', 'test', '-f', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot read nope\.yaml \(ENOENT\)/);
    const unknown = await arden(['policies', 'test', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--frobnicate.*arden policies --help/);
    expect((await arden(['frobnicate'])).code).toBe(2);
  });

  it('gives the same exit codes from the built command', async () => {
    if (!existsSync(builtCli)) throw new Error(`Build first: ${builtCli} is missing (pnpm build).`);
    const spawnCli = (file: string) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, [builtCli, 'policies', 'test', '-f', file], {
          cwd: fixtures,
        });
        let stdout = '';
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
        });
        child.on('close', (code) => resolve({ code, stdout }));
      });
    expect((await spawnCli('passing.yaml')).code).toBe(0);
    const failing = await spawnCli('failing.yaml');
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain('failing.yaml:14:');
    expect((await spawnCli('invalid.yaml')).code).toBe(3);
    expect(readFileSync(builtCli, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  });
});

describe('commands against a running server', () => {
  let t: AdminTestServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await startAdminTestServer();
    env = { ARDEN_URL: t.url, ARDEN_ADMIN_TOKEN: t.tokens.admin };
  });

  afterAll(async () => {
    await t.close();
  });

  it('agents create, list, keys create, rotate and revoke', async () => {
    const created = await arden(
      ['agents', 'create', 'support-bot', '--default-action', 'block', '--keys', 'test,live'],
      env,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('Created agent support-bot');
    const signingKey = /\n {2}(whsec_[0-9a-f]{64})\n/.exec(created.stdout)?.[1];
    const testKey = /\n {2}(arden_test_[0-9a-f]{32})\n/.exec(created.stdout)?.[1];
    const liveKey = /\n {2}(arden_live_[0-9a-f]{32})\n/.exec(created.stdout)?.[1];
    expect(signingKey).toBeDefined();
    expect(testKey).toBeDefined();
    expect(liveKey).toBeDefined();
    const check = await t.request('POST', '/policy/check', {
      key: testKey as string,
      body: { tool_name: 'x' },
    });
    expect(check.json.decision).toBe('block');

    const list = await arden(['agents', 'list'], env);
    expect(list.stdout).toMatch(/support-bot\s+\S+\s+block/);
    const get = await arden(['agents', 'get', 'support-bot'], env);
    expect(get.stdout).not.toContain(testKey);
    expect(get.stdout).not.toContain(signingKey);
    const keysJson = await arden(['agents', 'keys', 'list', 'support-bot', '--json'], env);
    const keys = JSON.parse(keysJson.stdout).items as {
      id: string;
      prefix: string;
      environment: string;
    }[];
    expect(keys).toHaveLength(2);

    const testKeyRecord = keys.find((key) => key.environment === 'test') as { prefix: string };
    const rotated = await arden(
      ['agents', 'keys', 'rotate', 'support-bot', testKeyRecord.prefix],
      env,
    );
    expect(rotated.code).toBe(0);
    const newKey = /\n {2}(arden_test_[0-9a-f]{32})\n/.exec(rotated.stdout)?.[1] as string;
    expect(newKey).not.toBe(testKey);
    expect(
      (
        await t.request('POST', '/policy/check', {
          key: testKey as string,
          body: { tool_name: 'x' },
        })
      ).status,
    ).toBe(401);
    const newKeyId = JSON.parse(
      (await arden(['agents', 'keys', 'list', 'support-bot', '--json'], env)).stdout,
    ).items.find((key: { environment: string }) => key.environment === 'test').id;
    const revoked = await arden(['agents', 'keys', 'revoke', 'support-bot', newKeyId], env);
    expect(revoked.code).toBe(0);
    expect(
      (await t.request('POST', '/policy/check', { key: newKey, body: { tool_name: 'x' } })).status,
    ).toBe(401);
    const created2 = await arden(['agents', 'keys', 'create', 'support-bot', '--env', 'live'], env);
    expect(created2.stdout).toMatch(/arden_live_[0-9a-f]{32}/);

    const duplicate = await arden(['agents', 'create', 'support-bot'], env);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/already exists/);

    // The owner (exclude_owner) and sensitive values in webhooks.
    const owned = await arden(
      [
        'agents',
        'update',
        'support-bot',
        '--owner',
        'approver@example.com',
        '--webhook-sensitive',
        'full',
      ],
      env,
    );
    expect(owned.code, owned.stderr).toBe(0);
    const approver = await t.server.store.users.getByEmail('approver@example.com');
    expect(owned.stdout).toContain(`owner:          ${approver?.id}`);
    expect(owned.stdout).toContain('sensitive args in webhooks: in full (logged)');
    const cleared = await arden(
      ['agents', 'update', 'support-bot', '--owner', 'none', '--webhook-sensitive', 'masked'],
      env,
    );
    expect(cleared.stdout).toContain('owner:          (none)');
    expect(cleared.stdout).toContain('sensitive args in webhooks: masked');
    const wrong = await arden(
      ['agents', 'update', 'support-bot', '--webhook-sensitive', 'yes'],
      env,
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('--webhook-sensitive must be masked or full');
  });

  it('policies apply, diff and get; approvals list, approve and deny', async () => {
    const apply = await arden(
      ['policies', 'apply', '-f', 'passing.yaml', '--agent', 'test-agent', '--env', 'live'],
      env,
    );
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Running 4 tests of passing.yaml');
    expect(apply.stdout).toContain('now version 1 (+3 added');
    const again = await arden(
      ['policies', 'apply', '-f', 'passing.yaml', '--agent', 'test-agent', '--env', 'live'],
      env,
    );
    expect(again.stdout).toContain('already up to date (version 1)');
    const diff = await arden(
      [
        'policies',
        'diff',
        '-f',
        'failing.yaml',
        '--agent',
        'test-agent',
        '--env',
        'live',
        '--exit-code',
      ],
      env,
    );
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('- policy "crm"');
    const refused = await arden(
      ['policies', 'apply', '-f', 'failing.yaml', '--agent', 'test-agent', '--env', 'live'],
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('failing.yaml:14:');
    expect(refused.stderr).toMatch(/Not applied: 1 test of failing\.yaml fails/);
    const invalid = await arden(
      ['policies', 'apply', '-f', 'invalid.yaml', '--agent', 'test-agent'],
      env,
    );
    expect(invalid.code).toBe(3);
    const get = await arden(['policies', 'get', '--agent', 'test-agent', '--env', 'live'], env);
    expect(JSON.parse(get.stdout)).toHaveLength(3);

    const first = await t.request('POST', '/policy/check', {
      body: { tool_name: 'stripe.issue_refund', kwargs: { amount: 500 } },
    });
    const second = await t.request('POST', '/policy/check', {
      body: { tool_name: 'stripe.issue_refund', kwargs: { amount: 700 } },
    });
    const third = await t.request('POST', '/policy/check', {
      raw: '{"tool_name": "stripe.issue_refund", "kwargs": {"amount": 900, "id": 12345678901234567891}}',
    });
    const list = await arden(['approvals', 'list'], env);
    expect(list.stdout).toContain(first.json.action_id);
    expect(list.stdout).toContain('{"amount":500}');
    // As the agent sent it, not rounded by the CLI's JSON parser.
    expect(list.stdout).toContain('{"amount": 900, "id": 12345678901234567891}');
    const listJson = await arden(['approvals', 'list', '--json'], env);
    expect(listJson.stdout).toContain('"kwargs": {"amount": 900, "id": 12345678901234567891}');
    const approve = await arden(['approvals', 'approve', first.json.action_id, '--notes', 'ok'], {
      ...env,
      ARDEN_ADMIN_TOKEN: t.tokens.approver,
    });
    expect(approve.code).toBe(0);
    expect(approve.stdout).toContain('Approved stripe.issue_refund');
    const twice = await arden(['approvals', 'deny', first.json.action_id], env);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/already approved/);
    const viewer = await arden(['approvals', 'deny', second.json.action_id], {
      ...env,
      ARDEN_ADMIN_TOKEN: t.tokens.viewer,
    });
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toMatch(/needs the approver role/);
    expect((await arden(['approvals', 'deny', second.json.action_id], env)).code).toBe(0);
    expect((await arden(['approvals', 'deny', third.json.action_id], env)).code).toBe(0);
    expect((await arden(['approvals', 'list'], env)).stdout).toContain('Nothing is waiting');
  });

  it('says what to do without a token, with a bad token, or without a server', async () => {
    const noToken = await arden(['agents', 'list'], { ARDEN_URL: t.url });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/arden tokens create/);
    const badToken = await arden(['agents', 'list'], {
      ARDEN_URL: t.url,
      ARDEN_ADMIN_TOKEN: 'arden_admin_nope',
    });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/admin token was refused/);
    const down = await arden(['agents', 'list'], {
      ARDEN_URL: 'http://127.0.0.1:9',
      ARDEN_ADMIN_TOKEN: t.tokens.admin,
    });
    expect(down.code).toBe(4);
    expect(down.stderr).toMatch(
      /Cannot reach the Arden server at http:\/\/127\.0\.0\.1:9.*arden start/,
    );
  });
});

describe('commands on the store', () => {
  let directory: string;

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'arden-cli-'));
  });

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('migrate, users create, tokens create and reset-password', async () => {
    const migrate = await arden(['migrate', '--data-dir', 'data'], {}, directory);
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toMatch(/Done: schema version 0 → \d+/);
    expect((await arden(['migrate', '--data-dir', 'data'], {}, directory)).stdout).toMatch(
      /Already up to date/,
    );

    const noAdmin = await arden(['tokens', 'create', '--data-dir', 'data'], {}, directory);
    expect(noAdmin.code).toBe(2);
    expect(noAdmin.stderr).toMatch(/no admin yet/);

    const user = await arden(
      ['users', 'create', '--email', 'ops@example.com', '--role', 'admin', '--data-dir', 'data'],
      {},
      directory,
    );
    expect(user.code).toBe(0);
    const password = /\n {2}(\S{24})\n/.exec(user.stdout)?.[1];
    expect(password).toBeDefined();
    const badRole = await arden(
      ['users', 'create', '--email', 'x@example.com', '--role', 'owner', '--data-dir', 'data'],
      {},
      directory,
    );
    expect(badRole.code).toBe(2);
    const duplicate = await arden(
      ['users', 'create', '--email', 'ops@example.com', '--data-dir', 'data'],
      {},
      directory,
    );
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/already exists/);

    const token = await arden(
      ['tokens', 'create', '--data-dir', 'data', '--name', 'ci'],
      {},
      directory,
    );
    expect(token.code).toBe(0);
    expect(token.stdout).toMatch(
      /Admin token for ops@example\.com \(admin\), shown once:\n {2}arden_admin_/,
    );
    const list = await arden(['tokens', 'list', '--data-dir', 'data'], {}, directory);
    expect(list.stdout).toMatch(/ci\s+arden_admin_\S{4}…\s+ops@example\.com/);
    expect(list.stdout).not.toContain(/arden_admin_\S{43}/.exec(token.stdout)?.[0] as string);

    const reset = await arden(
      ['users', 'reset-password', '--email', 'ops@example.com', '--data-dir', 'data'],
      {},
      directory,
    );
    expect(reset.code).toBe(0);
    expect(reset.stdout).not.toContain(password as string);
    const users = await arden(['users', 'list', '--data-dir', 'data'], {}, directory);
    expect(users.stdout).toMatch(/ops@example\.com\s+admin\s+active/);
  });
});

/** Finds a free TCP port. */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function startChild(
  args: string[],
  cwd: string,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [builtCli, ...args], {
    cwd,
    env: { ...process.env, ARDEN_ADMIN_EMAIL: '', ARDEN_ADMIN_PASSWORD: '', ARDEN_LOG_LEVEL: '' },
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('arden start', () => {
  it('--demo starts, serves /healthz, and the demo agent’s actions appear (one held for approval)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'arden-start-'));
    const port = await freePort();
    const started = startChild(
      ['start', '--demo', '--port', String(port), '--data-dir', 'data', '--demo-interval', '200'],
      directory,
    );
    try {
      const url = await waitFor(
        'the server to listen',
        () => /Arden is running at (http:\/\/\S+)/.exec(started.output())?.[1],
      );
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // Retention is off unless the operator sets it, and the banner says so.
      expect(started.output()).toContain('  Retention:  off: everything is kept');
      const password = /one-time password \(shown only now\):\n {2}(\S+)/.exec(
        started.output(),
      )?.[1];
      expect(password).toBeDefined();
      const demoFile = join(directory, 'data', 'demo-agent.json');
      expect(JSON.parse(readFileSync(demoFile, 'utf8')).api_key).toMatch(/^arden_test_/);
      expect(statSync(demoFile).mode & 0o077).toBe(0);

      const login = await fetch(`${url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'admin@localhost', password }),
      });
      expect(login.status).toBe(200);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const actions = await waitFor('the demo agent’s calls', async () => {
        const response = await fetch(`${url}/api/v1/actions?agent=demo-agent&limit=100`, {
          headers: { cookie },
        });
        const body = (await response.json()) as {
          items: { tool_name: string; status: string; decision: string }[];
        };
        const decisions = new Set(body.items.map((item) => item.decision));
        return decisions.has('requires_approval') &&
          decisions.has('block') &&
          decisions.has('allow')
          ? body.items
          : undefined;
      });
      expect(actions.some((action) => action.status === 'pending')).toBe(true);
      expect(started.output()).toMatch(/\[demo [\d:]+\] stripe\.issue_refund .* held for approval/);
      started.child.kill('SIGTERM');
      expect(await started.exited).toBe(0);
      expect(started.output()).toContain('Stopped.');
    } finally {
      started.child.kill('SIGKILL');
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('states the retention in the banner when it is set', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'arden-start-'));
    const port = await freePort();
    const started = startChild(
      ['start', '--port', String(port), '--data-dir', 'data', '--retention-days', '45'],
      directory,
    );
    try {
      await waitFor('the banner', () =>
        /Press Ctrl\+C to stop/.test(started.output()) ? true : undefined,
      );
      expect(started.output()).toContain(
        '  Retention:  45 days: actions, usage, settled webhook deliveries and channel messages older than that are deleted',
      );
    } finally {
      started.child.kill('SIGKILL');
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('says to use --port when the port is taken', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'arden-start-'));
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const started = startChild(
        ['start', '--port', String(port), '--data-dir', 'data'],
        directory,
      );
      expect(await started.exited).toBe(1);
      expect(started.output()).toContain(`Port ${port} on 127.0.0.1 is already in use`);
      expect(started.output()).toContain(`--port ${port + 1}`);
    } finally {
      blocker.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('arden start, in-process', () => {
  it('refuses a first admin password that is too short, saying which variable', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'arden-start-'));
    try {
      const result = await arden(
        ['start', '--port', '0', '--data-dir', 'data', '--log-level', 'silent'],
        { ARDEN_ADMIN_EMAIL: 'ops@example.com', ARDEN_ADMIN_PASSWORD: 'short' },
        directory,
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /ARDEN_ADMIN_PASSWORD: password must be at least 10 characters/,
      );
      const bad = await arden(['start', '--port', 'eighty'], {}, directory);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--port must be a whole number/);
      const badRetention = await arden(['start', '--retention-days=-3'], {}, directory);
      expect(badRetention.code).toBe(2);
      expect(badRetention.stderr).toMatch(/--retention-days must be a number of days ≥ 0/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('help', () => {
  it('prints help for every command and the version', async () => {
    for (const command of [
      'start',
      'migrate',
      'agents',
      'policies',
      'approvals',
      'users',
      'tokens',
    ]) {
      const result = await arden([command, '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout).toContain('Usage');
    }
    expect((await arden(['--help'])).stdout).toContain('Exit codes');
    // `arden start --help` documents retention and states the one the environment sets.
    const off = (await arden(['start', '--help'])).stdout;
    expect(off).toContain('--retention-days N');
    expect(off).toContain('Retention now: off: everything is kept');
    // …and the limits of one check, both settings named.
    expect(off).toMatch(/256 KiB \(ARDEN_CHECK_BODY_LIMIT\) and \d+ JSON values/);
    expect(off).toContain('ARDEN_CHECK_VALUE_LIMIT');
    const on = (await arden(['start', '--help'], { ARDEN_RETENTION_DAYS: '30' })).stdout;
    expect(on).toContain(
      'Retention now (ARDEN_RETENTION_DAYS=30): 30 days: actions, usage, settled webhook deliveries and channel messages older than that are deleted',
    );
    expect((await arden(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+/);
    writeFileSync(join(tmpdir(), 'unused'), '');
  });
});
