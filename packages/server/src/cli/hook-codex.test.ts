import { describe, expect, it } from 'vitest';
import type { CliIo } from './io';
import { run } from './main';

// `arden hook codex` runs on every Codex tool call. Codex runs the tool when a hook fails, so
// every problem must come out as exit 2 (block) with a reason on stderr.
async function hookCodex(stdin: string, env: Record<string, string | undefined>) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
    cwd: process.cwd(),
    readStdin: async () => stdin,
  };
  const code = await run(['hook', 'codex', '--max-wait', '5'], io);
  return { code, stdout, stderr };
}

const bash = JSON.stringify({
  hook_event_name: 'PreToolUse',
  session_id: 's-1',
  tool_name: 'Bash',
  tool_input: { command: 'ls' },
});

describe('arden hook codex', () => {
  it('blocks (exit 2) on input that is not a Codex hook event', async () => {
    const result = await hookCodex('not json', { ARDEN_API_KEY: 'arden_test_x' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not the JSON object Codex sends/);
  });

  it('blocks (exit 2) when Arden is unreachable', async () => {
    const result = await hookCodex(bash, {
      ARDEN_API_KEY: 'arden_test_0000000000000000',
      ARDEN_API_URL: 'http://127.0.0.1:9',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).not.toBe('');
  });

  it('lets events other than PreToolUse through untouched', async () => {
    const result = await hookCodex(JSON.stringify({ hook_event_name: 'SessionStart' }), {});
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});
