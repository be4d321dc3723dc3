import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type ClientName, clientConfig, type Whereabouts } from './clients';
import { installGateway, scopesToRewrite, uncheckedElsewhere, uninstallGateway } from './install';
import { defaultGatewayCommand } from './wrap';

let root: string;
let where: Whereabouts;
const gateway = defaultGatewayCommand('1.2.3');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'arden-mcp-install-'));
  mkdirSync(join(root, 'home'));
  mkdirSync(join(root, 'project'));
  where = {
    home: join(root, 'home'),
    cwd: join(root, 'project'),
    platform: 'linux',
    env: {
      ARDEN_API_URL: 'https://arden.example.com',
      ARDEN_API_KEY: 'arden_live_0123456789abcdef0123456789abcdef',
    },
  };
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

const filesystem = {
  command: 'npx',
  args: ['-y', '@modelcontextprotocol/server-filesystem', '/work'],
  env: { DEBUG: '1' },
};
const wrappedArgs = (name: string) => [
  '-y',
  '@arden/mcp@1.2.3',
  'run',
  '--name',
  name,
  '--',
  'npx',
  '-y',
  '@modelcontextprotocol/server-filesystem',
  '/work',
];

// The JSON clients: where their file lives by default and the key their servers are under.
const jsonClients: Array<[ClientName, string, 'mcpServers' | 'servers']> = [
  ['claude-code', 'project/.mcp.json', 'mcpServers'],
  ['claude-desktop', 'home/.config/Claude/claude_desktop_config.json', 'mcpServers'],
  ['cursor', 'project/.cursor/mcp.json', 'mcpServers'],
  ['vscode', 'project/.vscode/mcp.json', 'servers'],
];

describe.each(jsonClients)('%s', (client, relative, key) => {
  test('install wraps each stdio server, leaves remote ones, keeps a backup; uninstall restores the file', () => {
    const path = join(root, relative);
    expect(clientConfig(client, undefined, where).path).toBe(path);
    const original = `${JSON.stringify(
      {
        otherSetting: true,
        [key]: {
          'my files': { ...filesystem, ...(client === 'vscode' ? { type: 'stdio' } : {}) },
          remote: { type: 'http', url: 'https://mcp.example.com/mcp' },
        },
      },
      null,
      2,
    )}\n`;
    write(path, original);
    const report = installGateway({ client, where, gateway });
    expect(report.changed).toEqual(['my files']);
    expect(report.skipped).toEqual([
      { name: 'remote', reason: 'a remote (HTTP) server: the stdio gateway cannot front it' },
    ]);
    const installed = JSON.parse(readFileSync(path, 'utf8'));
    expect(installed.otherSetting).toBe(true);
    expect(installed[key].remote).toEqual({ type: 'http', url: 'https://mcp.example.com/mcp' });
    expect(installed[key]['my files']).toMatchObject({
      command: 'npx',
      args: wrappedArgs('my-files'),
      env: { DEBUG: '1', ARDEN_API_URL: 'https://arden.example.com' },
    });
    expect(installed[key]['my files'].env.ARDEN_API_KEY).toBeUndefined();
    expect(readFileSync(`${path}.arden-backup`, 'utf8')).toBe(original);
    expect(report.diff).toContain('+ ');
    expect(report.diff).toContain('"--name",');

    // A second install changes nothing and keeps the first backup.
    expect(installGateway({ client, where, gateway }).changed).toEqual([]);
    expect(readFileSync(`${path}.arden-backup`, 'utf8')).toBe(original);

    const undone = uninstallGateway({ client, where });
    expect(undone.changed).toEqual(['my files']);
    expect(readFileSync(path, 'utf8')).toBe(original);
    expect(existsSync(`${path}.arden-backup`)).toBe(false);
  });
});

