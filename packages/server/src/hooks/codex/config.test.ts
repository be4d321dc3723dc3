import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { run } from '../../cli/main';

let home: string;
let work: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'arden-codex-home-'));
  work = mkdtempSync(join(tmpdir(), 'arden-codex-work-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

function cli(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    stdout: (text: string) => out.push(text),
    stderr: (text: string) => err.push(text),
    env: { HOME: home, ...env },
    cwd: work,
  };
  return run(argv, io).then((code) => ({ code, stdout: out.join(''), stderr: err.join('') }));
}

const theirs = `# my Codex settings
model = "gpt-5-codex"
sandbox_mode = "workspace-write"

[mcp_servers.github]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-github"]

[[hooks.PreToolUse]]
matcher = "Bash"
[[hooks.PreToolUse.hooks]]
type = "command"
command = "./lint-hook.sh"
`;

test('install appends the hook to ~/.codex/config.toml with a backup and a diff; again is a no-op; uninstall restores the file byte for byte', async () => {
  const path = join(home, '.codex', 'config.toml');
  mkdirSync(join(home, '.codex'));
  writeFileSync(path, theirs);

  const installed = await cli(['hook', 'install', 'codex', '--max-wait', '120']);
  expect(installed.code).toBe(0);
  expect(installed.stdout).toMatch(/^\+ command = "arden hook codex --max-wait 120"$/m);
  expect(installed.stdout).toMatch(/^ {2}sandbox_mode = "workspace-write"$/m); // kept, unmarked
  expect(installed.stdout).toContain(`backup: ${path}.arden-backup`);
  expect(installed.stdout).toContain('/hooks'); // Codex skips a hook nobody trusted: say so
  expect(installed.stdout).toContain('arden mcp install --client codex');
  expect(readFileSync(`${path}.arden-backup`, 'utf8')).toBe(theirs);

  const after = readFileSync(path, 'utf8');
  expect(after.startsWith(theirs)).toBe(true); // comments and layout untouched
  const config = parse(after) as any;
  expect(config.model).toBe('gpt-5-codex');
  expect(config.mcp_servers.github.command).toBe('npx');
  // What Codex reads (codex-rs/config: HookEventsToml → MatcherGroup → HookHandlerConfig).
  expect(config.hooks.PreToolUse).toEqual([
    { matcher: 'Bash', hooks: [{ type: 'command', command: './lint-hook.sh' }] },
    {
      hooks: [
        {
          type: 'command',
          command: 'arden hook codex --max-wait 120',
          timeout: 150,
          statusMessage: 'Checking with Arden',
        },
      ],
    },
  ]);

  const again = await cli(['hook', 'install', 'codex', '--max-wait', '120']);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('nothing to change');
  expect(readFileSync(path, 'utf8')).toBe(after);

  // Other options replace Arden's hook instead of adding a second one.
  const changed = await cli(['hook', 'install', 'codex', '--command', 'npx -y @arden/server']);
  expect(changed.code).toBe(0);
  expect(changed.stdout).toMatch(/^- command = "arden hook codex --max-wait 120"$/m);
  const replaced = parse(readFileSync(path, 'utf8')) as any;
  expect(replaced.hooks.PreToolUse).toHaveLength(2);
  expect(replaced.hooks.PreToolUse[1].hooks[0]).toMatchObject({
    command: 'npx -y @arden/server hook codex',
    timeout: 330,
  });

  const removed = await cli(['hook', 'uninstall', 'codex']);
  expect(removed.code).toBe(0);
  expect(removed.stdout).toContain(`Removed Arden's hook from ${path}`);
  expect(readFileSync(path, 'utf8')).toBe(theirs);
  expect((await cli(['hook', 'uninstall', 'codex'])).stdout).toContain('nothing to change');
});

test('--project writes .codex/config.toml of the directory; CODEX_HOME moves the user file; an uninstall that leaves nothing removes the file', async () => {
  const project = await cli(['hook', 'install', 'codex', '--project']);
  expect(project.code).toBe(0);
  const path = join(work, '.codex', 'config.toml');
  expect((parse(readFileSync(path, 'utf8')) as any).hooks.PreToolUse[0].hooks[0].command).toBe(
    'arden hook codex',
  );
  expect(project.stdout).not.toContain('backup:'); // there was no file to back up
  await cli(['hook', 'uninstall', 'codex', '--project']);
  expect(existsSync(path)).toBe(false);

  const codexHome = join(home, 'elsewhere');
  const user = await cli(['hook', 'install', 'codex', '--user'], { CODEX_HOME: codexHome });
  expect(user.code).toBe(0);
  expect(existsSync(join(codexHome, 'config.toml'))).toBe(true);
  expect(existsSync(join(home, '.codex', 'config.toml'))).toBe(false);
});

test('a config.toml that is not valid TOML is refused with the reason, and nothing is written', async () => {
  const path = join(home, '.codex', 'config.toml');
  mkdirSync(join(home, '.codex'));
  const broken = 'model = "gpt-5\n[mcp_servers.github\n';
  writeFileSync(path, broken);
  const result = await cli(['hook', 'install', 'codex']);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`${path} is not valid TOML`);
  expect(result.stderr).toContain('nothing was written');
  expect(readFileSync(path, 'utf8')).toBe(broken);
  expect(existsSync(`${path}.arden-backup`)).toBe(false);
});

test('hooks Arden cannot add to, or an Arden hook already there by hand, are refused and nothing is written', async () => {
  const path = join(home, '.codex', 'config.toml');
  mkdirSync(join(home, '.codex'));
  // An inline array cannot be extended by a [[hooks.PreToolUse]] table.
  const inline =
    '[hooks]\nPreToolUse = [{ matcher = "Bash", hooks = [{ type = "command", command = "x" }] }]\n';
  writeFileSync(path, inline);
  const refused = await cli(['hook', 'install', 'codex']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('nothing was written');
  expect(readFileSync(path, 'utf8')).toBe(inline);

  const byHand =
    '[[hooks.PreToolUse]]\n[[hooks.PreToolUse.hooks]]\ntype = "command"\ncommand = "arden hook codex"\n';
  writeFileSync(path, byHand);
  const twice = await cli(['hook', 'install', 'codex']);
  expect(twice.code).toBe(1);
  expect(twice.stderr).toContain('already runs `arden hook codex`');
  expect(readFileSync(path, 'utf8')).toBe(byHand);

  rmSync(path);
  writeFileSync(
    join(home, '.codex', 'hooks.json'),
    JSON.stringify({
      hooks: { PreToolUse: [{ hooks: [{ type: 'command', command: 'arden hook codex' }] }] },
    }),
  );
  const json = await cli(['hook', 'install', 'codex']);
  expect(json.code).toBe(1);
  expect(json.stderr).toContain('hooks.json already runs `arden hook codex`');
  expect(existsSync(path)).toBe(false);
});

test('Claude Code-only options are refused for Codex', async () => {
  const result = await cli(['hook', 'install', 'codex', '--on-held', 'ask']);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('--on-held is for Claude Code');
  expect(existsSync(join(home, '.codex', 'config.toml'))).toBe(false);
});
