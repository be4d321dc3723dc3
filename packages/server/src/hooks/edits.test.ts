import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { ActionRecord } from '../store';
import { startTestServer, type TestServer } from '../test-fixtures/harness';
import { UserAdministration } from '../users/service';
import { defaultHookOptions, handleClaudeCodeHook } from './claude-code/hook';
import { defaultCodexHookOptions, handleCodexHook } from './codex/hook';

// Approve with edit through the coding-agent hooks, against a real server: Claude Code runs the
// edited input (`updatedInput`); Codex, which cannot, refuses the call. Neither ever lets the
// call run as the model made it.

const servers: TestServer[] = [];
const directories: string[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
  for (const directory of directories.splice(0)) {
    rmSync(directory, { recursive: true, force: true });
  }
});

async function start(tool: string) {
  const t = await startTestServer({ workers: false });
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Deletes are held',
      tool,
      // The edited call is allowed: one that still needed approval would wait for a second.
      rules: [{ if: 'args.command == "rm -rf build"', then: 'requires_approval' }],
      default: 'allow',
    },
  ]);
  const users = new UserAdministration(t.server.store, Date.now, {
    insecureTestPasswordHashing: true,
  });
  const { user } = await users.createUser({
    email: 'ann@example.com',
    role: 'approver',
    password: 'correct horse battery staple',
  });
  const state = mkdtempSync(join(tmpdir(), 'arden-hook-edits-'));
  directories.push(state);
  const env = { ARDEN_API_KEY: t.liveKey, ARDEN_API_URL: t.url, ARDEN_HOOK_STATE_DIR: state };
  return { t, env, approver: user.id };
}

/** Approves the next held call with `kwargs` in place of its arguments. */
async function approveWithEdit(
  t: TestServer,
  approver: string,
  kwargs: Record<string, unknown>,
): Promise<ActionRecord> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const page = await t.server.store.actions.list({ status: 'pending' }, { limit: 1 });
    const held = page.items[0];
    if (held) {
      return t.server.approvals.decide(held.id, { decision: 'approve', userId: approver, kwargs });
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no call was held');
}

const original = { command: 'rm -rf build', description: 'clean' };
const edited = { command: 'rm -rf build/tmp', description: 'clean' };

describe('Claude Code hook: an approval with edit', () => {
  for (const onAllow of ['defer', 'allow'] as const) {
    test(`answers allow with the edited input as updatedInput (--on-allow ${onAllow})`, async () => {
      const { t, env, approver } = await start('claude_code.Bash');
      const options = { ...defaultHookOptions, onAllow, readTranscript: false };
      const answering = handleClaudeCodeHook(
        JSON.stringify({
          session_id: 's-1',
          hook_event_name: 'PreToolUse',
          tool_name: 'Bash',
          tool_input: original,
          tool_use_id: 'tu-1',
        }),
        options,
        env,
      );
      const action = await approveWithEdit(t, approver, edited);
      const answer = await answering;
      expect(answer.exitCode).toBe(0);
      const output = JSON.parse(answer.stdout).hookSpecificOutput;
      // Never "nothing" (which runs the model's input): allow, with the approved input.
      expect(output).toMatchObject({
        hookEventName: 'PreToolUse',
        permissionDecision: 'allow',
        updatedInput: edited,
      });
      expect(output.permissionDecisionReason).toContain(action.id);
      expect(output.permissionDecisionReason).toContain(JSON.stringify(edited));
      // It ran with the edit: reported as succeeded.
      const post = await handleClaudeCodeHook(
        JSON.stringify({
          session_id: 's-1',
          hook_event_name: 'PostToolUse',
          tool_name: 'Bash',
          tool_input: { description: 'clean', command: 'rm -rf build/tmp' },
          tool_use_id: 'tu-1',
          tool_response: {},
        }),
        options,
        env,
      );
      expect(post.stdout).toBe('');
      await expect
        .poll(async () => (await t.server.store.actions.get(action.id))?.resultStatus)
        .toBe('succeeded');
    });
  }

  test('a Claude Code that ran the original input anyway is recorded as failed, and the model told', async () => {
    const { t, env, approver } = await start('claude_code.Bash');
    const options = { ...defaultHookOptions, readTranscript: false };
    const send = (event: Record<string, unknown>) =>
      handleClaudeCodeHook(JSON.stringify({ session_id: 's-2', ...event }), options, env);
    const answering = send({
      hook_event_name: 'PreToolUse',
      tool_name: 'Bash',
      tool_input: original,
      tool_use_id: 'tu-2',
    });
    const action = await approveWithEdit(t, approver, edited);
    await answering;
    const post = await send({
      hook_event_name: 'PostToolUse',
      tool_name: 'Bash',
      tool_input: original,
      tool_use_id: 'tu-2',
      tool_response: {},
    });
    const told = JSON.parse(post.stdout);
    expect(told.decision).toBe('block');
    expect(told.reason).toContain('not with the input an approver approved');
    await expect
      .poll(async () => (await t.server.store.actions.get(action.id))?.resultStatus)
      .toBe('failed');
    expect((await t.server.store.actions.get(action.id))?.resultError).toContain(
      'did not apply the hook',
    );
  });
});

describe('Codex hook: an approval with edit', () => {
  test('is refused (exit 2): Codex cannot run an edited call, and the original does not run', async () => {
    const { t, env, approver } = await start('codex.Bash');
    const answering = handleCodexHook(
      JSON.stringify({
        session_id: 'codex-1',
        turn_id: 'turn-1',
        hook_event_name: 'PreToolUse',
        tool_name: 'Bash',
        tool_input: { command: 'rm -rf build' },
        tool_use_id: 'call-1',
      }),
      defaultCodexHookOptions,
      env,
    );
    await approveWithEdit(t, approver, { command: 'rm -rf build/tmp' });
    const answer = await answering;
    expect(answer.exitCode).toBe(2);
    expect(answer.stderr).toContain('Codex cannot run an edited call');
    expect(answer.stderr).toContain('{"command":"rm -rf build/tmp"}');
  });
});
