import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../../test-fixtures/harness';
import { codexToolName, defaultCodexHookOptions, handleCodexHook, patchPaths } from './hook';

let t: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startTestServer({ workers: false });
  env = { ARDEN_API_KEY: t.liveKey, ARDEN_API_URL: t.url };
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Codex shell',
      tool: '*.Bash',
      rules: [
        {
          if: 'shell.commands(args.command).exists(c, c.name == "git" && "--force" in c.args)',
          then: 'block',
        },
      ],
      default: 'allow',
    },
    {
      name: 'Codex patches',
      tool: 'codex.apply_patch',
      rules: [{ if: 'args.paths.exists(p, path.matches(p, "**/.env"))', then: 'block' }],
      default: 'allow',
    },
    { name: 'MCP', tool: 'mcp.*', action: 'requires_approval', timeout: 60 },
  ]);
});

afterAll(async () => {
  await t.close();
});

const event = (tool_name: string, tool_input: unknown) =>
  JSON.stringify({
    session_id: 'codex-session-1',
    turn_id: 'turn-1',
    transcript_path: null,
    cwd: '/work/repo',
    hook_event_name: 'PreToolUse',
    model: 'gpt-5',
    permission_mode: 'default',
    tool_name,
    tool_input,
    tool_use_id: 'call-1',
  });

/** Approves or denies the newest pending action once it appears. */
async function decideWhenHeld(decision: 'approve' | 'deny'): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const page = await t.server.store.actions.list(
      { agentId: t.agent.id, environment: 'live', status: 'pending' },
      { limit: 1 },
    );
    const held = page.items[0];
    if (held) {
      await t.server.approvals.decide(held.id, { decision, userId: 'alice' });
      return held.toolName;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no call was held');
}

