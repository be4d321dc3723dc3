import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../test-fixtures/', import.meta.url));

async function scenario(file: string) {
  const { stdout } = await run(process.execPath, [file], { cwd: fixtures, timeout: 60_000 });
  return JSON.parse(stdout);
}

const expected = {
  ran: ['search'],
  text: 'done',
  checks: [
    ['search', 'allow'],
    ['drop_table', 'block'],
  ],
  denial:
    'Arden blocked this call to "drop_table" by policy: test decision: block. The tool did not run.',
  usage: [
    ['fixture-model', 3, 2],
    ['fixture-model', 3, 2],
  ],
};

// These run the built package (dist), as an app installing it would.
describe('module formats of the published build', () => {
  test('a CommonJS app (require) is intercepted', async () => {
    expect(await scenario('consumer.cjs')).toEqual(expected);
  });

  test('a CommonJS app that imports ai after configure() is intercepted from its first call', async () => {
    expect(await scenario('window.cjs')).toEqual(expected);
  });

  test('an ES module app (import) is intercepted', async () => {
    expect(await scenario('consumer.mjs')).toEqual(expected);
  });

  test('both builds loaded in one process: checked and recorded once', async () => {
    expect(await scenario('mixed.mjs')).toEqual(expected);
  });
});
