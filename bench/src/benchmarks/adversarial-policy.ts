import {
  compilePolicies,
  evaluate,
  type PolicyDefinition,
  parseExactJson,
  shellParserSettled,
} from '@arden/policy';
import { defaultCheckBodyLimit, defaultCheckValueLimit } from '@arden/server';
import { settle } from '../processes.ts';
import { type Benchmark, type Measurement, ratio } from '../types.ts';

/**
 * The server's default limits for one check: `ARDEN_CHECK_BODY_LIMIT` (256 KiB) and
 * `ARDEN_CHECK_VALUE_LIMIT` (JSON values; the environment's value when set, to measure another).
 * Every shape below is as large as one check may be within both.
 */
export const BODY_LIMIT = defaultCheckBodyLimit;
export const VALUE_LIMIT = process.env.ARDEN_CHECK_VALUE_LIMIT
  ? Number(process.env.ARDEN_CHECK_VALUE_LIMIT)
  : defaultCheckValueLimit;

/** What a check's arguments may fill: bytes of JSON and JSON values. */
export interface Room {
  bytes: number;
  values: number;
}

/** What the arguments may fill: the limits less room for the rest of the check's body. */
export const ROOM: Room = { bytes: BODY_LIMIT - 1024, values: VALUE_LIMIT - 16 };

/** A share of a room. */
export const part = (room: Room, share: number): Room => ({
  bytes: room.bytes * share,
  values: room.values * share,
});

export interface Shape {
  name: string;
  policy: PolicyDefinition;
  /** The call's arguments, filling `room` (both its bytes and its values) as far as they can. */
  args: (room: Room) => Record<string, unknown>;
}

/** The JSON values in `value` (itself, and every element and member value within). */
export function countValues(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + countValues(item), 1);
  if (value !== null && typeof value === 'object') {
    return Object.values(value).reduce((sum: number, item) => sum + countValues(item), 1);
  }
  return 1;
}

/** A list of `make(i)` as long as fits in the room: its bytes of JSON, and its values. */
export function fill<T>(room: Room, make: (index: number) => T): T[] {
  const sample = make(123_456);
  const bytes = JSON.stringify(sample).length + 1;
  const length = Math.floor(Math.min(room.bytes / bytes, room.values / countValues(sample)));
  return Array.from({ length }, (_, index) => make(index));
}

/**
 * The bytes each element of a list filling the room may take (its comma included) when each
 * element holds `values` values: where the value limit binds, what is left of the bytes goes
 * into each element (longer strings, integers of more digits), which costs more to read.
 */
export function widthIn(room: Room, values = 1): number {
  return Math.floor(room.bytes / Math.max(1, Math.floor(room.values / values)));
}

/** `text` lengthened with `x`s to `bytes` of JSON with its comma (never shortened). */
export const padded = (text: string, bytes: number) =>
  text + 'x'.repeat(Math.max(0, bytes - 3 - text.length));

/**
 * An integer distinct per index (below 10⁶) with as many digits as fit in `bytes` with its comma,
 * up to 15: above 3 digits each is a fresh bigint for the server's parser.
 */
export function wideInteger(index: number, bytes: number): number {
  const digits = Math.min(15, bytes - 1);
  return digits >= 7 ? 10 ** (digits - 1) + index : index;
}

/** A list of integers filling the room, each as wide as the room allows (`wideInteger`). */
export const integers = (room: Room): number[] =>
  fill(room, (index) => wideInteger(index, widthIn(room)));

/**
 * An object `{"k0…": 1, "k1…": 1, …}` filling the room (a member is one value: its key is not).
 * Where the value limit binds first, the keys take the bytes left over (longer keys to hash).
 */
export function mapIn(room: Room): Record<string, number> {
  // `"key":1,` is the key and 5 characters.
  const keyLength = Math.max(7, widthIn(room) - 5);
  const key = (index: number) => `k${index}`.padEnd(keyLength, 'x');
  const bytes = JSON.stringify({ [key(123_456)]: 1 }).length - 1;
  const length = Math.floor(Math.min(room.bytes / bytes, room.values));
  return Object.fromEntries(Array.from({ length }, (_, index) => [key(index), 1]));
}

/**
 * `body` (a check's JSON text) with the keys of every `mapIn` map made new: their last padding
 * `x` becomes the `round`-th letter, so that a map's keys are strings this process has never
 * made. The benchmark builds each map as a JS object before sending it, which leaves its keys in
 * V8's string table — and a server reading keys that are already there builds a large object
 * twice as fast (an 8,000-key map: ~2 ms against ~4.3 ms for keys it has never seen,
 * docs/performance.md, "Tenth round"). An attacker's keys come only over the wire, and may be new
 * on every call. Same length, same values.
 */
