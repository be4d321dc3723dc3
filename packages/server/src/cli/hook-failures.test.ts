import { describe, expect, it } from 'vitest';
import type { CliIo } from './io';
import { run } from './main';

// Claude Code and Codex run the tool when a hook fails in any way other than exit 2, so a hook
// that throws where nobody expected it must still block the call.
async function hook(agent: 'claude-code' | 'codex', readStdin: () => Promise<string>) {
  let stderr = '';
  const io: CliIo = {
    stdout: () => {},
    stderr: (text) => {
      stderr += text;
    },
    env: { ARDEN_API_KEY: `arden_test_${'0'.repeat(32)}`, ARDEN_API_URL: 'http://127.0.0.1:9' },
    cwd: process.cwd(),
    readStdin,
  };
  const code = await run(['hook', agent], io);
  return { code, stderr };
}

describe('arden hook: an unexpected failure blocks the call', () => {
  it.each(['claude-code', 'codex'] as const)(
    '%s: stdin that cannot be read (too large for a string) ends in exit 2',
    async (agent) => {
      const result = await hook(agent, async () => {
        throw new RangeError('Cannot create a string longer than 0x1fffffe8 characters');
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/did not run|Cannot create a string/);
    },
  );
});
