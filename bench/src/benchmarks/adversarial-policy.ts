import { compilePolicies, evaluate, type PolicyDefinition, parseExactJson } from '@arden/policy';
import { defaultCheckBodyLimit } from '@arden/server';
import { type Benchmark, type Measurement, ratio } from '../types.ts';

/**
 * The server's default limit for one check (`ARDEN_CHECK_BODY_LIMIT`, 256 KiB): every shape
 * below is as large as one check may be.
 */
export const BODY_LIMIT = defaultCheckBodyLimit;

/** What the arguments may fill: the limit less room for the rest of the check's body. */
const ROOM = BODY_LIMIT - 1024;

export interface Shape {
  name: string;
  policy: PolicyDefinition;
  /** The call's arguments, as JSON of about ROOM bytes. */
  args: () => Record<string, unknown>;
}

/** A list of `make(i)` as long as fits in `bytes` of JSON. */
export function fill<T>(bytes: number, make: (index: number) => T): T[] {
  const one = JSON.stringify(make(123_456)).length + 1;
  return Array.from({ length: Math.floor(bytes / one) }, (_, index) => make(index));
}

const guard = (condition: string, extra: Partial<PolicyDefinition> = {}): PolicyDefinition => ({
  name: 'Guard',
  tool: 't',
  rules: [{ if: condition, then: 'allow' }],
  default: 'block',
  ...extra,
});

// The worst shapes known, each filling the body limit (issue #12's reproductions first).
export const shapes: Shape[] = [
  {
    name: 'map(x, l + l) over a list',
    policy: guard('args.l.map(x, args.l + args.l).size() == 0'),
    args: () => ({ l: fill(ROOM, () => 1) }),
  },
  {
    name: 'map(x, l + l), 60 KB list',
    policy: guard('args.l.map(x, args.l + args.l).size() == 0'),
    args: () => ({ l: fill(60_000, () => 1) }),
  },
  {
    name: 'all(i, i in allowed)',
    policy: guard('args.items.all(i, i in args.allowed)'),
    args: () => {
      const items = fill(ROOM / 2, (index) => `item-${index}`);
      return { items, allowed: [...items].reverse() };
    },
  },
  {
    name: '300-term list concatenation',
    policy: guard(`size(${Array.from({ length: 300 }, () => 'args.l').join(' + ')}) > 0`),
    args: () => ({ l: fill(ROOM, () => 1) }),
  },
  {
    name: 'exists over integers (an error per element)',
    policy: guard('args.to.exists(r, !r.endsWith("@corp.com"))'),
    args: () => ({ to: fill(ROOM, (index) => index) }),
  },
  {
    name: 'all(x, x.size() > 3) over short strings',
    policy: guard('args.items.all(x, x.size() > 3)'),
    args: () => ({ items: fill(ROOM, () => 'abcd') }),
  },
  {
    name: 'nested exists (n²)',
    policy: guard('args.a.exists(x, args.a.exists(y, x == y + 1000000))'),
    args: () => ({ a: fill(ROOM, (index) => index) }),
  },
  {
    name: 'join of a repeated string',
    policy: guard('args.items.map(x, args.s).join().size() > 3'),
    args: () => ({ items: fill(ROOM / 2, () => 1), s: 'x'.repeat(ROOM / 2 - 20) }),
  },
  {
    name: 'deep == of two lists of lists',
    policy: guard('args.items.all(x, args.a == args.b)'),
    args: () => {
      const a = fill(ROOM / 2 - 1000, (index) => [index % 10]);
      return { items: fill(1000, () => 1), a, b: a.map((element) => [...element]) };
    },
  },
  {
    name: 'a macro over a map inside a macro',
    policy: guard('args.l.all(x, args.m.exists(k, true))'),
    args: () => ({
      l: fill(ROOM / 4, () => 1),
      m: Object.fromEntries(fill(ROOM * 0.7, (index) => [`k${index}`, 1])),
    }),
  },
  // The security review of issue #12's work (findings 1–3): built-ins doing uncharged or
  // super-linear work, a clock the charges stepped over, the library's type cache.
  {
    name: 'duration() of 4000-digit strings',
    policy: guard('args.l.exists(d, duration(d) > duration("1h"))'),
    args: () => ({ l: fill(ROOM, () => '1'.repeat(4000)) }),
  },
  {
    name: 'lastIndexOf of a long search string',
    policy: guard('args.a.lastIndexOf(args.b) >= 0'),
    args: () => ({ a: 'a'.repeat(ROOM / 2), b: `${'a'.repeat(ROOM / 4)}b` }),
  },
  {
    name: 'a time zone per element',
    policy: guard('args.l.exists(t, now.getHours(t) == 99)'),
    // Sized by the shorter name (index 123 456 is even): 0.9 leaves room for the longer one.
    args: () => ({
      l: fill(ROOM * 0.9, (index) => (index % 2 ? 'Europe/Paris' : 'Asia/Tokyo')),
    }),
  },
  {
    name: 'startsWith per element (charges stepping over the clock)',
    policy: guard('args.l.exists(t, t.startsWith("x"))'),
    args: () => ({ l: fill(ROOM, () => 'Europe/Paris') }),
  },
  {
    name: '== on elements nested 22 deep, each differently',
    policy: guard('args.to.exists(r, r == "evil@x.com")'),
    args: () => ({
      // Elements differ in size (`[…]` or `{"k": …}` per level): 0.95 keeps the body in the limit.
      to: fill(ROOM * 0.95, (index) => {
        let value: unknown = 1;
        for (let level = 0; level < 22; level++) {
          value = (index >> level) & 1 ? [value] : { k: value };
        }
        return value;
      }),
    }),
  },
  {
    name: '{} != a large map, in a loop',
    policy: guard('args.l.all(x, {} != args.m)'),
    args: () => ({
      l: fill(ROOM / 4, () => 1),
      m: Object.fromEntries(fill(ROOM * 0.7, (index) => [`k${index}`, 1])),
    }),
  },
  {
    name: '100 rules sharing one budget',
    policy: {
      name: 'Guard',
      tool: 't',
      rules: Array.from({ length: 100 }, (_, index) => ({
        if: `args.l.exists(x, x == ${-1 - index})`,
        then: 'allow' as const,
      })),
      default: 'block',
    },
    args: () => ({ l: fill(ROOM, (index) => index % 1000) }),
  },
];

