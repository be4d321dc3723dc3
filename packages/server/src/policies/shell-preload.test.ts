import { compilePolicies, evaluate } from '@arden/policy';
import { expect, test } from 'vitest';
import { startTestServer } from '../test-fixtures/harness';

// Its own file: the shell parser is loaded once per process (per test file here), and this test
// needs a process in which nothing but the server's start-up has loaded it.
test('a listening server has the shell parser loaded: shell.commands decides from the first call', async () => {
  const t = await startTestServer({ workers: false });
  try {
    // Compiled and evaluated at once, with nothing awaited in between: without the parser
    // loaded at start-up, the condition errs ("still loading") and on_error blocks the call.
    const set = compilePolicies([
      {
        name: 'Shell',
        tool: 'bash',
        rules: [{ if: 'shell.commands(args.command).exists(c, c.name == "rm")', then: 'block' }],
        default: 'allow',
      },
    ]);
    const decide = (command: string) =>
      evaluate(set, { tool: 'bash', args: { command }, session: null }, 'block');
    expect(decide('ls -la | wc -l')).toMatchObject({ effect: 'allow', errors: [] });
    expect(decide('cd /tmp && rm -rf x')).toMatchObject({ effect: 'block', errors: [] });
  } finally {
    await t.close();
  }
});