export function withFreshKeys(body: string, round: number): string {
  const letter = 'abcdefghijklmnopqrstuvw'[round % 23] as string;
  return body.replace(/"k(\d+)(x+)":/g, (_, digits: string, padding: string) => {
    return `"k${digits}${padding.slice(1)}${letter}":`;
  });
}

const guard = (condition: string, extra: Partial<PolicyDefinition> = {}): PolicyDefinition => ({
  name: 'Guard',
  tool: 't',
  rules: [{ if: condition, then: 'allow' }],
  default: 'block',
  ...extra,
});

// The worst shapes known, each filling both check limits (issue #12's reproductions first).
export const shapes: Shape[] = [
  {
    name: 'map(x, l + l) over a list',
    policy: guard('args.l.map(x, args.l + args.l).size() == 0'),
    args: (room) => ({ l: integers(room) }),
  },
  {
    name: 'map(x, l + l), 60 KB list',
    policy: guard('args.l.map(x, args.l + args.l).size() == 0'),
    args: (room) => ({ l: fill({ bytes: 60_000, values: room.values }, () => 1) }),
  },
  {
    name: 'all(i, i in allowed)',
    policy: guard('args.items.all(i, i in args.allowed)'),
    args: (room) => {
      const half = part(room, 0.5);
      const width = widthIn(half);
      const items = fill(half, (index) => padded(`item-${index}`, width));
      return { items, allowed: [...items].reverse() };
    },
  },
  {
    name: '300-term list concatenation',
    policy: guard(`size(${Array.from({ length: 300 }, () => 'args.l').join(' + ')}) > 0`),
    args: (room) => ({ l: integers(room) }),
  },
  {
    name: 'exists over integers (an error per element)',
    policy: guard('args.to.exists(r, !r.endsWith("@corp.com"))'),
    args: (room) => ({ to: integers(room) }),
  },
  {
    name: 'all(x, x.size() > 3) over short strings',
    policy: guard('args.items.all(x, x.size() > 3)'),
    args: (room) => ({ items: fill(room, () => padded('abcd', widthIn(room))) }),
  },
  {
    name: 'nested exists (n²)',
    policy: guard('args.a.exists(x, args.a.exists(y, x == y + 1000000))'),
    args: (room) => ({ a: integers(room) }),
  },
  {
    name: 'join of a repeated string',
    policy: guard('args.items.map(x, args.s).join().size() > 3'),
    args: (room) => ({
      // Half the bytes, and every value but the string's.
      items: integers({ bytes: room.bytes / 2, values: room.values - 1 }),
      s: 'x'.repeat(room.bytes / 2 - 20),
    }),
  },
  {
    name: 'deep == of two lists of lists',
    policy: guard('args.items.all(x, args.a == args.b)'),
    args: (room) => {
      // 1000 items at the limits, fewer in a smaller room: the warm-up's rooms (a 64th and an
      // 8th) got none of the lists (a room of 127 values less 1000), so it compared empty lists.
      const count = Math.min(1000, Math.floor(room.values / 8));
      const half = { bytes: room.bytes / 2 - count, values: room.values / 2 - count };
      const a = fill(half, (index) => [wideInteger(index % 10, widthIn(half, 2) - 2)]);
      const items = fill({ bytes: room.bytes, values: count }, () => 1);
      return { items, a, b: a.map((element) => [...element]) };
    },
  },
  {
    name: 'a macro over a map inside a macro',
    policy: guard('args.l.all(x, args.m.exists(k, true))'),
    args: (room) => ({
      l: integers(part(room, 0.25)),
      m: mapIn(part(room, 0.7)),
    }),
  },
  // The security review of issue #12's work (findings 1–3): built-ins doing uncharged or
  // super-linear work, a clock the charges stepped over, the library's type cache.
  {
    name: 'duration() of 4000-digit strings',
    policy: guard('args.l.exists(d, duration(d) > duration("1h"))'),
    args: (room) => ({ l: fill(room, () => '1'.repeat(4000)) }),
  },
  {
    name: 'lastIndexOf of a long search string',
    policy: guard('args.a.lastIndexOf(args.b) >= 0'),
    args: (room) => ({ a: 'a'.repeat(room.bytes / 2), b: `${'a'.repeat(room.bytes / 4)}b` }),
  },
  {
    name: 'a time zone per element',
    policy: guard('args.l.exists(t, now.getHours(t) == 99)'),
    // Sized by the shorter name (index 123 456 is even): 0.9 leaves room for the longer one.
    args: (room) => ({
      l: fill(part(room, 0.9), (index) => (index % 2 ? 'Europe/Paris' : 'Asia/Tokyo')),
    }),
  },
  {
    name: 'startsWith per element (charges stepping over the clock)',
    policy: guard('args.l.exists(t, t.startsWith("x"))'),
    args: (room) => ({ l: fill(room, () => padded('Europe/Paris', widthIn(room))) }),
  },
  {
    name: '== on elements nested 22 deep, each differently',
    policy: guard('args.to.exists(r, r == "evil@x.com")'),
    args: (room) => ({
      // Elements differ in size (`[…]` or `{"k": …}` per level): 0.95 keeps the body in the limit.
      to: fill(part(room, 0.95), (index) => {
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
    args: (room) => ({
      l: integers(part(room, 0.25)),
      m: mapIn(part(room, 0.7)),
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
    args: (room) => ({ l: fill(room, (index) => wideInteger(index % 1000, widthIn(room))) }),
  },
  // The recalibration of the units (2 a node): the dearest work per unit left, measured in a
  // process whose evaluator has run many conditions.
  {
    name: 'a 4 KB condition erring per element',
    // The library quoted the condition in every error, walking it up to the failing node.
    policy: guard(`"${'a'.repeat(3900)}" == "" || args.to.exists(r, !r.endsWith("@corp.com"))`),
    args: (room) => ({ to: integers(room) }),
  },
  {
    name: 'a macro over a map reading each entry',
    policy: guard('args.m.exists(k, args.m[k] == -5)'),
    args: (room) => ({ m: mapIn(room) }),
  },
  {
    name: 'split per element',
    policy: guard('args.l.exists(x, x.split("-").size() > 5)'),
    args: (room) => ({ l: fill(room, (index) => padded(`a-b-${index}`, widthIn(room))) }),
  },
  {
    name: 'filter over integers',
    policy: guard('args.l.filter(x, x < 0).size() > 0'),
    args: (room) => ({ l: integers(room) }),
  },
  // shell.commands: the parser's time is in its operations (charged as it reports them), and a
  // parse has a fixed cost.
  {
    name: 'shell.commands of 1000 characters of pipes',
    policy: guard('shell.commands(args.c).exists(c, c.name == "rm")'),
    args: () => ({ c: `${'a | '.repeat(250)}b` }),
  },
  {
    // The engine keeps the last 32 lines parsed: rounds after the first read this one from there
    // (its p100 is the parse; an agent may send a new line each time).
    name: 'shell.commands of 16 000 characters of one word',
    policy: guard('shell.commands(args.c).exists(c, c.name == "rm")'),
    args: () => ({ c: `echo ${'a'.repeat(16_000)}` }),
  },
  {
    name: 'shell.commands per element (short lines)',
    policy: guard('args.l.exists(x, shell.commands(x).exists(c, c.name == "rm"))'),
    args: (room) => ({ l: fill(room, (index) => `ls ${index}`) }),
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
    const sets = shapes.map((shape) => compilePolicies([shape.policy]));
    // A condition using `shell.` starts loading the shell parser: a server has it by now, and V8
    // has optimised its WebAssembly (a background thread, ~2.5 s after the load).
    await shellParserSettled();
    await settle(process.pid);
    for (const [index, shape] of shapes.entries()) {
      const set = sets[index] as (typeof sets)[number];
      const args = shape.args(ROOM);
      // A server that has run this policy before, on the ordinary calls of its tool: the same
      // condition over inputs of the same kind, small and medium (a 64th and an 8th of the
      // limits). The attacker picks the input, never the condition (an admin writes it): the
      // attack's large call is not the condition's first run. (Before 2026-12-07 the warm-up
      // evaluated empty arguments, which never reached the condition's paths.)
      for (const [share, times] of [
        [64, 20],
        [8, 3],
      ] as const) {
        const ordinary = JSON.stringify(
          shape.args({
            bytes: Math.floor(ROOM.bytes / share),
            values: Math.floor(ROOM.values / share),
          }),
        );
        for (let warm = 0; warm < times; warm++) {
          evaluate(set, { tool: 't', args: parseExactJson(ordinary) as Record<string, unknown> });
        }
      }
      const body = JSON.stringify({ tool_name: 't', kwargs: args });
      const parse: number[] = [];
      const decide: number[] = [];
      let reason = '';
      let shapeCpu = 0;
      let totalCpu = 0;
      for (let round = 0; round < rounds; round++) {
        // A map's keys new to the process each round, as an attacker's are (`withFreshKeys`).
        const sent = withFreshKeys(body, round);
        let started = performance.now();
        // A fresh copy each round, as the server parses each request: nothing cached from the
        // last round (such as a map's listed keys) makes a decision look cheaper than it is.
        const request = parseExactJson(sent) as { kwargs: Record<string, unknown> };
        parse.push(performance.now() - started);
        // Collect the benchmark's own garbage (the parsed bodies) outside the timed decision.
        globalThis.gc?.();
        // A forced collection leaves work to V8's background threads (sweeping, freeing pages);
        // on 2 cores they would share the timed decision's core. A server does not collect in
        // full right before each check: let them finish first.
        await new Promise((resolve) => setTimeout(resolve, 20));
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
