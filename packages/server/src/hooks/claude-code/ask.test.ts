import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../../test-fixtures/harness';
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
      action: 'requires_approval',
      approve_in: ['dashboard', 'app'],
    },
  ]);
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
  return { t, send };
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
});
