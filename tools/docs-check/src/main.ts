// Checks the code blocks of the documentation: `node src/main.ts` (run by this package's
// `typecheck`, so by `turbo run typecheck` and scripts/test.sh). Exits 1 on any problem.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkBlocks, formatProblem } from './check.ts';
import { type CodeBlock, extractBlocks } from './extract.ts';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(packageRoot, '..', '..');

/** The documentation whose blocks are checked: docs/, the root README and the packages' READMEs. */
export function documentationFiles(repositoryRoot: string): string[] {
  const files = ['README.md'];
  for (const entry of readdirSync(join(repositoryRoot, 'docs'), { recursive: true })) {
    if (String(entry).endsWith('.md')) files.push(join('docs', String(entry)));
  }
  for (const name of readdirSync(join(repositoryRoot, 'packages'))) {
    const readme = join('packages', name, 'README.md');
    if (existsSync(join(repositoryRoot, readme))) files.push(readme);
  }
  return files.sort();
}

const blocks: CodeBlock[] = [];
let markerProblems = 0;
for (const file of documentationFiles(root)) {
  const found = extractBlocks(readFileSync(join(root, file), 'utf8'), file);
  blocks.push(...found.blocks);
  for (const problem of found.problems) {
    markerProblems++;
    process.stderr.write(`${problem.file}:${problem.line}:1 - ${problem.message}\n`);
  }
}
const report = await checkBlocks(blocks, {
  root,
  workDirectory: join(packageRoot, '.generated'),
  preludeDirectory: join(packageRoot, 'preludes'),
});
for (const problem of report.problems) process.stderr.write(`${formatProblem(problem)}\n`);
const failed = report.problems.length + markerProblems;
process.stdout.write(
  `docs-check: ${report.checked} blocks checked (${report.ran} run), ${report.skipped} skipped, ${failed === 0 ? 'no problems' : `${failed} problems`} (${relative(process.cwd(), root) || '.'}).\n`,
);
process.exitCode = failed === 0 ? 0 : 1;