describe('install details', () => {
  test('--user picks the user file; --with-key writes the key, and the printed diff redacts it', () => {
    const path = join(root, 'home/.claude.json');
    write(path, JSON.stringify({ mcpServers: { fs: filesystem }, projects: {} }));
    const report = installGateway({
      client: 'claude-code',
      scope: 'user',
      where,
      gateway,
      withKey: true,
    });
    expect(JSON.parse(readFileSync(path, 'utf8')).mcpServers.fs.env.ARDEN_API_KEY).toBe(
      where.env.ARDEN_API_KEY,
    );
    expect(report.diff).not.toContain('0123456789abcdef');
    expect(report.diff).toContain('arden_live_<redacted>');
  });

  test('an edit after install survives uninstall: the server is unwrapped in place', () => {
    const path = join(root, 'project/.cursor/mcp.json');
    write(path, JSON.stringify({ mcpServers: { fs: filesystem } }, null, 2));
    installGateway({ client: 'cursor', where, gateway });
    const edited = JSON.parse(readFileSync(path, 'utf8'));
    edited.mcpServers.added = { command: 'node', args: ['server.js'] };
    writeFileSync(path, JSON.stringify(edited, null, 2));
    uninstallGateway({ client: 'cursor', where });
    expect(JSON.parse(readFileSync(path, 'utf8')).mcpServers).toEqual({
      fs: filesystem,
      added: { command: 'node', args: ['server.js'] },
    });
  });

  test('dry runs write nothing; a missing file or JSON with comments is refused with a clear error', () => {
    const path = join(root, 'project/.vscode/mcp.json');
    expect(() => installGateway({ client: 'vscode', where, gateway })).toThrow(/does not exist/);
    write(path, JSON.stringify({ servers: { fs: filesystem } }));
    const before = readFileSync(path, 'utf8');
    expect(installGateway({ client: 'vscode', where, gateway, dryRun: true }).changed).toEqual([
      'fs',
    ]);
    expect(readFileSync(path, 'utf8')).toBe(before);
    write(path, '{\n  // my servers\n  "servers": {}\n}\n');
    expect(() => installGateway({ client: 'vscode', where, gateway })).toThrow(
      /not plain JSON.*by hand/,
    );
    expect(() => clientConfig('claude-desktop', 'project', where)).toThrow(
      /claude-desktop has no project MCP configuration; use --user/,
    );
  });
});