describe('arden hook codex (handleCodexHook)', () => {
  test('refuses an MCP tool whose server name Arden cannot use (exit 2, before any check)', async () => {
    const answer = await handleCodexHook(
      JSON.stringify({
        hook_event_name: 'PreToolUse',
        tool_name: 'mcp__my.server__delete_file',
        tool_input: { path: 'a' },
      }),
      defaultCodexHookOptions,
      {
        ARDEN_API_KEY: 'arden_test_00000000000000000000000000000000',
        ARDEN_URL: 'http://127.0.0.1:9',
      },
    );
    expect(answer.exitCode).toBe(2);
    expect(answer.stderr).toMatch(/cannot check this MCP tool.*"my\.server".*config\.toml/s);
  });

  test('names Codex tools as Arden checks them', () => {
    expect(codexToolName('Bash')).toBe('codex.Bash');
    expect(codexToolName('apply_patch')).toBe('codex.apply_patch');
    expect(codexToolName('mcp__github__delete_file')).toBe('mcp.github.delete_file');
    // A server name Arden cannot use is refused, not checked under another name that would
    // miss the mcp.* policies meant for it.
    expect(() => codexToolName('mcp__my.server__x')).toThrow(/not usable in Arden tool names/);
    expect(
      patchPaths(
        '*** Begin Patch\n*** Add File: app/.env\n+X=1\n*** Update File: src/a.ts\n*** Move to: src/b.ts\n*** End Patch',
      ),
    ).toEqual(['app/.env', 'src/a.ts', 'src/b.ts']);
  });

  test('lets an allowed call run (exit 0, nothing printed) and blocks with exit 2 and the reason', async () => {
    const allowed = await handleCodexHook(
      event('Bash', { command: 'git status && ls' }),
      defaultCodexHookOptions,
      env,
    );
    expect(allowed).toEqual({ stderr: '', exitCode: 0 });
    const blocked = await handleCodexHook(
      event('Bash', { command: "bash -lc 'git push --force origin main'" }),
      defaultCodexHookOptions,
      env,
    );
    expect(blocked.exitCode).toBe(2);
    expect(blocked.stderr).toMatch(/codex\.Bash/);
    expect(blocked.stderr.trim().length).toBeGreaterThan(0);
    const recorded = await t.server.store.actions.list(
      { agentId: t.agent.id, environment: 'live' },
      { limit: 1 },
    );
    expect(recorded.items[0]).toMatchObject({ toolName: 'codex.Bash', decision: 'block' });
    expect(recorded.items[0]?.metadata).toMatchObject({
      source: 'codex',
      session_id: 'codex-session-1',
    });
  });

  test('checks the files of an apply_patch', async () => {
    const patch = '*** Begin Patch\n*** Add File: config/.env\n+TOKEN=x\n*** End Patch';
    const answer = await handleCodexHook(
      event('apply_patch', { command: patch }),
      defaultCodexHookOptions,
      env,
    );
    expect(answer.exitCode).toBe(2);
    const fine = await handleCodexHook(
      event('apply_patch', { command: patch.replace('config/.env', 'src/new.ts') }),
      defaultCodexHookOptions,
      env,
    );
    expect(fine.exitCode).toBe(0);
  });

  test('waits for an approver on a held MCP call: approved runs, denied does not', async () => {
    const approved = handleCodexHook(
      event('mcp__github__delete_file', { path: 'README.md' }),
      defaultCodexHookOptions,
      env,
    );
    expect(await decideWhenHeld('approve')).toBe('mcp.github.delete_file');
    expect(await approved).toEqual({ stderr: '', exitCode: 0 });

    const denied = handleCodexHook(
      event('mcp__github__delete_file', { path: 'LICENSE' }),
      defaultCodexHookOptions,
      env,
    );
    await decideWhenHeld('deny');
    const answer = await denied;
    expect(answer.exitCode).toBe(2);
    expect(answer.stderr).toMatch(/mcp\.github\.delete_file/);
  });

  test("a decision the client does not know is refused, even with onUnavailable: 'allow'", async () => {
    // A server that is up and answers, but with a decision this client does not know: not
    // "unreachable", so onUnavailable: 'allow' does not let the command through.
    const odd = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"decision": "maybe", "action_id": "act_1"}');
    });
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = odd.address() as { port: number };
      const answer = await handleCodexHook(
        event('Bash', { command: 'ls' }),
        { ...defaultCodexHookOptions, onUnavailable: 'allow' },
        { ARDEN_API_KEY: t.liveKey, ARDEN_API_URL: `http://127.0.0.1:${port}` },
      );
      expect(answer.exitCode).toBe(2);
      expect(answer.stderr).toMatch(/"maybe"/);
    } finally {
      await new Promise((resolve) => odd.close(resolve));
    }
  });

  test('fails closed: Arden unreachable, no key, or unreadable input is exit 2', async () => {
    const unreachable = { ARDEN_API_KEY: t.liveKey, ARDEN_API_URL: 'http://127.0.0.1:9' };
    const down = await handleCodexHook(
      event('Bash', { command: 'ls' }),
      defaultCodexHookOptions,
      unreachable,
    );
    expect(down.exitCode).toBe(2);
    expect(down.stderr).toMatch(/did not run/);
    const opted = await handleCodexHook(
      event('Bash', { command: 'ls' }),
      { ...defaultCodexHookOptions, onUnavailable: 'allow' },
      unreachable,
    );
    expect(opted.exitCode).toBe(0);
    expect(
      (await handleCodexHook(event('Bash', { command: 'ls' }), defaultCodexHookOptions, {}))
        .exitCode,
    ).toBe(2);
    expect((await handleCodexHook('not json', defaultCodexHookOptions, env)).exitCode).toBe(2);
    expect(
      await handleCodexHook(
        JSON.stringify({ hook_event_name: 'Stop' }),
        defaultCodexHookOptions,
        env,
      ),
    ).toEqual({ stderr: '', exitCode: 0 });
  });
});
