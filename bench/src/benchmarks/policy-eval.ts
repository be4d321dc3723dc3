import { compilePolicies, evaluate } from '@arden/policy';
import { realisticCalls, realisticPolicies } from '../policy-set.ts';
import { summarize } from '../stats.ts';
import { type Benchmark, type Measurement, ratio } from '../types.ts';

/**
 * In-process policy decisions for 1, 50 and 500 policies with CEL rules. Baseline: a
 * hand-written JavaScript function that makes the same decisions for the 50-policy set (a Map
 * lookup and the same comparisons) — the least work any engine could do.
 */
export const policyEval: Benchmark = {
  name: 'policy-eval',
  description: 'Policy decisions per second in process (1, 50, 500 policies, CEL rules)',
  async run({ smoke }) {
    const calls = smoke ? 2_000 : 200_000;
    const measurements: Measurement[] = [];
    const handWritten = baselineFor(realisticPolicies(50));
    const baselineCalls = realisticCalls(realisticPolicies(50), 1000);
    const baselineTimes = timePerCall(calls, (index) => handWritten(baselineCalls[index % 1000]!));
    const baseline = summarize(baselineTimes);
    for (const size of [1, 50, 500]) {
      const policies = realisticPolicies(size);
      const set = compilePolicies(policies);
      const inputs = realisticCalls(policies, 1000);
      timePerCall(Math.min(calls, 20_000), (index) =>
        evaluate(set, inputs[index % 1000]!, 'allow'),
      );
      const times = summarize(
        timePerCall(calls, (index) => evaluate(set, inputs[index % 1000]!, 'allow')),
      );
      const perSecond = Math.round(1_000_000 / times.mean);
      measurements.push(
        {
          metric: `${size} policies: p99 per decision`,
          value: round(times.p99),
          unit: 'µs',
          baseline: { name: 'hand-written JS, 50 policies', value: round(baseline.p99) },
          ratio: ratio(times.p99, baseline.p99),
          ...(size === 50 ? { goal: 'p99 ≤ 50 µs', met: times.p99 <= 50 } : {}),
        },
        {
          metric: `${size} policies: decisions per second (one core)`,
          value: perSecond,
          unit: '/s',
          baseline: {
            name: 'hand-written JS, 50 policies',
            value: Math.round(1_000_000 / baseline.mean),
          },
          ratio: ratio(perSecond, 1_000_000 / baseline.mean),
        },
      );
    }
    return { name: 'policy-eval', measurements, notes: [`${calls} decisions per size`] };
  },
};

/** Microseconds each call of `fn` takes. */
function timePerCall(count: number, fn: (index: number) => unknown): number[] {
  const times = new Array<number>(count);
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    fn(index);
    times[index] = (performance.now() - started) * 1000;
  }
  return times;
}

type Call = ReturnType<typeof realisticCalls>[number];

function baselineFor(policies: ReturnType<typeof realisticPolicies>) {
  const exact = new Map(
    policies.filter((policy) => !policy.tool.includes('*')).map((policy) => [policy.tool, policy]),
  );
  const prefixes = policies
    .filter((policy) => policy.tool.endsWith('.*'))
    .map((policy) => [policy.tool.slice(0, -1), policy] as const);
  return (call: Call) => {
    const policy =
      exact.get(call.tool) ?? prefixes.find(([prefix]) => call.tool.startsWith(prefix))?.[1];
    if (!policy) return 'allow';
    const { args } = call;
    if (policy.tool.endsWith('issue_refund'))
      return args.amount <= 50 ? 'allow' : args.amount > 10000 ? 'block' : 'requires_approval';
    if (policy.tool.endsWith('.*'))
      return args.to.endsWith('@example.com') ? 'allow' : 'requires_approval';
    if (policy.tool.endsWith('delete_rows'))
      return ['users', 'payments'].includes(args.table)
        ? 'block'
        : args.limit <= 100
          ? 'allow'
          : 'requires_approval';
    return 'allow';
  };
}

const round = (value: number) => Math.round(value * 100) / 100;
