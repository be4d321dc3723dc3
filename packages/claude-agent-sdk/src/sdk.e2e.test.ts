// The real Claude Agent SDK (its own Claude Code binary), offline against a local fake of the
// Anthropic Messages API that answers with scripted tool_use blocks, and a real Arden server.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSdkMcpServer, type Options, query, tool } from '@anthropic-ai/claude-agent-sdk';
import { configure, flush, uninstallAdapters } from '@arden/core';
import { type ScriptedTurn, startFakeAnthropic } from '@arden/fake-anthropic';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { z } from 'zod';
import { queryWithArden, withArden } from './index';
import { agentSdkExecutable } from './test-agents';

// The SDK's own binary, installed for this suite only (scripts/install-agents.mjs).
const pathToClaudeCodeExecutable = agentSdkExecutable();

let arden: TestServer;
let home: string;
let work: string;

beforeAll(async () => {
  arden = await startTestServer({
    // The agent's binary takes seconds to start on a loaded machine.
    pendingTimeoutMs: 60_000,
    policies: [
      {
        name: 'No recursive deletes',
        tool: 'claude_code.Bash',
        rules: [{ if: "args.command.contains('rm -rf')", then: 'block' }],
        default: 'allow',
      },
      {
        name: 'Deploys need a human',
        tool: 'claude_code.Write',
        rules: [{ if: "args.file_path.endsWith('deploy.txt')", then: 'requires_approval' }],
        default: 'allow',
      },
      { name: 'Deleting files needs a human', tool: 'mcp.files.delete_file', action: 'block' },
    ],
  });
});

afterAll(async () => {
  await arden.close();
});

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'arden-sdk-home-'));
  work = mkdtempSync(join(tmpdir(), 'arden-sdk-work-'));
  configure({
    apiKey: arden.key,
    apiUrl: arden.url,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
    resultFlushIntervalMs: 10,
  });
});

