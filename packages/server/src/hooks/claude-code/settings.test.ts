import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { run } from '../../cli/main';
import { claudeCodeToolName } from './names';
import { transcriptUsage } from './transcript';

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'arden-hook-settings-'));
});
afterEach(() => rmSync(directory, { recursive: true, force: true }));

function cli(argv: string[], stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    stdout: (text: string) => out.push(text),
    stderr: (text: string) => err.push(text),
    env: { HOME: directory },
    cwd: directory,
    readStdin: async () => stdin,
  };
  return run(argv, io).then((code) => ({ code, stdout: out.join(''), stderr: err.join('') }));
}

test('install merges into the project settings with a backup and a diff; uninstall removes only Arden’s hooks', async () => {
  const path = join(directory, '.claude', 'settings.json');
  const theirs = {
    permissions: { allow: ['Bash(npm test)'] },
    hooks: {
      PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: './lint-hook.sh' }] }],
    },
  };
  rmSync(join(directory, '.claude'), { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(directory, '.claude'));
  writeFileSync(path, JSON.stringify(theirs));

  const installed = await cli(['hook', 'install', 'claude-code', '--project', '--on-held', 'ask']);
  expect(installed.code).toBe(0);
  expect(installed.stdout).toMatch(/^\+ +"command": "arden hook claude-code --on-held ask",$/m);
  expect(installed.stdout).toMatch(/^ {2} +"Bash\(npm test\)"$/m); // kept lines are not marked
  expect(installed.stdout).toContain(`backup: ${path}.arden-backup`);
  expect(JSON.parse(readFileSync(`${path}.arden-backup`, 'utf8'))).toEqual(theirs);
  const settings = JSON.parse(readFileSync(path, 'utf8'));
  expect(settings.permissions).toEqual(theirs.permissions);
  expect(settings.hooks.PreToolUse).toEqual([
    theirs.hooks.PreToolUse[0],
    {
      matcher: '*',
      hooks: [{ type: 'command', command: 'arden hook claude-code --on-held ask', timeout: 330 }],
    },
  ]);
  expect(Object.keys(settings.hooks)).toEqual([
    'PreToolUse',
    'PostToolUse',
    'PostToolUseFailure',
    'Stop',
    'SessionEnd',
  ]);

  // Installing again replaces Arden's hooks instead of adding a second set.
  await cli(['hook', 'install', 'claude-code']);
  const again = JSON.parse(readFileSync(path, 'utf8'));
  expect(again.hooks.PreToolUse).toHaveLength(2);
  expect(again.hooks.PreToolUse[1].hooks[0].command).toBe('arden hook claude-code');

  const removed = await cli(['hook', 'uninstall', 'claude-code']);
  expect(removed.code).toBe(0);
  expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(theirs);
});

test('--user writes ~/.claude/settings.json; --http installs http hooks that block when Arden is unreachable', async () => {
  const installed = await cli([
    'hook',
    'install',
    'claude-code',
    '--user',
    '--http',
    'https://arden.example.com/',
  ]);
  expect(installed.code).toBe(0);
  const settings = JSON.parse(readFileSync(join(directory, '.claude', 'settings.json'), 'utf8'));
  expect(settings.hooks.PreToolUse[0].hooks[0]).toEqual({
    type: 'http',
    url: 'https://arden.example.com/v1/hooks/claude-code',
    headers: { 'X-API-Key': '$ARDEN_API_KEY' },
    allowedEnvVars: ['ARDEN_API_KEY'],
    timeout: 330,
    onFailure: 'block',
  });
  // The transcript stays on this machine: a command hook next to the http one reads it at Stop
  // and SessionEnd and sends only token counts.
  for (const event of ['Stop', 'SessionEnd']) {
    expect(settings.hooks[event][0].hooks).toEqual([
      expect.objectContaining({ type: 'http', onFailure: 'block', timeout: 30 }),
      {
        type: 'command',
        command: 'arden hook claude-code --usage-only --api-url https://arden.example.com',
        timeout: 30,
      },
    ]);
  }
  for (const event of ['PreToolUse', 'PostToolUse', 'PostToolUseFailure']) {
    expect(settings.hooks[event][0].hooks).toHaveLength(1);
  }

  const off = await cli([
    'hook',
    'install',
    'claude-code',
    '--user',
    '--http',
    'https://a.example',
    '--usage',
    'off',
  ]);
  expect(off.code).toBe(0);
  const without = JSON.parse(readFileSync(join(directory, '.claude', 'settings.json'), 'utf8'));
  expect(JSON.stringify(without)).not.toContain('usage-only');
  expect(without.hooks.Stop[0].hooks).toHaveLength(1);
  // Uninstall removes both kinds.
  await cli(['hook', 'install', 'claude-code', '--user', '--http', 'https://a.example']);
  await cli(['hook', 'uninstall', 'claude-code', '--user']);
  expect(existsSync(join(directory, '.claude', 'settings.json'))).toBe(true);
  expect(JSON.parse(readFileSync(join(directory, '.claude', 'settings.json'), 'utf8'))).toEqual({});

  const shell = await cli([
    'hook',
    'install',
    'claude-code',
    '--http',
    'https://a.example/;rm -rf ~',
  ]);
  expect(shell.code).not.toBe(0);
  expect(shell.stderr).toContain("--http must be the Arden server's base URL");
});

