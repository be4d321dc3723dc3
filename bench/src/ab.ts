import * as fresh from '@arden/policy';
import { realisticCalls, realisticPolicies } from './policy-set.ts';

// @ts-expect-error
const old = await import('/work/wt-policy/packages/policy/node_modules/.old/old.js');
const policies = realisticPolicies(50);
const inputs = realisticCalls(policies, 1000);
const engines = { old, new: fresh } as Record<string, typeof fresh>;
const sets = Object.fromEntries(
  Object.entries(engines).map(([k, e]) => [k, e.compilePolicies(policies)]),
);
const results: Record<string, number[][]> = { old: [], new: [] };
for (let round = 0; round < 10; round++) {
  for (const name of round % 2 ? ['old', 'new'] : ['new', 'old']) {
    const e = engines[name]!;
    const set = sets[name]!;
    const times: number[] = new Array(50000);
    for (let i = 0; i < 50000; i++) {
      const t = performance.now();
      e.evaluate(set, inputs[i % 1000]!, 'allow');
      times[i] = (performance.now() - t) * 1000;
    }
    times.sort((a, b) => a - b);
    results[name]!.push([times[25000]!, times[49500]!, times.reduce((a, b) => a + b) / 50000]);
  }
}
for (const name of ['old', 'new']) {
  const r = results[name]!.slice(2);
  const med = (i: number) =>
    r
      .map((x) => x[i]!)
      .sort((a, b) => a - b)
      [r.length >> 1]!.toFixed(3);
  console.log(name, 'p50', med(0), 'p99', med(1), 'mean', med(2), 'µs');
}
