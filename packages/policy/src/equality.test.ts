import { afterEach, describe, expect, it } from 'vitest';
import { EvaluationBudget, useDirectEquality } from './budget';
import { type CompiledCondition, compileCondition, isCompileError } from './cel';
import { parseExactJson } from './exact-json';

// `==` and `!=` of two JSON lists or maps over dyn operands are compared by the engine's own walk
// (budget.ts `sameJson`) instead of the library's, which looked up both sides' types and their
// overload for every nested collection. It must answer exactly as the library did: the same
// value, or the same error, for every pair of values an agent can send.

afterEach(() => {
  useDirectEquality(true);
});

function compiled(source: string): CompiledCondition {
  const condition = compileCondition(source);
  if (isCompileError(condition)) throw new Error(condition.message);
  return condition;
}

const conditions = [
  'args.a == args.b',
  'args.a != args.b',
  'args.a == [1, 2]',
  'args.a == {"k": 1}',
  '[args.a] == [args.b]',
].map(compiled);

function outcome(condition: CompiledCondition, args: Record<string, unknown>): string {
  try {
    const budget = new EvaluationBudget(1e9, Number.POSITIVE_INFINITY);
    return `value ${String(condition.evaluate({ args, tool: 't', session: null, agent: null, environment: null, now: undefined, mcp: null }, budget))}`;
  } catch (error) {
    return `error ${(error as Error).message}`;
  }
}

/** Both ways: the engine's walk, then the library's. */
function both(condition: CompiledCondition, args: Record<string, unknown>): [string, string] {
  useDirectEquality(true);
  const direct = outcome(condition, args);
  useDirectEquality(false);
  const library = outcome(condition, args);
  useDirectEquality(true);
  return [direct, library];
}

// A small deterministic generator of JSON values and near copies of them.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const KEYS = ['a', 'b', 'k', 'constructor', '__proto__', 'toString', 'valueOf', '0', '1'];
// JSON texts: integers become bigints (above int64 a uint object, above uint64 a double), numbers
// with a point doubles (9007199254740993 is exact).
const SCALARS = [
  '0',
  '1',
  '-1',
  '1.5',
  '1.0',
  '2',
  '9007199254740993',
  '9007199254740992.0',
  '18446744073709551615',
  '18446744073709551615.0',
  '99999999999999999999999',
  '"a"',
  '"b"',
  '""',
  'true',
  'false',
  'null',
];

/** JSON text of a random value up to `depth` deep. */
function json(next: () => number, depth: number): string {
  const pick = next();
  if (depth <= 0 || pick < 0.4) return SCALARS[Math.floor(next() * SCALARS.length)] as string;
  const length = Math.floor(next() * 4);
  const elements = Array.from({ length }, () => json(next, depth - 1));
  if (pick < 0.7) return `[${elements.join(',')}]`;
  // Distinct keys (the parser refuses a repeated one), from a rotation of KEYS.
  const first = Math.floor(next() * KEYS.length);
  const members = elements.map(
    (element, index) => `${JSON.stringify(KEYS[(first + index) % KEYS.length])}:${element}`,
  );
  return `{${members.join(',')}}`;
}

describe('== of JSON lists and maps', () => {
  it('answers as the library does, value or error, for generated pairs', () => {
    const next = random(12);
    let compared = 0;
    let equal = 0;
    for (let round = 0; round < 1500; round++) {
      const left = json(next, 4);
      // The same text (equal values, distinct objects), or another value.
      const right = next() < 0.5 ? left : json(next, 4);
      const args = parseExactJson(`{"a":${left},"b":${right}}`) as Record<string, unknown>;
      // The library compares maps with `key in other`, which finds an inherited `__proto__`
      // (Object.prototype, equal to {}): the engine compares own keys. For such pairs the answer
      // must be the library's for the same values with that key renamed to one nothing inherits.
      const renamed = renameProto(`{"a":${left},"b":${right}}`);
      for (const condition of conditions) {
        const [direct, library] = both(condition, renamed ?? args);
        if (renamed) {
          useDirectEquality(true);
          expect(outcome(condition, args), `${condition.source} over ${left} and ${right}`).toBe(
            direct,
          );
        }
        expect(direct, `${condition.source} over ${left} and ${right}`).toBe(library);
        compared++;
        if (direct === 'value true') equal++;
      }
    }
    expect(compared).toBe(7500);
    // Both answers occur often enough to mean something.
    expect(equal).toBeGreaterThan(1000);
  });

  it.each([
    ['[1, [2, 3]]', '[1, [2, 3]]'],
    ['[1, [2, 3]]', '[1, [2, 4]]'],
    ['[1]', '[1.0]'],
    ['[9007199254740993]', '[9007199254740992.0]'],
    ['[[1]]', '[["a"]]'],
    ['[1]', '["a"]'],
    ['[[]]', '[[1]]'],
    ['{"k": [1]}', '{"k": [1]}'],
    ['{"k": [1]}', '{"j": [1]}'],
    ['{"constructor": 1}', '{"constructor": 1}'],
    ['{"toString": 1}', '{"x": 1}'],
    ['[{"a": null}]', '[{"a": null}]'],
    ['[null]', '[[]]'],
    ['[]', '{}'],
  ])('%s against %s', (left, right) => {
    const args = parseExactJson(`{"a":${left},"b":${right}}`) as Record<string, unknown>;
    for (const condition of conditions) {
      const [direct, library] = both(condition, args);
      expect(direct, condition.source).toBe(library);
    }
  });

  // The library's map comparison asks `key in other`, which finds inherited keys: an agent's
  // {"__proto__": {}} compared Object.prototype (no keys, so equal to {}) and made
  // `args.a == {"k": 1}` true, and `args.a != {"mode": "safe"} → block` pass. Own keys only.
  it.each([
    ['args.a == {"k": 1}', '{"__proto__": {}}', false],
    ['args.a != {"mode": "safe"}', '{"__proto__": {}}', true],
    ['args.a == args.b', '{"__proto__": {}, "x": 1}', false],
    ['[args.a] == [{"k": 1}]', '{"__proto__": {}}', false],
  ])('%s over a = %s is %s: an inherited key is not a key', (source, a, expected) => {
    const args = parseExactJson(`{"a":${a},"b":{"y": 1, "x": 1}}`) as Record<string, unknown>;
    expect(outcome(compiled(source), args)).toBe(`value ${expected}`);
  });

  it('charges what the library comparison was charged', () => {
    const args = parseExactJson(
      `{"a":${JSON.stringify(Array.from({ length: 500 }, (_, index) => [index]))},"b":${JSON.stringify(Array.from({ length: 500 }, (_, index) => [index]))}}`,
    ) as Record<string, unknown>;
    const used = (on: boolean) => {
      useDirectEquality(on);
      const budget = new EvaluationBudget(1e9, Number.POSITIVE_INFINITY);
      conditions[0]?.evaluate(
        {
          args,
          tool: 't',
          session: null,
          agent: null,
          environment: null,
          now: undefined,
          mcp: null,
        },
        budget,
      );
      return 1e9 - budget.remaining;
    };
    expect(used(true)).toBe(used(false));
  });
});

/** The same arguments with every `"__proto__"` key renamed, or undefined when there is none. */
function renameProto(text: string): Record<string, unknown> | undefined {
  if (!text.includes('"__proto__"')) return undefined;
  return parseExactJson(text.replaceAll('"__proto__"', '"__proto_"')) as Record<string, unknown>;
}