test('--usage-only answers nothing to tool events: the http hooks decide those', async () => {
  const event = JSON.stringify({
    hook_event_name: 'PreToolUse',
    session_id: 's',
    tool_name: 'Bash',
    tool_input: { command: 'rm -rf /' },
    tool_use_id: 't',
  });
  // No key and no server: the full hook would deny; the usage hook stays out of the decision.
  const result = await cli(
    ['hook', 'claude-code', '--usage-only', '--api-url', 'http://127.0.0.1:9'],
    event,
  );
  expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
});

test('a settings file that is not JSON is refused, not overwritten', async () => {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(directory, '.claude'));
  writeFileSync(join(directory, '.claude', 'settings.json'), '{ not json');
  const result = await cli(['hook', 'install', 'claude-code']);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('is not valid JSON');
  expect(readFileSync(join(directory, '.claude', 'settings.json'), 'utf8')).toBe('{ not json');
});

test('the hook denies what it cannot read or check (fail closed)', async () => {
  const garbage = await cli(['hook', 'claude-code'], 'not json');
  expect(garbage.code).toBe(2);
  const event = JSON.stringify({
    hook_event_name: 'PreToolUse',
    session_id: 's',
    tool_name: 'Bash',
    tool_input: { command: 'ls' },
    tool_use_id: 't',
  });
  const unconfigured = await cli(['hook', 'claude-code'], event);
  expect(unconfigured.code).toBe(0);
  expect(JSON.parse(unconfigured.stdout).hookSpecificOutput).toMatchObject({
    permissionDecision: 'deny',
  });
  expect(JSON.parse(unconfigured.stdout).hookSpecificOutput.permissionDecisionReason).toContain(
    'Arden is not configured',
  );
  const bad = await cli(['hook', 'claude-code', '--on-held', 'maybe'], event);
  expect(bad.code).toBe(2);
});

test('tool names: claude_code.<Tool> and mcp.<server>.<tool>', () => {
  expect(claudeCodeToolName('Bash')).toBe('claude_code.Bash');
  expect(claudeCodeToolName('mcp__github__create_issue')).toBe('mcp.github.create_issue');
  expect(claudeCodeToolName('mcp__a_b__do__it', 'a_b')).toBe('mcp.a_b.do__it');
});

test('usage per model from a transcript, each message once, only ids, models and counts read', async () => {
  const path = join(directory, 'transcript.jsonl');
  const assistant = (id: string, model: string, input: number, output: number, cacheRead = 0) =>
    JSON.stringify({
      type: 'assistant',
      message: {
        id,
        model,
        content: [{ type: 'text', text: 'secret' }],
        usage: { input_tokens: input, output_tokens: output, cache_read_input_tokens: cacheRead },
      },
    });
  writeFileSync(
    path,
    [
      JSON.stringify({ type: 'user', message: { role: 'user', content: 'usage assistant' } }),
      assistant('m1', 'claude-sonnet-4-5', 100, 10),
      assistant('m1', 'claude-sonnet-4-5', 100, 10), // the same message, streamed in two entries
      assistant('m2', 'claude-haiku-4-5', 50, 5, 25),
      '{"type":"assistant", "usage": broken',
    ].join('\n'),
  );
  const counted = new Set<string>();
  expect(await transcriptUsage(path, counted)).toEqual([
    { model: 'claude-sonnet-4-5', promptTokens: 100, completionTokens: 10 },
    { model: 'claude-haiku-4-5', promptTokens: 75, completionTokens: 5 },
  ]);
  expect(await transcriptUsage(path, counted)).toEqual([]);
});
