// Sums the vitest JSON reports of every package into one closing line, "N passed, N failed".
// Fails when a suite reported nothing or skipped a test: in CI every suite must run.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
const problems = [];
const directories = ['packages', 'examples', 'tools'].flatMap((group) =>
  readdirSync(join(root, group)).map((name) => `${group}/${name}`),
);
directories.push('bench');
for (const name of directories) {
  const directory = join(root, name);
  const manifest = join(directory, 'package.json');
  if (!existsSync(manifest)) continue;
  const scripts = JSON.parse(readFileSync(manifest, 'utf8')).scripts ?? {};
  if (!scripts.test) continue;
  const report = join(directory, 'test-results', 'vitest.json');
  if (!existsSync(report)) {
    problems.push(`${name}: no test report (did its suite run?)`);
    continue;
  }
  const result = JSON.parse(readFileSync(report, 'utf8'));
  passed += result.numPassedTests;
  failed += result.numFailedTests;
  // A test may be skipped in one project only when it ran in another (the server's suite runs
  // once per store: PostgreSQL-only tests skip on SQLite and run on PostgreSQL). A test that
  // ran nowhere counts as skipped, and fails the run.
  const ran = new Set();
  const notRun = [];
  for (const file of result.testResults) {
    for (const test of file.assertionResults) {
      if (test.status === 'passed' || test.status === 'failed') ran.add(test.fullName);
      else notRun.push(test.fullName);
    }
  }
  for (const name of notRun) {
    if (!ran.has(name)) {
      skipped++;
      problems.push(`${directory.slice(root.length)}: skipped "${name}"`);
    }
  }
  if (result.numTotalTests === 0) problems.push(`${name}: ran no test`);
}
for (const problem of problems) console.error(problem);
if (skipped > 0) console.error(`${skipped} test(s) were skipped: every suite must run.`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || skipped > 0 || problems.length > 0 ? 1 : 0);
