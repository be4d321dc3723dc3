// The real Claude Code CLI (`claude -p`, pinned in agents/package.json, installed for this suite by
// scripts/install-agents.mjs) offline
// against a local fake of the Anthropic Messages API that answers with scripted tool_use
// blocks, with Arden's hooks installed by the real `arden hook install claude-code` and a real
// Arden server. (This package holds the suite because it already has the agent packages and
// @arden/server as devDependencies; the hook itself lives in @arden/server.)
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ScriptedTurn, startFakeAnthropic } from '@arden/fake-anthropic';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { claudeCodeExecutable } from './test-agents';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const claude = claudeCodeExecutable();
const ardenBin = join(packageDir, 'node_modules', '@arden', 'server', 'bin', 'arden.js');
const mcpServer = join(packageDir, 'test-fixtures', 'mcp-files-server.mjs');
const promptServer = join(packageDir, 'test-fixtures', 'permission-prompt-server.mjs');
const gatewayBin = join(packageDir, 'node_modules', '@arden', 'mcp', 'bin', 'arden-mcp.js');

let arden: TestServer;
let home: string;
let work: string;

beforeAll(async () => {
  arden = await startTestServer({
    pendingTimeoutMs: 60_000,
    policies: [
      {
        name: 'No recursive deletes',
        tool: 'claude_code.Bash',
        rules: [{ if: "args.command.contains('rm -rf')", then: 'block' }],
        default: 'allow',
      },
      {
        name: 'Deploys and releases need a human',
        tool: 'claude_code.Write',
        rules: [
          { if: "args.file_path.endsWith('deploy.txt')", then: 'requires_approval' },
          { if: "args.file_path.endsWith('release.txt')", then: 'requires_approval' },
        ],
        default: 'allow',
        // The developer at the keyboard may decide (--on-held ask), recorded as in-app.
        approve_in: ['dashboard', 'app'],
      },
      {
        // A rule, not a blanket block: the gateway leaves a tool blocked for every call out of
        // tools/list, and the gateway test needs the model to see it.
        name: 'No deleting through MCP',
        tool: 'mcp.files.delete_file',
        rules: [{ if: "args.path == 'a.txt'", then: 'block' }],
        default: 'allow',
      },
    ],
  });
});

afterAll(async () => {
  await arden.close();
});

beforeEach(async () => {
  home = mkdtempSync(join(tmpdir(), 'arden-cc-home-'));
  work = mkdtempSync(join(tmpdir(), 'arden-cc-work-'));
  // What a developer runs once: the real CLI writes .claude/settings.json of the project.
  const installed = await run(process.execPath, [
    ardenBin,
    'hook',
    'install',
    'claude-code',
    '--project',
    '--command',
    `${process.execPath} ${ardenBin}`,
    '--on-allow',
    'allow',
    '--max-wait',
    '60',
  ]);
  expect(installed.code).toBe(0);
  expect(installed.stdout).toContain('Installed Arden hooks in');
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

function run(command: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      command,
      args,
      {
        cwd: work,
        env: { PATH: process.env.PATH ?? '', HOME: home, ...env },
        timeout: 120_000,
      },
      (error, stdout, stderr) => {
        resolve({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
        });
      },
    );
    child.stdin?.end();
  });
}

/** Runs `claude -p` against a fake model that plays `script`. */
async function runClaude(
  script: ScriptedTurn[],
  extraArgs: string[] = [],
  env: Record<string, string> = {},
) {
  const fake = await startFakeAnthropic({ script });
  try {
    const result = await run(
      claude,
      [
        '-p',
        'Do the task.',
        '--model',
        'claude-sonnet-4-5',
        '--output-format',
        'json',
        ...extraArgs,
      ],
      {
        ANTHROPIC_BASE_URL: fake.url,
        ANTHROPIC_API_KEY: 'sk-fake-key',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        ARDEN_API_KEY: arden.key,
        ARDEN_API_URL: arden.url,
        ARDEN_HOOK_STATE_DIR: join(home, 'arden-state'),
        // CI runs as root, where Claude Code refuses --dangerously-skip-permissions otherwise.
        IS_SANDBOX: '1',
        ...env,
      },
    );
    let output: any;
    try {
      output = JSON.parse(result.stdout);
    } catch {
      throw new Error(
        `claude -p printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`,
      );
    }
    return { output, results: fake.toolResults() };
  } finally {
    await fake.close();
  }
}