afterEach(async () => {
  await flush();
  uninstallAdapters();
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** Runs one prompt through the real SDK against a fake model that plays `script`. */
async function runAgent(
  script: ScriptedTurn[],
  options: Options = {},
  arden?: Parameters<typeof queryWithArden>[2],
) {
  const fake = await startFakeAnthropic({ script });
  const messages: any[] = [];
  try {
    const run = queryWithArden(
      query,
      {
        prompt: 'Do the task.',
        options: {
          cwd: work,
          pathToClaudeCodeExecutable,
          model: 'claude-sonnet-4-5',
          persistSession: false,
          settingSources: [],
          env: {
            PATH: process.env.PATH ?? '',
            HOME: home,
            ANTHROPIC_BASE_URL: fake.url,
            ANTHROPIC_API_KEY: 'sk-fake-key',
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
            DISABLE_TELEMETRY: '1',
            DISABLE_AUTOUPDATER: '1',
          },
          ...options,
        },
      },
      arden,
    );
    for await (const message of run) messages.push(message);
    return {
      fake,
      messages,
      results: fake.toolResults(),
      result: messages.find((m) => m.type === 'result'),
    };
  } finally {
    await fake.close();
  }
}

test('a blocked Bash command never runs, and the model reads Arden’s reason', async () => {
  const marker = join(work, 'marker');
  const { results } = await runAgent([
    {
      toolUses: [
        { name: 'Bash', input: { command: `rm -rf /tmp/nothing-here && touch ${marker}` } },
      ],
    },
    { text: 'Could not.' },
  ]);
  expect(existsSync(marker)).toBe(false);
  expect(results).toHaveLength(1);
  expect(results[0]?.text).toContain('Arden blocked this call to "claude_code.Bash" by policy');
  expect(results[0]?.text).toContain('No recursive deletes');
  const [action] = await arden
    .actions({ status: 'completed' })
    .then((all) => all.filter((a) => a.toolName === 'claude_code.Bash'));
  expect(action?.decision).toBe('block');
});

test('an allowed Write writes, its outcome is reported, and usage lands in the session', async () => {
  const target = join(work, 'notes.txt');
  const { results, result } = await runAgent([
    {
      toolUses: [
        { name: 'Write', input: { file_path: target, content: 'hello from the agent\n' } },
      ],
      usage: { inputTokens: 1000, outputTokens: 50 },
    },
    { text: 'Written.', usage: { inputTokens: 1200, outputTokens: 30, cacheReadInputTokens: 800 } },
  ]);
  expect(readFileSync(target, 'utf8')).toBe('hello from the agent\n');
  expect(results[0]?.isError).toBe(false);
  await flush();
  const session = result.session_id as string;
  const [action] = await arden.actions({ sessionId: session });
  expect(action).toMatchObject({
    toolName: 'claude_code.Write',
    decision: 'allow',
    resultStatus: 'succeeded',
  });
  // One usage event per model call (recorded by the model-call proxy), cache reads included.
  const usage = await arden.usage({ sessionId: session });
  expect(usage).toHaveLength(2);
  expect(
    usage.map((event) => [event.model, event.promptTokens, event.completionTokens]).sort(),
  ).toEqual([
    ['claude-sonnet-4-5', 1000, 50],
    ['claude-sonnet-4-5', 2000, 30],
  ]);
  expect(usage.every((event) => event.costUsd > 0)).toBe(true);
});

test('a held Write approved by a human runs; a denied one does not and the model reads the notes', async () => {
  const approved = join(work, 'deploy.txt');
  const running = runAgent([
    { toolUses: [{ name: 'Write', input: { file_path: approved, content: 'ship it\n' } }] },
    { text: 'Deployed.' },
  ]);
  const held = await arden.nextPending({ toolName: 'claude_code.Write' });
  expect(existsSync(approved)).toBe(false);
  await arden.approve(held.id, 'go ahead');
  await running;
  expect(readFileSync(approved, 'utf8')).toBe('ship it\n');

  const denied = join(work, 'sub', 'deploy.txt');
  const second = runAgent([
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

test('an MCP tool is checked as mcp.<server>.<tool>', async () => {
  let deleted = 0;
  const files = createSdkMcpServer({
    name: 'files',
    tools: [
      tool('delete_file', 'Delete a file', { path: z.string() }, async () => {
        deleted++;
        return { content: [{ type: 'text', text: 'deleted' }] };
      }),
    ],
  });
  const { results } = await runAgent(
    [{ toolUses: [{ name: 'mcp__files__delete_file', input: { path: 'a.txt' } }] }, { text: 'ok' }],
    { mcpServers: { files } },
  );
  expect(deleted).toBe(0);
  expect(results[0]?.text).toContain('Arden blocked this call to "mcp.files.delete_file"');
});

test('Arden unreachable: the call is blocked (fail closed)', async () => {
  const marker = join(work, 'ran');
  configure({
    apiKey: arden.key,
    apiUrl: 'http://127.0.0.1:9',
    logLevel: 'silent',
    retryAttempts: 0,
  });
  // The model calls left alone (budgets.e2e.test.ts: an unreachable Arden refuses them too), so
  // the tool call is what Arden is asked about.
  const { results } = await runAgent(
    [{ toolUses: [{ name: 'Bash', input: { command: `touch ${marker}` } }] }, { text: 'ok' }],
    {},
    { modelCalls: false },
  );
  expect(existsSync(marker)).toBe(false);
  expect(results[0]?.text).toContain(
    'Arden could not be reached to check this call to "claude_code.Bash"',
  );
});

test('withArden keeps the app’s hooks and canUseTool, and is idempotent', () => {
  const appHook = async () => ({});
  const canUseTool = async () => ({ behavior: 'deny' as const, message: 'app says no' });
  const options = withArden({ hooks: { PreToolUse: [{ hooks: [appHook] }] }, canUseTool });
  expect(options.hooks?.PreToolUse).toHaveLength(2);
  expect(options.hooks?.PreToolUse?.[0]?.hooks[0]).toBe(appHook);
  expect(options.hooks?.PostToolUse).toHaveLength(1);
  expect(options.canUseTool).not.toBe(canUseTool);
  expect(withArden(options)).toBe(options);
  expect(() => withArden({}, { approvalMode: 'async' as never })).toThrow(
    /approvalMode must be 'wait'/,
  );
});