describe("claude-code's local scope (`claude mcp add`'s default)", () => {
  const remote = { type: 'http', url: 'https://mcp.example.com/mcp' };
  function claudeJson(cwd: string) {
    return `${JSON.stringify(
      {
        numStartups: 7,
        mcpServers: { everywhere: { command: 'node', args: ['user.js'] } },
        projects: {
          [cwd]: { allowedTools: [], mcpServers: { fs: filesystem, remote } },
          '/elsewhere': { mcpServers: { other: { command: 'node', args: ['other.js'] } } },
        },
      },
      null,
      2,
    )}\n`;
  }

  test('--local wraps only the current folder’s servers in ~/.claude.json; uninstall restores the file', () => {
    const path = join(root, 'home/.claude.json');
    const original = claudeJson(where.cwd);
    write(path, original);
    expect(clientConfig('claude-code', 'local', where)).toMatchObject({
      path,
      within: ['projects', where.cwd],
    });
    const report = installGateway({ client: 'claude-code', scope: 'local', where, gateway });
    expect(report.changed).toEqual(['fs']);
    expect(report.skipped.map(({ name }) => name)).toEqual(['remote']);
    const installed = JSON.parse(readFileSync(path, 'utf8'));
    expect(installed.projects[where.cwd].mcpServers.fs).toMatchObject({
      command: 'npx',
      args: wrappedArgs('fs'),
    });
    expect(installed.projects[where.cwd].allowedTools).toEqual([]);
    // The user's servers and another folder's stay as they were.
    expect(installed.mcpServers.everywhere).toEqual({ command: 'node', args: ['user.js'] });
    expect(installed.projects['/elsewhere'].mcpServers.other.command).toBe('node');
    // Claude Code rewrites the file while it runs: the uninstall unwraps in place.
    installed.numStartups = 8;
    writeFileSync(path, JSON.stringify(installed, null, 2));
    expect(uninstallGateway({ client: 'claude-code', scope: 'local', where }).changed).toEqual([
      'fs',
    ]);
    const restored = JSON.parse(readFileSync(path, 'utf8'));
    expect(restored.numStartups).toBe(8);
    expect(restored.projects[where.cwd].mcpServers).toEqual({ fs: filesystem, remote });
    expect(existsSync(`${path}.arden-backup`)).toBe(false);
  });

  test('without a scope, both the project’s .mcp.json and the local servers are rewritten; the user’s are reported unchecked', () => {
    const claude = join(root, 'home/.claude.json');
    write(claude, claudeJson(where.cwd));
    // Only local servers (the way `claude mcp add` adds them): the local scope alone.
    expect(scopesToRewrite('claude-code', undefined, where)).toEqual(['local']);
    write(join(root, 'project/.mcp.json'), JSON.stringify({ mcpServers: { shared: filesystem } }));
    expect(scopesToRewrite('claude-code', undefined, where)).toEqual(['project', 'local']);
    expect(scopesToRewrite('claude-code', 'user', where)).toEqual(['user']);
    expect(scopesToRewrite('cursor', undefined, where)).toEqual(['project']);

    // Installing only the project leaves the local and user servers: both are named.
    installGateway({ client: 'claude-code', where, gateway });
    const unchecked = uncheckedElsewhere('claude-code', ['project'], where, gateway);
    expect(unchecked.map(({ config, names }) => [config.scope, names])).toEqual([
      ['local', ['fs']],
      ['user', ['everywhere']],
    ]);
    installGateway({ client: 'claude-code', scope: 'local', where, gateway });
    expect(
      uncheckedElsewhere('claude-code', ['project', 'local'], where, gateway).map(
        ({ config, names }) => [config.scope, names],
      ),
    ).toEqual([['user', ['everywhere']]]);
  });

  test('servers of a parent folder’s .mcp.json or local entry, which Claude Code may also load, are reported', () => {
    const claude = join(root, 'home/.claude.json');
    const document = JSON.parse(claudeJson(where.cwd));
    document.projects[root] = { mcpServers: { parentLocal: { command: 'node', args: ['p.js'] } } };
    write(claude, JSON.stringify(document));
    write(join(root, '.mcp.json'), JSON.stringify({ mcpServers: { parentShared: filesystem } }));
    const unchecked = uncheckedElsewhere('claude-code', ['project', 'local'], where, gateway);
    expect(unchecked.map(({ config, names, folder }) => [config.scope, names, folder])).toEqual([
      ['user', ['everywhere'], undefined],
      ['project', ['parentShared'], root],
      ['local', ['parentLocal'], root],
    ]);
    expect(unchecked[1]?.config.path).toBe(join(root, '.mcp.json'));
    // Other clients: no parent folders.
    expect(uncheckedElsewhere('cursor', ['project'], where, gateway)).toEqual([]);
  });

  test('the user and local scopes share ~/.claude.json and its backup: it stays until both are uninstalled', () => {
    const path = join(root, 'home/.claude.json');
    const original = claudeJson(where.cwd);
    write(path, original);
    installGateway({ client: 'claude-code', scope: 'local', where, gateway });
    installGateway({ client: 'claude-code', scope: 'user', where, gateway });
    expect(readFileSync(`${path}.arden-backup`, 'utf8')).toBe(original);
    uninstallGateway({ client: 'claude-code', scope: 'user', where });
    expect(readFileSync(`${path}.arden-backup`, 'utf8')).toBe(original);
    uninstallGateway({ client: 'claude-code', scope: 'local', where });
    expect(existsSync(`${path}.arden-backup`)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe(original);
  });
});

describe('codex', () => {
  const original = `# my Codex settings
model = "gpt-5-codex"

[mcp_servers.filesystem]
command = "npx"
args = [
  "-y",
  "@modelcontextprotocol/server-filesystem", # the server
  "/work",
]
env = { DEBUG = "1" }

[mcp_servers.remote]
url = "https://mcp.example.com/mcp"

[profiles.fast]
model = "gpt-5-mini"
`;

  test('install rewrites only command and args of each stdio server; comments and the rest stay; uninstall restores', () => {
    const path = join(root, 'home/.codex/config.toml');
    write(path, original);
    const report = installGateway({ client: 'codex', where, gateway });
    expect(report.changed).toEqual(['filesystem']);
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('# my Codex settings');
    expect(text).toContain('[profiles.fast]');
    const parsed = parse(text) as {
      mcp_servers: Record<string, Record<string, unknown>>;
      model: string;
    };
    expect(parsed.model).toBe('gpt-5-codex');
    expect(parsed.mcp_servers.filesystem).toEqual({
      command: 'npx',
      args: wrappedArgs('filesystem'),
      env: { DEBUG: '1' },
    });
    expect(parsed.mcp_servers.remote).toEqual({ url: 'https://mcp.example.com/mcp' });
    uninstallGateway({ client: 'codex', where });
    expect(readFileSync(path, 'utf8')).toBe(original);
  });

  test('--project rewrites the project’s .codex/config.toml (CODEX_HOME aside), with a backup and a diff; uninstall restores it', () => {
    where.env.CODEX_HOME = join(root, 'codex-home');
    const user = join(root, 'codex-home/config.toml');
    write(user, original);
    const path = join(root, 'project/.codex/config.toml');
    expect(clientConfig('codex', 'project', where)).toMatchObject({ path, format: 'toml' });
    expect(() => installGateway({ client: 'codex', scope: 'project', where, gateway })).toThrow(
      /does not exist/,
    );
    write(path, original);
    const report = installGateway({ client: 'codex', scope: 'project', where, gateway });
    expect(report.changed).toEqual(['filesystem']);
    expect(report.config.path).toBe(path);
    expect(report.diff).toContain('"--name"');
    expect(readFileSync(`${path}.arden-backup`, 'utf8')).toBe(original);
    const parsed = parse(readFileSync(path, 'utf8')) as {
      mcp_servers: Record<string, Record<string, unknown>>;
    };
    expect(parsed.mcp_servers.filesystem).toEqual({
      command: 'npx',
      args: wrappedArgs('filesystem'),
      env: { DEBUG: '1' },
    });
    // The user's file is not touched.
    expect(readFileSync(user, 'utf8')).toBe(original);
    expect(installGateway({ client: 'codex', scope: 'project', where, gateway }).changed).toEqual(
      [],
    );
    const undone = uninstallGateway({ client: 'codex', scope: 'project', where });
    expect(undone.changed).toEqual(['filesystem']);
    expect(readFileSync(path, 'utf8')).toBe(original);
    expect(existsSync(`${path}.arden-backup`)).toBe(false);
  });

  test('uninstall keeps the [hooks] of `arden hook install codex` written in the same file after the backup', () => {
    const path = join(root, 'project/.codex/config.toml');
    const hook =
      '\n[[hooks.PreToolUse]]\nmatcher = "*"\n\n[[hooks.PreToolUse.hooks]]\ntype = "command"\ncommand = "arden hook codex"\n';
    // The hook installer kept the file as it was before the hook as `.arden-backup`.
    write(`${path}.arden-backup`, original);
    write(path, `${original}${hook}`);
    installGateway({ client: 'codex', scope: 'project', where, gateway });
    expect(readFileSync(`${path}.arden-backup`, 'utf8')).toBe(original);
    uninstallGateway({ client: 'codex', scope: 'project', where });
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('command = "arden hook codex"');
    expect(
      (parse(text) as { mcp_servers: Record<string, unknown> }).mcp_servers.filesystem,
    ).toEqual(filesystem);
  });

  test('CODEX_HOME moves the file; a server written as an inline table is refused, nothing written', () => {
    where.env.CODEX_HOME = join(root, 'codex-home');
    const path = join(root, 'codex-home/config.toml');
    const inline = '[mcp_servers]\nfs = { command = "npx", args = ["server"] }\n';
    write(path, inline);
    expect(() => installGateway({ client: 'codex', where, gateway })).toThrow(
      /not written as its own table/,
    );
    expect(readFileSync(path, 'utf8')).toBe(inline);
  });
});