test('a blocked Bash command never runs, even with --dangerously-skip-permissions', async () => {
  const marker = join(work, 'marker');
  const { results } = await runClaude(
    [
      { toolUses: [{ name: 'Bash', input: { command: `rm -rf ./nothing && touch ${marker}` } }] },
      { text: 'Could not.' },
    ],
    ['--dangerously-skip-permissions'],
  );
  expect(existsSync(marker)).toBe(false);
  expect(results[0]?.text).toContain('Arden blocked this call to "claude_code.Bash" by policy');
  expect(results[0]?.text).toContain('No recursive deletes');
});

test('an allowed Write writes; its outcome and the session’s usage and cost land in Arden', async () => {
  const target = join(work, 'notes.txt');
  const { output } = await runClaude([
    {
      toolUses: [{ name: 'Write', input: { file_path: target, content: 'hello\n' } }],
      usage: { inputTokens: 1000, outputTokens: 50 },
    },
    { text: 'Written.', usage: { inputTokens: 1200, outputTokens: 30 } },
  ]);
  expect(readFileSync(target, 'utf8')).toBe('hello\n');
  const session = output.session_id as string;
  const actions = await arden.actions({ sessionId: session });
  expect(actions).toHaveLength(1);
  expect(actions[0]).toMatchObject({
    toolName: 'claude_code.Write',
    decision: 'allow',
    resultStatus: 'succeeded',
  });
  const usage = await arden.usage({ sessionId: session });
  expect(usage).toHaveLength(1); // Stop and SessionEnd both ran: counted once
  expect(usage[0]).toMatchObject({
    model: 'claude-sonnet-4-5',
    promptTokens: 2200,
    completionTokens: 80,
  });
  expect(usage[0]?.costUsd).toBeGreaterThan(0);
});

test('a held Write approved by a human runs; a denied one does not', async () => {
  const approved = join(work, 'deploy.txt');
  const first = runClaude([
    { toolUses: [{ name: 'Write', input: { file_path: approved, content: 'ship\n' } }] },
    { text: 'Deployed.' },
  ]);
  const held = await arden.nextPending({ toolName: 'claude_code.Write' });
  expect(existsSync(approved)).toBe(false);
  await arden.approve(held.id, 'go ahead');
  await first;
  expect(readFileSync(approved, 'utf8')).toBe('ship\n');

  const denied = join(work, 'other', 'deploy.txt');
  const second = runClaude([
    { toolUses: [{ name: 'Write', input: { file_path: denied, content: 'no\n' } }] },
    { text: 'Stopped.' },
  ]);
  const again = await arden.nextPending({ toolName: 'claude_code.Write' });
  await arden.deny(again.id, 'not on a Friday');
  const { results } = await second;
  expect(existsSync(denied)).toBe(false);
  expect(results[0]?.text).toContain(
    'An approver denied this call to "claude_code.Write": not on a Friday',
  );
});

test('an MCP tool goes through the hook as mcp.<server>.<tool>', async () => {
  const calls = join(work, 'mcp-calls.txt');
  const config = join(work, 'mcp.json');
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        files: { command: process.execPath, args: [mcpServer], env: { MCP_CALLS_FILE: calls } },
      },
    }),
  );
  const { results } = await runClaude(
    [
      {
        toolUses: [
          { name: 'mcp__files__delete_file', input: { path: 'a.txt' } },
          { name: 'mcp__files__list_files', input: {} },
        ],
      },
      { text: 'ok' },
    ],
    ['--mcp-config', config, '--strict-mcp-config'],
  );
  const byName = Object.fromEntries(results.map((result) => [result.name, result.text]));
  expect(byName.mcp__files__delete_file).toContain(
    'Arden blocked this call to "mcp.files.delete_file"',
  );
  expect(byName.mcp__files__list_files).toContain('list_files done');
  expect(readFileSync(calls, 'utf8')).toBe('list_files\n');
  const listed = (await arden.actions()).find(
    (action) => action.toolName === 'mcp.files.list_files',
  );
  // The server's name goes along for the policies' `mcp` variable.
  expect(listed?.metadata).toMatchObject({ mcp: { server: 'files' }, source: 'claude-code' });
});

