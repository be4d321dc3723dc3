// Sums the vitest JSON reports of every package into one closing line, "N passed, N failed".
// Fails when a suite reported nothing or skipped a test: in CI every suite must run.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runsOnNode20 } from './test-node20.mjs';

const root = new URL('..', import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
const problems = [];
const failures = [];
const directories = ['packages', 'examples', 'tools'].flatMap((group) =>
  readdirSync(join(root, group)).map((name) => `${group}/${name}`),
);
directories.push('bench');
for (const name of directories) {
  const directory = join(root, name);
  const manifest = join(directory, 'package.json');
  if (!existsSync(manifest)) continue;
  const packageJson = JSON.parse(readFileSync(manifest, 'utf8'));
  if (!packageJson.scripts?.test) continue;
  // A package that claims Node 20 has a second report, of its run on Node 20 (test-node20.mjs).
  const reports = ['vitest.json'];
  if (runsOnNode20(name)) reports.push('vitest-node20.json');
  // Tests that ran in the package's Node 24 run: one of them skipped on Node 20 (it needs what
  // Node 20 lacks, such as the server in the test's own process) ran, and is named below.
  const ranOnNode24 = new Set();
  for (const file of reports) count(name, join(directory, 'test-results', file), ranOnNode24);
}

function count(name, report, ranOnNode24) {
  const label = report.endsWith('node20.json') ? `${name} (Node 20)` : name;
  if (!existsSync(report)) {
    problems.push(`${label}: no test report (did its suite run?)`);
    return;
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
      if (test.status === 'failed')
        failures.push(`${label}: ${file.name.replace(root, '')} > ${test.fullName}`);
    }
  }
  const node20 = report.endsWith('node20.json');
  if (!node20) for (const test of ran) ranOnNode24.add(test);
  for (const test of notRun) {
    if (node20 && !ran.has(test) && ranOnNode24.has(test)) {
      console.log(`${label}: ran on Node 24 only: "${test}"`);
      continue;
    }
    if (!ran.has(test)) {
      skipped++;
      problems.push(`${label}: skipped "${test}"`);
    }
  }
  if (result.numTotalTests === 0) problems.push(`${label}: ran no test`);
}
for (const problem of problems) console.error(problem);
// The failed tests are named last, next to the closing line, so the tail of a CI log says which.
for (const failure of failures) console.log(`failed: ${failure}`);
if (skipped > 0) console.error(`${skipped} test(s) were skipped: every suite must run.`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || skipped > 0 || problems.length > 0 ? 1 : 0);
