// Runs the benchmarks and prints a table: each figure beside its baseline from the same run and
// the ratio between them. Writes the results as JSON to bench/results/.
//   node src/run.ts [--smoke] [--only name,name]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { benchmarks } from './benchmarks/index.ts';
import { skipSettling } from './processes.ts';
import type { BenchResult } from './types.ts';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
if (smoke) skipSettling();
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? new Set((args[onlyIndex + 1] ?? '').split(',')) : undefined;

const selected = benchmarks.filter((benchmark) => !only || only.has(benchmark.name));
if (selected.length === 0) {
  console.error(
    `No benchmark matches. Known: ${benchmarks.map((benchmark) => benchmark.name).join(', ')}`,
  );
  process.exit(2);
}

const machine = {
  node: process.version,
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  date: new Date().toISOString(),
  smoke,
};
console.log(`Arden benchmarks${smoke ? ' (smoke run: checks they work, times not judged)' : ''}`);
console.log(`${machine.node} on ${machine.cpus}, ${machine.memoryGiB} GiB\n`);

const results: BenchResult[] = [];
let failed = false;
for (const benchmark of selected) {
  console.log(`▶ ${benchmark.name}: ${benchmark.description}`);
  const started = performance.now();
  try {
    const result = await benchmark.run({ smoke, log: (message) => console.log(`  … ${message}`) });
    results.push(result);
    printResult(result);
  } catch (error) {
    failed = true;
    console.error(`  ✗ ${benchmark.name} failed:`, error);
  }
  console.log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}

mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
const file = new URL(`../results/${smoke ? 'smoke' : 'latest'}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify({ machine, results }, null, 2)}\n`);
console.log(`Results written to ${file.pathname}`);
process.exit(failed ? 1 : 0);

function printResult(result: BenchResult) {
  const rows = result.measurements.map((measurement) => [
    measurement.metric,
    `${format(measurement.value)} ${measurement.unit}`,
    measurement.baseline
      ? `${format(measurement.baseline.value)} ${measurement.unit} (${measurement.baseline.name})`
      : '',
    measurement.ratio === undefined ? '' : `${measurement.ratio}×`,
    measurement.goal
      ? `${measurement.goal}${smoke || measurement.met === undefined ? '' : measurement.met ? ' ✓' : ' ✗'}`
      : '',
  ]);
  const header = ['metric', 'value', 'baseline (same run)', 'ratio', 'goal'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `  ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')}`;
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  for (const note of result.notes ?? []) console.log(`  note: ${note}`);
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return String(Math.round(value * 1000) / 1000);
}
