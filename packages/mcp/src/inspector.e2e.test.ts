// The stdio gateway under a client it was not written against: @modelcontextprotocol/inspector-cli
// (the MCP Inspector's command line) starts `arden-mcp run … -- server-filesystem` itself, lists
// the tools and calls them, checked by a real Arden server. The HTTP gateway has the same test
// (packages/server/src/mcp/http-gateway.test.ts).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { gatewayBin, serverEntry } from './test-helpers';

let t: TestServer;
let directory: string;

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      {
        name: 'Secrets are never written',
        tool: 'mcp.fs.write_file',
        rules: [{ if: 'args.path.endsWith("secret.txt")', then: 'block' }],
        default: 'allow',
      },
      { name: 'No moves', tool: 'mcp.fs.move_file', action: 'block' },
    ],
  });
  directory = mkdtempSync(join(tmpdir(), 'arden-mcp-inspector-'));
});

afterAll(async () => {
  await t.close();
  rmSync(directory, { recursive: true, force: true });
});

test('inspector-cli through the stdio gateway: the list without the blocked tool, a blocked call refused, an allowed one run', async () => {
  const cli = createRequire(import.meta.url).resolve('@modelcontextprotocol/inspector-cli');
  const inspect = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        cli,
        '--cli',
        '-e',
        `ARDEN_API_URL=${t.url}`,
        '-e',
        `ARDEN_API_KEY=${t.key}`,
        process.execPath,
        gatewayBin,
        'run',
        '--name',
        'fs',
        '--',
        process.execPath,
        serverEntry('@modelcontextprotocol/server-filesystem'),
        directory,
        ...args,
      ],
      // inspector-cli 1.0.3 finds its package.json relative to the working directory (a
      // packaging slip): run it from build/, as the HTTP gateway's test does.
      { timeout: 90_000, cwd: dirname(cli) },
    );
    return JSON.parse(stdout.slice(stdout.indexOf('{')));
  };
  const listed = await inspect('--method', 'tools/list');
  const names = listed.tools.map((tool: { name: string }) => tool.name);
  expect(names).toContain('write_file');
  expect(names).not.toContain('move_file');

  const secret = join(directory, 'secret.txt');
  const blocked = await inspect(
    '--method',
    'tools/call',
    '--tool-name',
    'write_file',
    '--tool-arg',
    `path=${secret}`,
    'content=hunter2',
  );
  expect(blocked.isError).toBe(true);
  expect(blocked.content[0].text).toContain('Secrets are never written');
  expect(existsSync(secret)).toBe(false);

  const note = join(directory, 'note.txt');
  const allowed = await inspect(
    '--method',
    'tools/call',
    '--tool-name',
    'write_file',
    '--tool-arg',
    `path=${note}`,
    'content=from the inspector',
  );
  expect(allowed.isError).toBeFalsy();
  expect(readFileSync(note, 'utf8')).toBe('from the inspector');
  const actions = await t.actions();
  expect(actions.map((action) => action.toolName)).toEqual(
    expect.arrayContaining(['mcp.fs.write_file']),
  );
  expect(actions.filter((action) => action.toolName === 'mcp.fs.write_file')).toHaveLength(2);
}, 180_000);
