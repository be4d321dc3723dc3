import { describe, expect, it } from 'vitest';
import type { CliIo } from './io';
import { run } from './main';

async function arden(argv: string[]) {
  let stderr = '';
  const io: CliIo = {
    stdout: () => undefined,
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    cwd: process.cwd(),
  };
  const code = await run(argv, io);
  return { code, stderr };
}

describe('CLI error texts', () => {
  it('a store that cannot be opened: the cause’s sentence and the advice, one full stop each', async () => {
    // Nothing listens on port 1: PostgreSQL's "could not connect" message ends with a full stop.
    for (const command of [['migrate'], ['users', 'list']]) {
      const result = await arden([...command, '--db', 'postgres://nobody@127.0.0.1:1/arden']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /Check DATABASE_URL and that the server is running\. Check --data-dir \/ --db/,
      );
      expect(result.stderr).not.toMatch(/\.\./);
    }
  });
});
