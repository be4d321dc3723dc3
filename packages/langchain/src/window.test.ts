import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

// Issue #12, item 4: every copy of @langchain/core a process loads (ESM or CJS build, the
// adapter's own or a second install, at once or later) is patched before its first tool call.
// Each case is a real process of the built package on Node 24 (this one) and Node 20 (the
// machine's, /usr/bin/node, or ARDEN_NODE20).
const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../test-fixtures/', import.meta.url));
const node20 = process.env.ARDEN_NODE20 ?? '/usr/bin/node';

const blocked =
  'Arden blocked this call to "drop_table" by policy: test decision: block. The tool did not run.';

async function window(node: string, args: string[]) {
  const { stdout } = await run(node, args, { cwd: fixtures, timeout: 60_000 });
  return JSON.parse(stdout);
}

const cases = [
  // [app, how the app loads the copy, when it calls the tool, which copy]
  ['window.cjs', 'esm', 'now', '@langchain/core'],
  ['window.cjs', 'esm', '250', '@langchain/core'],
  ['window.cjs', 'esm', 'now', 'langchain-core-oldest'],
  ['window.cjs', 'cjs', 'now', 'langchain-core-oldest'],
  ['window.mjs', 'cjs', 'now', '@langchain/core'],
  ['window.mjs', 'esm', 'now', 'langchain-core-oldest'],
  ['window.mjs', 'cjs', 'now', 'langchain-core-oldest'],
  // A second install imported statically in the adapter's own module graph: with --import.
  ['--import=@arden/langchain static.mjs', 'esm', 'now', 'langchain-core-oldest'],
] as const;

// This process's Node (24 in the main run) and Node 20; once when the suite itself runs on Node 20.
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

  test.concurrent.each(cases)(
    '%s loads %s, calls %s, copy %s',
    async (app, format, delay, copy) => {
      const seen = await window(node, [...app.split(' '), format, delay, copy]);
      expect(seen).toEqual({
        ran: [],
        checks: [
          ['drop_table', 'block'],
          ['drop_table', 'block'],
        ],
        direct: blocked,
        message: { type: 'ToolMessage', status: 'error', tool_call_id: 'c1' },
      });
    },
  );

  test('configure() warns only where the runtime has no module hooks', async () => {
    expect(await window(node, ['warnings.cjs'])).toEqual([]);
    const [warning] = await window(node, ['warnings.cjs', '--no-hooks']);
    expect(warning).toMatch(
      /no module hooks .* would run unchecked\. Wrap such tools with protectTools\(\)/,
    );
  });
});
