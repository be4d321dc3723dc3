import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../../test-fixtures/harness';
import { UserAdministration } from '../../users/service';
import { defaultHookOptions, handleClaudeCodeHook } from './hook';

// `arden hook claude-code --on-held ask`: Claude Code asks the developer; what they decide is
// recorded in Arden as an in-app decision (the tool ran: approved; the turn ended without it:
// declined), against a real server.

const servers: TestServer[] = [];
const directories: string[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

async function start() {
  const t = await startTestServer({ workers: false });
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Pushes are asked',
      tool: 'claude_code.Bash',
      // An edited call (a dry run) is allowed: one that still needed approval would wait.
      rules: [{ if: 'args.command == "git push"', then: 'requires_approval' }],
      default: 'allow',
      approve_in: ['dashboard', 'app'],
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
  const state = mkdtempSync(join(tmpdir(), 'arden-hook-state-'));
  directories.push(state);
  const env = {
    ARDEN_API_KEY: t.liveKey,
    ARDEN_API_URL: t.url,
    ARDEN_HOOK_STATE_DIR: state,
    ARDEN_USER: 'dev@example.com',
  };
  const options = { ...defaultHookOptions, onHeld: 'ask' as const, readTranscript: false };
  const send = (event: Record<string, unknown>) =>
    handleClaudeCodeHook(JSON.stringify({ session_id: 's-1', ...event }), options, env);
  return { t, send, approver: user.id };
}

async function heldAction(t: TestServer) {
  const [action] = await t.server.store.actions.list({}).then((page) => page.items);
  if (!action) throw new Error('no action');
  return action;
}

const pre = (id: string) => ({
  hook_event_name: 'PreToolUse',
  tool_name: 'Bash',
  tool_input: { command: 'git push' },
  tool_use_id: id,
});

describe('arden hook claude-code --on-held ask', () => {
  test('asks; the call then ran: recorded as approved in the app by the developer', async () => {
    const { t, send } = await start();
    const answer = await send(pre('tu-1'));
    expect(JSON.parse(answer.stdout).hookSpecificOutput.permissionDecision).toBe('ask');
    // The developer at the prompt learns that an approver in Arden may decide first.
    expect(JSON.parse(answer.stdout).hookSpecificOutput.permissionDecisionReason).toContain(
      'if one decides first, that decision stands',
    );
    await send({ hook_event_name: 'PostToolUse', tool_use_id: 'tu-1', tool_response: {} });
    const [action] = await t.server.store.actions.list({}).then((page) => page.items);
    expect(action?.status).toBe('approved');
    expect(action?.approval).toMatchObject({ decidedIn: 'app', decidedByUser: 'dev@example.com' });
    expect(action?.resultStatus).toBe('succeeded');
  });

  test('asks; the turn ended without the call: recorded as denied in the app', async () => {
    const { t, send } = await start();
    await send(pre('tu-2'));
    await send({ hook_event_name: 'Stop' });
    const [action] = await t.server.store.actions.list({}).then((page) => page.items);
    expect(action?.status).toBe('denied');
    expect(action?.approval).toMatchObject({ decidedIn: 'app', decidedByUser: 'dev@example.com' });
  });

  // While Claude Code's prompt is open an approver in Arden decides first; the developer then
  // approves the prompt and Claude Code runs the model's input (it cannot withdraw its prompt).
  test('an approver denied it while the prompt was open: the run is recorded as against the decision, and Claude is told', async () => {
    const { t, send, approver } = await start();
    await send(pre('tu-3'));
    const held = await heldAction(t);
    await t.server.approvals.decide(held.id, {
      decision: 'deny',
      userId: approver,
      notes: 'Not on Friday',
    });
    const answer = await send({
      hook_event_name: 'PostToolUse',
      tool_name: 'Bash',
      tool_input: { command: 'git push' },
      tool_use_id: 'tu-3',
      tool_response: {},
    });
    const output = JSON.parse(answer.stdout);
    expect(output.decision).toBe('block');
    expect(output.reason).toContain(
      `Arden denied this call to "claude_code.Bash" (action ${held.id}): Not on Friday.`,
    );
    expect(output.reason).toContain('the call ran against it');
    expect(output.systemMessage).toContain('ran against it');
    const action = await heldAction(t);
    // The approver's decision stands (the developer's approval was refused) ...
    expect(action.status).toBe('denied');
    expect(action.approval).not.toMatchObject({ decidedIn: 'app' });
    // ... and the run is in the log, as failed, saying it went against the decision.
    expect(action.resultStatus).toBe('failed');
    expect(action.resultError).toContain("Ran against an approver's decision");
    expect(action.resultError).toContain('The tool itself succeeded.');
  });

  test('an approver approved it only with an edit while the prompt was open: the original input ran, recorded as failed, and Claude is told', async () => {
    const { t, send, approver } = await start();
    await send(pre('tu-4'));
    const held = await heldAction(t);
    await t.server.approvals.decide(held.id, {
      decision: 'approve',
      userId: approver,
      kwargs: { command: 'git push --dry-run' },
    });
    const answer = await send({
      hook_event_name: 'PostToolUse',
      tool_name: 'Bash',
      tool_input: { command: 'git push' },
      tool_use_id: 'tu-4',
      tool_response: {},
    });
    const output = JSON.parse(answer.stdout);
    expect(output.decision).toBe('block');
    expect(output.reason).toContain(
      `An approver in Arden approved this call to "claude_code.Bash" only with changed input (action ${held.id}): {"command":"git push --dry-run"}.`,
    );
    expect(output.reason).toContain(
      'so the call ran with {"command":"git push"}, which nobody in Arden approved.',
    );
    const action = await heldAction(t);
    expect(action.status).toBe('approved');
    expect(action.resultStatus).toBe('failed');
    expect(action.resultError).toContain('only with changed input');
  });

  test('denied first, and the tool then failed (PostToolUseFailure): recorded against the decision, Claude is told', async () => {
    const { t, send, approver } = await start();
    await send(pre('tu-6'));
    const held = await heldAction(t);
    await t.server.approvals.decide(held.id, { decision: 'deny', userId: approver });
    const answer = await send({
      hook_event_name: 'PostToolUseFailure',
      tool_name: 'Bash',
      tool_input: { command: 'git push' },
      tool_use_id: 'tu-6',
      error: 'exit 1: rejected',
    });
    const output = JSON.parse(answer.stdout);
    expect(output.hookSpecificOutput).toMatchObject({ hookEventName: 'PostToolUseFailure' });
    expect(output.hookSpecificOutput.additionalContext).toContain(
      `Arden denied this call to "claude_code.Bash" (action ${held.id}).`,
    );
    const action = await heldAction(t);
    expect(action).toMatchObject({ status: 'denied', resultStatus: 'failed' });
    expect(action.resultError).toContain('The tool itself failed (exit 1: rejected).');
  });

  test('an approver approved it as it was while the prompt was open: the run agrees, nothing to flag', async () => {
    const { t, send, approver } = await start();
    await send(pre('tu-5'));
    const held = await heldAction(t);
    await t.server.approvals.decide(held.id, { decision: 'approve', userId: approver });
    const answer = await send({
      hook_event_name: 'PostToolUse',
      tool_name: 'Bash',
      tool_input: { command: 'git push' },
      tool_use_id: 'tu-5',
      tool_response: {},
    });
    expect(answer.stdout).toBe('');
    const action = await heldAction(t);
    expect(action.status).toBe('approved');
    expect(action.resultStatus).toBe('succeeded');
  });
});
