// startTestServer() with the server in a child process, forced on this (current) Node.js: the
// path the adapters' suites take on Node.js 20, where node:sqlite is missing.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createArden, PolicyDeniedError } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import { ArdenServerError } from '../errors';
import { testDatabaseUrl } from '../test-fixtures/harness';
import { startTestServer, type TestServer, type TestServerOptions } from '../testing';
import { ServerNodeNotFoundError } from './server-node';

const servers: TestServer[] = [];

async function start(options: TestServerOptions = {}): Promise<TestServer> {
  const databaseUrl = await testDatabaseUrl();
  const server = await startTestServer({
    ...options,
    mode: 'child-process',
    ...(databaseUrl === undefined ? {} : { config: { databaseUrl } }),
  });
  servers.push(server);
  return server;
}

afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

/** Whether process `pid` runs (a zombie waiting for its parent to reap it does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (name) state …"; Z is a zombie.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("startTestServer({ mode: 'child-process' })", () => {
  test('check → decision → approval round trip with a server in another process', async () => {
    const t = await start({
      environment: 'test',
      policies: [
        { name: 'Never drop tables', tool: 'drop_table', action: 'block' },
        { name: 'Refunds need a human', tool: 'issue_refund', action: 'requires_approval' },
      ],
    });
    expect(t.mode).toBe('child-process');
    expect(t.pid).not.toBe(process.pid);
    expect(alive(t.pid)).toBe(true);
    expect(t.key).toMatch(/^arden_test_/);

    const arden = createArden({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent' });
    const ran: string[] = [];
    const issueRefund = arden.guardTool('issue_refund', async ({ amount }: { amount: number }) => {
      ran.push(`refund ${amount}`);
      return amount;
    });
    const dropTable = arden.guardTool('drop_table', async (table: string) => {
      ran.push(`drop ${table}`);
    });

    const approved = issueRefund({ amount: 150 });
    const held = await t.nextPending({ toolName: 'issue_refund' });
    expect([held.status, held.kwargs]).toEqual(['pending', { amount: 150 }]);
    expect((await t.approve(held.id, 'fine')).status).toBe('approved');
    expect(await approved).toBe(150);

    const denied = issueRefund({ amount: 9_000 }).catch((error: unknown) => error);
    await t.deny((await t.nextPending()).id, 'too much');
    expect(await denied).toBeInstanceOf(PolicyDeniedError);
    await expect(dropTable('users')).rejects.toBeInstanceOf(PolicyDeniedError);
    expect(ran).toEqual(['refund 150']);

    const actions = await t.actions();
    expect(actions.map((action) => [action.toolName, action.decision])).toEqual([
      ['issue_refund', 'requires_approval'],
      ['issue_refund', 'requires_approval'],
      ['drop_table', 'block'],
    ]);
    expect(actions.map((action) => action.decidedBy)).toEqual(['alice', 'bob', null]);
    expect((await t.actions({ status: 'denied' })).map((action) => action.notes)).toEqual([
      'too much',
    ]);
    await arden.shutdown();
  });

  test("a helper's error comes back with its message and code", async () => {
    const t = await start({ defaultAction: 'requires_approval', pendingTimeoutMs: 100 });
    await expect(t.nextPending()).rejects.toThrow(/No call was held for approval within 100 ms/);
    const error = await t.approve('01a00000-0000-7000-8000-000000000000').catch((e) => e);
    expect(ArdenServerError.isInstance(error)).toBe(true);
    expect([error.status, error.code]).toEqual([404, 'not_found']);
    expect(() => t.server).toThrow(/runs in a child process .* Use the helpers/);
    expect(Object.keys(t)).not.toContain('server');
  });

  test('close() stops the process and deletes the data directory; a dead server is reported', async () => {
    const t = await start();
    await t.close();
    expect(alive(t.pid)).toBe(false);
    if (!process.env.ARDEN_TEST_DATABASE_URL) expect(existsSync(t.dataDir)).toBe(false);
    await t.close();

    const killed = await start();
    process.kill(killed.pid, 'SIGKILL');
    await until(() => !alive(killed.pid));
    await expect(killed.actions()).rejects.toThrow(/process \(.+\) was killed by SIGKILL/);
  });

  test('the server stops and deletes its data when the test process ends without close()', async () => {
    // A plain Node.js process on the built package, standing in for a test run that ends.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { startTestServer } = await import(${JSON.stringify(new URL('../../dist/testing.js', import.meta.url).href)});
         const t = await startTestServer({ mode: 'child-process' });
         process.stdout.write(JSON.stringify({ pid: t.pid, dataDir: t.dataDir }));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    const { pid, dataDir } = JSON.parse(output) as { pid: number; dataDir: string };
    await until(() => !alive(pid) && !existsSync(dataDir));
  });

  test('functions in the options are refused; a wrong ARDEN_SERVER_NODE is an error', async () => {
    await expect(
      startTestServer({ mode: 'child-process', config: { clock: () => 0 } }),
    ).rejects.toThrow(
      /options\.config\.clock cannot be passed to a test server in a child process/,
    );
    const before = process.env.ARDEN_SERVER_NODE;
    process.env.ARDEN_SERVER_NODE = '/nonexistent/node';
    try {
      const error = await startTestServer({ mode: 'child-process' }).catch((e) => e);
      expect(error).toBeInstanceOf(ServerNodeNotFoundError);
      expect(error.message).toMatch(
        /^ARDEN_SERVER_NODE is \/nonexistent\/node, which cannot be run .*Node\.js 22\.13 or later/,
      );
    } finally {
      if (before === undefined) delete process.env.ARDEN_SERVER_NODE;
      else process.env.ARDEN_SERVER_NODE = before;
    }
  });
});