test('an MCP tool through the MCP gateway (no hooks): the gateway checks and blocks it', async () => {
  const removed = await run(process.execPath, [ardenBin, 'hook', 'uninstall', 'claude-code']);
  expect(removed.code).toBe(0);
  const calls = join(work, 'mcp-calls.txt');
  const config = join(work, 'mcp.json');
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        files: {
          command: process.execPath,
          args: [gatewayBin, 'run', '--name', 'files', '--', process.execPath, mcpServer],
          env: {
            MCP_CALLS_FILE: calls,
            ARDEN_API_KEY: arden.key,
            ARDEN_API_URL: arden.url,
          },
        },
      },
    }),
  );
  const before = (await arden.actions()).length;
  const { results } = await runClaude(
    [
      {
        toolUses: [
          { name: 'mcp__files__delete_file', input: { path: 'a.txt' } },
          { name: 'mcp__files__list_files', input: {} },
        ],
      },
      { text: 'ok' },
    ],
    ['--mcp-config', config, '--strict-mcp-config', '--dangerously-skip-permissions'],
  );
  const byName = Object.fromEntries(results.map((result) => [result.name, result.text]));
  expect(byName.mcp__files__delete_file).toContain(
    'Arden blocked this call to "mcp.files.delete_file"',
  );
  expect(byName.mcp__files__list_files).toContain('list_files done');
  expect(readFileSync(calls, 'utf8')).toBe('list_files\n');
  // Only the gateway checked (no hook ran): two actions, from the gateway.
  const actions = (await arden.actions()).slice(before); // oldest first
  expect(actions.map((action) => action.toolName).sort()).toEqual([
    'mcp.files.delete_file',
    'mcp.files.list_files',
  ]);
  expect(actions.every((action) => action.metadata?.source !== 'claude-code')).toBe(true);
});

test('--on-held ask: Claude Code asks; headless nobody answers, so it does not run, recorded as denied in the app', async () => {
  const installed = await run(process.execPath, [
    ardenBin,
    'hook',
    'install',
    'claude-code',
    '--command',
    `${process.execPath} ${ardenBin}`,
    '--on-held',
    'ask',
  ]);
  expect(installed.code).toBe(0);
  const target = join(work, 'release.txt');
  const { output } = await runClaude(
    [
      { toolUses: [{ name: 'Write', input: { file_path: target, content: 'v1\n' } }] },
      { text: 'ok' },
    ],
    [],
    { ARDEN_USER: 'dev@example.com' },
  );
  expect(existsSync(target)).toBe(false);
  const [action] = await arden.actions({ sessionId: output.session_id as string });
  expect(action).toMatchObject({ toolName: 'claude_code.Write', status: 'denied' });
  expect(action?.approval).toMatchObject({ decidedIn: 'app', decidedByUser: 'dev@example.com' });
});

test('--on-held ask: an approver denies while the prompt is open, the developer approves after: the run is recorded against the decision and Claude is told', async () => {
  const installed = await run(process.execPath, [
    ardenBin,
    'hook',
    'install',
    'claude-code',
    '--command',
    `${process.execPath} ${ardenBin}`,
    '--on-held',
    'ask',
  ]);
  expect(installed.code).toBe(0);
  // The permission prompt, answered by an MCP tool (headless Claude Code's way to ask): it
  // approves once the test says so, after the approver's decision in Arden.
  const asked = join(work, 'prompt-asked.json');
  const go = join(work, 'prompt-go');
  const config = join(work, 'prompt-mcp.json');
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        prompt: {
          command: process.execPath,
          args: [promptServer],
          env: { PROMPT_ASKED_FILE: asked, PROMPT_GO_FILE: go },
        },
      },
    }),
  );
  const target = join(work, 'release.txt');
  const fake = await startFakeAnthropic({
    script: [
      { toolUses: [{ name: 'Write', input: { file_path: target, content: 'v2\n' } }] },
      { text: 'ok' },
    ],
  });
  try {
    const running = run(
      claude,
      [
        '-p',
        'Do the task.',
        '--model',
        'claude-sonnet-4-5',
        '--output-format',
        'json',
        '--mcp-config',
        config,
        '--strict-mcp-config',
        '--permission-prompt-tool',
        'mcp__prompt__approve',
      ],
      {
        ANTHROPIC_BASE_URL: fake.url,
        ANTHROPIC_API_KEY: 'sk-fake-key',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        ARDEN_API_KEY: arden.key,
        ARDEN_API_URL: arden.url,
        ARDEN_HOOK_STATE_DIR: join(home, 'arden-state'),
        ARDEN_USER: 'dev@example.com',
      },
    );
    const held = await arden.nextPending({ toolName: 'claude_code.Write' });
    for (let waited = 0; !existsSync(asked) && waited < 60_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(existsSync(asked)).toBe(true); // the prompt is open
    await arden.deny(held.id, 'not this release');
    writeFileSync(go, '');
    const result = await running;
    expect(result.code).toBe(0);
    // Claude Code cannot withdraw its prompt: the call ran ...
    expect(readFileSync(target, 'utf8')).toBe('v2\n');
    // ... but not in silence: the approver's decision stands, the run is logged against it ...
    const [action] = (await arden.actions()).filter((item) => item.id === held.id);
    expect(action).toMatchObject({ status: 'denied', resultStatus: 'failed' });
    expect(action?.resultError).toContain("Ran against an approver's decision");
    expect(action?.resultError).toContain('not this release');
    // ... and Claude is told, in the request after the call.
    const after = JSON.stringify(fake.agentRequests().at(-1)?.body);
    expect(after).toContain(
      `Arden denied this call to \\"claude_code.Write\\" (action ${held.id})`,
    );
    expect(after).toContain('the call ran against it');
  } finally {
    await fake.close();
  }
});

