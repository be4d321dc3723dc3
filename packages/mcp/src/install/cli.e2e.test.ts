import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { gatewayBin } from '../test-helpers';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'arden-mcp-cli-'));
  mkdirSync(join(root, '.cursor'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function arden(...args: string[]) {
  return spawnSync(process.execPath, [gatewayBin, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: root, ARDEN_API_URL: 'http://127.0.0.1:8787' },
    encoding: 'utf8',
  });
}

test('arden-mcp install and uninstall, as a user runs them', () => {
  const path = join(root, '.cursor', 'mcp.json');
  const original = `${JSON.stringify({ mcpServers: { fs: { command: 'node', args: ['server.js'] } } }, null, 2)}\n`;
  writeFileSync(path, original);
  const installed = arden('install', '--client', 'cursor');
  expect(installed.status).toBe(0);
  expect(installed.stdout).toContain(`cursor (project): ${path}`);
  expect(installed.stdout).toContain('behind the Arden gateway: fs');
  expect(installed.stdout).toMatch(/\+ +"--name",/);
  expect(JSON.parse(readFileSync(path, 'utf8')).mcpServers.fs.args).toEqual([
    '-y',
    '@arden/mcp',
    'run',
    '--name',
    'fs',
    '--',
    'node',
    'server.js',
  ]);
  const uninstalled = arden('uninstall', '--client', 'cursor');
  expect(uninstalled.status).toBe(0);
  expect(readFileSync(path, 'utf8')).toBe(original);
  // Codex in the project: its .codex/config.toml, and a word on trusting the project.
  const codex = join(root, '.codex', 'config.toml');
  mkdirSync(join(root, '.codex'));
  const toml = '[mcp_servers.fs]\ncommand = "node"\nargs = ["server.js"]\n';
  writeFileSync(codex, toml);
  const project = arden('install', '--client', 'codex', '--project');
  expect(project.status).toBe(0);
  expect(project.stdout).toContain(`codex (project): ${codex}`);
  expect(project.stdout).toContain('behind the Arden gateway: fs');
  expect(project.stdout).toMatch(/only once the project is trusted/);
  expect(readFileSync(codex, 'utf8')).toContain('"--name", "fs"');
  expect(arden('uninstall', '--client', 'codex', '--project').status).toBe(0);
  expect(readFileSync(codex, 'utf8')).toBe(toml);
  expect(arden('install', '--client', 'emacs').stderr).toContain(
    '--client must be one of claude-code',
  );
});

test('claude-code: servers added by `claude mcp add` (local scope) are put behind the gateway by default; user servers left are named', () => {
  const claude = join(root, '.claude.json');
  const original = `${JSON.stringify(
    {
      mcpServers: { everywhere: { command: 'node', args: ['user.js'] } },
      projects: { [root]: { mcpServers: { fs: { command: 'node', args: ['server.js'] } } } },
    },
    null,
    2,
  )}\n`;
  writeFileSync(claude, original);
  const installed = arden('install', '--client', 'claude-code');
  expect(installed.status).toBe(0);
  expect(installed.stdout).toContain(`claude-code (local): ${claude}`);
  expect(installed.stdout).toContain('behind the Arden gateway: fs');
  expect(installed.stderr).toContain(
    `warning: claude-code also starts everywhere from its user configuration (${claude}), not behind the gateway`,
  );
  expect(installed.stderr).toContain('arden mcp install --client claude-code --user');
  const document = JSON.parse(readFileSync(claude, 'utf8'));
  expect(document.projects[root].mcpServers.fs.args).toContain('--');
  expect(document.mcpServers.everywhere).toEqual({ command: 'node', args: ['user.js'] });
  expect(arden('uninstall', '--client', 'claude-code', '--local').status).toBe(0);
  expect(readFileSync(claude, 'utf8')).toBe(original);
});
