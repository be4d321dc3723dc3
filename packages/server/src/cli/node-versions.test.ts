import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

// The built `arden` run as a child process on each Node.js we support: the commands that only
// talk HTTP to a running server work on Node.js 20 (no `node:sqlite`); the ones that open the
// store say which Node.js they need instead of printing a module-loader stack.
const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures');
const packageRoot = join(here, '..', '..');
// The `arden` of package.json's `bin`, as an installed package runs it.
const bin = join(
  packageRoot,
  JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).bin.arden as string,
);

const major = (node: string) =>
  execFileSync(node, ['-p', 'process.versions.node.split(".")[0]']).toString().trim();
// The machine's own Node 20 (the oldest the HTTP commands support).
const node20 = ['/usr/bin/node', '/usr/local/bin/node'].find(
  (candidate) => existsSync(candidate) && major(candidate) === '20',
);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function arden(
  node: string,
  argv: string[],
  env: Record<string, string>,
  cwd = fixtures,
): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      node,
      [bin, ...argv],
      { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

it('finds a Node 20 to test with', () => {
  // Not a skip: on a machine without Node 20 this fails and says so.
  expect(node20, 'Node 20 (the oldest supported) should be at /usr/bin/node').toBeDefined();
  expect(existsSync(join(packageRoot, 'dist', 'cli.js')), 'build first (pnpm build)').toBe(true);
});

describe.each([
  ['24', process.execPath],
  ['20', node20 ?? 'node20-not-found'],
])('the built arden on Node %s', (version, node) => {
  let t: AdminTestServer;
  let env: Record<string, string>;
  let directory: string;

  beforeAll(async () => {
    expect(major(node)).toBe(version);
    t = await startAdminTestServer();
    env = { ARDEN_URL: t.url, ARDEN_ADMIN_TOKEN: t.tokens.admin };
    directory = mkdtempSync(join(tmpdir(), 'arden-node-'));
  });

  afterAll(async () => {
    await t?.close();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  it('runs the commands that talk to a running server', async () => {
    const created = await arden(node, ['agents', 'create', 'node-bot', '--keys', 'test'], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect((await arden(node, ['agents', 'list'], env)).stdout).toContain('node-bot');

    const apply = await arden(
      node,
      ['policies', 'apply', '-f', 'passing.yaml', '--agent', 'test-agent', '--env', 'live'],
      env,
    );
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('now version 1');
    const local = await arden(node, ['policies', 'test', '-f', 'passing.yaml'], {});
    expect(local.stdout).toContain('4 passed, 0 failed');

    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'stripe.issue_refund', kwargs: { amount: 500 } },
    });
    expect(held.json.decision).toBe('requires_approval');
    const list = await arden(node, ['approvals', 'list'], env);
    expect(list.stdout).toContain(held.json.action_id);
    const approve = await arden(node, ['approvals', 'approve', held.json.action_id], env);
    expect(approve.stderr).toBe('');
    expect(approve.code).toBe(0);
    expect(approve.stdout).toContain('Approved stripe.issue_refund');
  });

  // (`arden start` on Node 24 is tested in cli.test.ts; here it would keep running.)
  it.each(
    version === '20' ? ['start', 'migrate', 'users', 'tokens'] : ['migrate', 'users', 'tokens'],
  )(
    '%s opens the store only where node:sqlite exists, else says which Node.js to install',
    async (command) => {
      const dataDir = join(directory, command);
      const args = {
        start: ['start', '--port', '0', '--no-dashboard', '--data-dir', dataDir],
        migrate: ['migrate', '--data-dir', dataDir],
        users: ['users', 'list', '--data-dir', dataDir],
        tokens: ['tokens', 'list', '--data-dir', dataDir],
      }[command] as string[];
      if (version === '20') {
        const result = await arden(node, args, {}, directory);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(
          `error: arden ${command} needs Node.js 22.13 or later (it uses node:sqlite); this is Node.js v20.`,
        );
        expect(result.stderr).toMatch(/Install a current Node\.js \(for example `nvm install 24`/);
        expect(result.stderr).toMatch(/agents, policies, approvals\) also work on Node\.js 20/);
        expect(result.stderr).not.toMatch(/ERR_UNKNOWN_BUILTIN_MODULE|\n\s+at /);
        // Nothing was created on the way to the refusal.
        expect(existsSync(dataDir)).toBe(false);
      } else {
        const result = await arden(node, args, {}, directory);
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        expect(existsSync(join(dataDir, 'arden.db'))).toBe(true);
      }
    },
  );
});
