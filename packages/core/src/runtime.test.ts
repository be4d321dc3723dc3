import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../test-fixtures/runtime-smoke.mjs', import.meta.url));
// The machine's own Node 20 (the oldest we support) beside the Node 24 that runs the tests.
const node20 = ['/usr/bin/node', '/usr/local/bin/node'].find(
  (candidate) =>
    existsSync(candidate) &&
    execFileSync(candidate, ['-p', 'process.versions.node.split(".")[0]']).toString().trim() ===
      '20',
);

const expected = {
  allowed: 'customer 7',
  blocked: { denied: true, reason: 'blocked', message: true },
  approved: 'refunded 10',
  verified: true,
  session: 's-1',
  usage: 1,
};

function run(node: string, format: 'esm' | 'cjs') {
  return JSON.parse(execFileSync(node, [script, format], { encoding: 'utf8' }).trim());
}

describe('the built package on each runtime', () => {
  it.each(['esm', 'cjs'] as const)('works on this Node (%s)', (format) => {
    expect(run(process.execPath, format)).toMatchObject({ ...expected, format });
  });

  it('finds a Node 20 to test with', () => {
    // Not a skip: on a machine without Node 20 this fails and says so.
    expect(node20, 'Node 20 (the oldest supported) should be at /usr/bin/node').toBeDefined();
  });

  it.each(['esm', 'cjs'] as const)('works on Node 20 (%s)', (format) => {
    if (!node20) throw new Error('Node 20 not found');
    const result = run(node20, format);
    expect(result.node.startsWith('20.')).toBe(true);
    expect(result).toMatchObject({ ...expected, format });
  });
});