/**
 * The worst known policy shapes at the body limit (issue #12): p100 of one decision, which is how
 * long one check can hold the event loop. The arguments are parsed as the server parses them
 * (`parseExactJson`: integers as `bigint`, large maps with their keys recorded), so the engine
 * sees what it sees in production. Baseline: that parse of the same body — work the server does
 * for such a check anyway. Goal: every decision ≤ 10 ms.
 */
export const adversarialPolicy: Benchmark = {
  name: 'adversarial-policy',
  description: 'Worst-case policy evaluation at the body limit (p100 per decision)',
  async run({ smoke, log }) {
    const rounds = smoke ? 3 : 30;
    const measurements: Measurement[] = [];
    let worst = 0;
    let worstMedian = 0;
    let worstCpu = 0;
    // The whole check's work on one body: the server's parse, then the decision.
    let worstWhole = 0;
    let worstParse = 0;
    for (const shape of shapes) {
      const set = compilePolicies([shape.policy]);
      const args = shape.args();
      // A server that has run before: the evaluator's code is compiled (small inputs warm it).
      for (let warm = 0; warm < 20; warm++) evaluate(set, { tool: 't', args: {} });
      const body = JSON.stringify({ tool_name: 't', kwargs: args });
      const parse: number[] = [];
      const decide: number[] = [];
      let reason = '';
      let shapeCpu = 0;
      let totalCpu = 0;
      for (let round = 0; round < rounds; round++) {
        let started = performance.now();
        // A fresh copy each round, as the server parses each request: nothing cached from the
        // last round (such as a map's listed keys) makes a decision look cheaper than it is.
        const request = parseExactJson(body) as { kwargs: Record<string, unknown> };
        parse.push(performance.now() - started);
        // Collect the benchmark's own garbage (the parsed bodies) outside the timed decision.
        globalThis.gc?.();
        const cpuStarted = threadCpu();
        started = performance.now();
        const decision = evaluate(set, { tool: 't', args: request.kwargs });
        decide.push(performance.now() - started);
        worstWhole = Math.max(worstWhole, (parse.at(-1) ?? 0) + (decide.at(-1) ?? 0));
        const cpu = threadCpu() - cpuStarted;
        shapeCpu = Math.max(shapeCpu, cpu);
        totalCpu += cpu;
        worstCpu = Math.max(worstCpu, cpu);
        reason = `${decision.effect}, ${decision.reason}`;
      }
      const p100 = Math.max(...decide);
      worstMedian = Math.max(
        worstMedian,
        decide.sort((left, right) => left - right)[rounds >> 1] ?? 0,
      );
      const baseline = Math.max(...parse);
      worstParse = Math.max(worstParse, baseline);
      worst = Math.max(worst, p100);
      log(
        // The CPU clock advances in scheduler ticks (up to 4 ms on Linux): one decision's reading
        // may be a tick off either way, the mean over the rounds is exact.
        `${shape.name}: ${(body.length / 1024).toFixed(0)} KiB, decided ${reason}; CPU time p100 ${round(shapeCpu)} ms, mean ${round(totalCpu / rounds)} ms; wall p50 ${round(decide.toSorted((left, right) => left - right)[rounds >> 1] ?? 0)} ms`,
      );
      measurements.push({
        metric: `${shape.name}: p100 per decision`,
        value: round(p100),
        unit: 'ms',
        baseline: { name: 'parseExactJson of the same body', value: round(baseline) },
        ratio: ratio(p100, baseline),
        goal: '≤ 10 ms',
        met: p100 <= 10,
      });
    }
    measurements.push({
      metric: 'worst shape: p100 per decision',
      value: round(worst),
      unit: 'ms',
      goal: '≤ 10 ms',
      met: worst <= 10,
    });
    measurements.push({
      metric: "worst shape: p100 of the thread's CPU time per decision (other processes left out)",
      value: round(worstCpu),
      unit: 'ms',
    });
    measurements.push({
      metric: "worst shape: p100 of the server's parse and the decision, one after the other",
      value: round(worstWhole),
      unit: 'ms',
      baseline: { name: 'parseExactJson of the same body, p100', value: round(worstParse) },
      ratio: ratio(worstWhole, worstParse),
    });
    measurements.push({
      metric: 'worst shape: p50 per decision (the work bound, without the machine noise)',
      value: round(worstMedian),
      unit: 'ms',
    });
    return {
      name: 'adversarial-policy',
      measurements,
      notes: [
        `${rounds} decisions per shape, bodies of up to ${BODY_LIMIT / 1024} KiB (the check limit)`,
      ],
    };
  },
};

export const round = (value: number) => Math.round(value * 1000) / 1000;

/** Milliseconds of this thread's CPU time (the process's on Node 20). */
function threadCpu(): number {
  const usage = (process.threadCpuUsage ?? process.cpuUsage)();
  return (usage.user + usage.system) / 1000;
}