test('Arden unreachable: the call is blocked', async () => {
  const marker = join(work, 'ran');
  const { results } = await runClaude(
    [{ toolUses: [{ name: 'Bash', input: { command: `touch ${marker}` } }] }, { text: 'ok' }],
    ['--dangerously-skip-permissions'],
    { ARDEN_API_URL: 'http://127.0.0.1:9' },
  );
  expect(existsSync(marker)).toBe(false);
  expect(results[0]?.text).toContain(
    'Arden could not be reached to check this call to "claude_code.Bash"',
  );
});

test('http hooks: the server’s POST /v1/hooks/claude-code decides, the local usage hook records usage, and an unreachable Arden blocks', async () => {
  const installed = await run(process.execPath, [
    ardenBin,
    'hook',
    'install',
    'claude-code',
    '--http',
    arden.url,
    '--on-allow',
    'allow',
    '--command',
    `${process.execPath} ${ardenBin}`,
  ]);
  expect(installed.code).toBe(0);
  const settings = JSON.parse(readFileSync(join(work, '.claude', 'settings.json'), 'utf8'));
  for (const event of ['PreToolUse', 'PostToolUse', 'PostToolUseFailure']) {
    // the command hooks were replaced: only the server decides and hears outcomes
    expect(settings.hooks[event][0].hooks).toEqual([expect.objectContaining({ type: 'http' })]);
  }
  expect(settings.hooks.PreToolUse[0].hooks[0]).toMatchObject({ type: 'http', onFailure: 'block' });
  expect(settings.hooks.SessionEnd[0].hooks[1].command).toContain('--usage-only --api-url');

  const marker = join(work, 'marker');
  const target = join(work, 'allowed.txt');
  const { output, results } = await runClaude(
    [
      {
        toolUses: [
          { name: 'Bash', input: { command: `rm -rf ./nothing; touch ${marker}` } },
          { name: 'Write', input: { file_path: target, content: 'via http\n' } },
        ],
        usage: { inputTokens: 700, outputTokens: 40 },
      },
      { text: 'ok', usage: { inputTokens: 900, outputTokens: 20 } },
    ],
    [],
    // The http hooks carry only the key; the usage hook has the server's URL on its command line.
    { ARDEN_API_URL: '' },
  );
  expect(existsSync(marker)).toBe(false);
  expect(results.find((result) => result.name === 'Bash')?.text).toContain(
    'Arden blocked this call to "claude_code.Bash" by policy',
  );
  expect(readFileSync(target, 'utf8')).toBe('via http\n');
  const session = output.session_id as string;
  expect((await arden.actions({ sessionId: session })).map((action) => action.toolName)).toEqual(
    expect.arrayContaining(['claude_code.Bash', 'claude_code.Write']),
  );
  const usage = await arden.usage({ sessionId: session });
  expect(usage).toHaveLength(1);
  expect(usage[0]).toMatchObject({
    model: 'claude-sonnet-4-5',
    promptTokens: 1600,
    completionTokens: 60,
  });
  expect(usage[0]?.costUsd).toBeGreaterThan(0);

  // Arden down: Claude Code cannot reach the hook's URL, and onFailure "block" stops the call.
  settings.hooks.PreToolUse[0].hooks[0].url = 'http://127.0.0.1:9/v1/hooks/claude-code';
  writeFileSync(join(work, '.claude', 'settings.json'), JSON.stringify(settings));
  const second = join(work, 'second');
  const down = await runClaude(
    [{ toolUses: [{ name: 'Bash', input: { command: `touch ${second}` } }] }, { text: 'ok' }],
    ['--dangerously-skip-permissions'],
  );
  expect(existsSync(second)).toBe(false);
  expect(down.results[0]?.isError).toBe(true);
});
