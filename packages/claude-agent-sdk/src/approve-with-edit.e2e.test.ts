import type { CanUseTool, HookCallback } from '@anthropic-ai/claude-agent-sdk';
import { createArden } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withArden } from './guard';

// Approve with edit against a real Arden server: the approver's input reaches the SDK as
// `updatedInput` (canUseTool and the PreToolUse hook), with a reason saying what changed.
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      {
        name: 'Risky shell is held',
        tool: 'claude_code.Bash',
        rules: [
          {
            if: "args.command in ['rm -rf build', 'git push --force', 'rm -rf dist']",
            then: 'requires_approval',
          },
        ],
        default: 'allow',
      },
    ],
  });
});
afterAll(async () => {
  await t.close();
});

const context = (toolUseID: string) =>
  ({
    signal: new AbortController().signal,
    suggestions: [],
    toolUseID,
  }) as unknown as Parameters<CanUseTool>[2];

describe('Claude Agent SDK: approve with edit', () => {
  it('canUseTool allows with the edited input', async () => {
    const arden = createArden({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent' });
    const options = withArden({}, { arden });
    const deciding = options.canUseTool('Bash', { command: 'rm -rf build' }, context('tu_1'));
    const held = await t.nextPending();
    await t.approve(held.id, 'only the tmp folder', { kwargs: { command: 'rm -rf build/tmp' } });
    expect(await deciding).toEqual({
      behavior: 'allow',
      updatedInput: { command: 'rm -rf build/tmp' },
    });
    await arden.shutdown();
  });

  it('a held call the SDK aborts stops waiting at once and is denied', async () => {
    const arden = createArden({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent' });
    const options = withArden({}, { arden });
    const controller = new AbortController();
    const started = Date.now();
    const deciding = options.canUseTool('Bash', { command: 'rm -rf dist' }, {
      ...context('tu_abort'),
      signal: controller.signal,
    } as Parameters<CanUseTool>[2]);
    const held = await t.nextPending(); // held: nobody decides
    controller.abort();
    expect(await deciding).toEqual({
      behavior: 'deny',
      message: 'The SDK aborted the call while it was held for approval.',
    });
    expect(Date.now() - started).toBeLessThan(30_000); // not the approval timeout
    await t.deny(held.id, 'tidy up');
    await arden.shutdown();
  });

  it('the PreToolUse hook answers allow with updatedInput and says what changed', async () => {
    const arden = createArden({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent' });
    const options = withArden({}, { arden });
    const hook = options.hooks.PreToolUse?.at(-1)?.hooks[0] as HookCallback;
    const answering = hook(
      {
        hook_event_name: 'PreToolUse',
        session_id: 's-1',
        transcript_path: '/tmp/x',
        cwd: '/tmp',
        tool_name: 'Bash',
        tool_input: { command: 'git push --force' },
        tool_use_id: 'tu_2',
      } as never,
      'tu_2',
      { signal: new AbortController().signal },
    );
    const held = await t.nextPending();
    await t.approve(held.id, undefined, {
      patch: [{ op: 'replace', path: '/command', value: 'git push' }],
    });
    const answer = (await answering) as { hookSpecificOutput: Record<string, unknown> };
    expect(answer.hookSpecificOutput).toMatchObject({
      permissionDecision: 'allow',
      updatedInput: { command: 'git push' },
    });
    expect(String(answer.hookSpecificOutput.permissionDecisionReason)).toContain('command');
    await arden.shutdown();
  });
});
