import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

// Issue #12, item 4, for the OpenAI Agents SDK: a CommonJS app that imports the SDK's ESM build
// (or an ES module app that requires its CJS build) after configure() is intercepted at once.
// Each case is a real process of the built package, on this Node and on Node 20.
const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../test-fixtures/', import.meta.url));
const node20 = process.env.ARDEN_NODE20 ?? '/usr/bin/node';
const runtimes = process.version.startsWith('v20.')
  ? [['Node 20', process.execPath]]
  : [
      [`Node ${process.version}`, process.execPath],
      ['Node 20', node20],
    ];

describe.each(runtimes)('no interception window on %s', (runtime, node) => {
  test('the Node binary is there', async () => {
    expect(existsSync(node), `${node} is missing: set ARDEN_NODE20 to a Node 20 binary`).toBe(true);
    const { stdout } = await run(node, ['--version']);
    expect(stdout).toMatch(runtime === 'Node 20' ? /^v20\./ : /^v2[4-9]\./);
  });

  test.concurrent.each([
    ['window.cjs', 'esm'],
    ['window.cjs', 'cjs'],
    ['window.mjs', 'esm'],
    ['window.mjs', 'cjs'],
  ])('%s loads the %s build of the SDK', async (app, format) => {
    const { stdout } = await run(node, [app, format], {
      cwd: fixtures,
      timeout: 60_000,
      env: { ...process.env, OPENAI_AGENTS_DISABLE_TRACING: '1' },
    });
    expect(JSON.parse(stdout)).toEqual({
      ran: [],
      checks: [['delete_account', 'block']],
      finalOutput:
        'done: delete_account=Arden blocked this call to "delete_account" by policy: test decision: block. The tool did not run.',
    });
  });
});
