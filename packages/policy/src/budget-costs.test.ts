import { EvaluationError } from '@marcbachmann/cel-js';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CALL_COST,
  COMPARED_COLLECTION_COST,
  codePoints,
  EvaluationBudget,
  NODE_COST,
  OPERATOR_COST,
} from './budget';
import { type CompiledCondition, compileCondition, isCompileError } from './cel';
import { compilePolicies, evaluate, loadShellParser, POLICY_LIMITS } from './index';

// The prices of the evaluation budget, recalibrated so that 100 000 units are at most ~2.5 ms of
// CPU time for every worst shape of bench/ (adversarial-policy). These pin the prices and what
// they decide: the same call decides the same way on any machine, under any load.

afterEach(() => {
  vi.restoreAllMocks();
});

function compiled(source: string): CompiledCondition {
  const condition = compileCondition(source);
  if (isCompileError(condition)) throw new Error(condition.message);
  return condition;
}

/** Work units one evaluation of `source` over `args` uses (no limit, no clock). */
function unitsOf(source: string, args: Record<string, unknown>): number {
  const budget = new EvaluationBudget(1e12, Number.POSITIVE_INFINITY);
  compiled(source).evaluate(
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
  return 1e12 - budget.remaining;
}

/** Units per element of a macro over `list`: the difference between `n` and no elements. */
function perElement(source: string, make: (index: number) => unknown, n = 100): number {
  const many = unitsOf(source, { l: Array.from({ length: n }, (_, index) => make(index)) });
  return (many - unitsOf(source, { l: [] })) / n;
}

/** A decision with the clock stopped: only the units can run out, whatever the machine's load. */
function decideStopped(condition: string, args: Record<string, unknown>) {
  const set = compilePolicies([
    { name: 'Guard', tool: 't', rules: [{ if: condition, then: 'allow' }], default: 'block' },
  ]);
  evaluate(set, { tool: 't', args: {} });
  vi.spyOn(performance, 'now').mockReturnValue(0);
  return evaluate(set, { tool: 't', args });
}

describe('the prices of the evaluation budget', () => {
  it('charges 2 units a node, 2 more for an operator or a call over dyn operands', () => {
    expect([NODE_COST, OPERATOR_COST, CALL_COST]).toEqual([2, 2, 2]);
    // `args.n > 1`: `args`, `.n` and `1` (the top node is run by the library directly).
    expect(unitsOf('args.n > 1', { n: 2n })).toBe(3 * NODE_COST + OPERATOR_COST);
    // Per element: the step `x >= 0 ? true : false` is 5 nodes, and `>=` an operator.
    expect(perElement('args.l.all(x, x >= 0)', (index) => BigInt(index))).toBe(
      5 * NODE_COST + OPERATOR_COST,
    );
    // `x - 1 >= 0 ? true : false`: 7 nodes, two operators (arithmetic looks its overload up too).
    expect(perElement('args.l.all(x, x - 1 >= 0)', (index) => BigInt(index + 1))).toBe(
      7 * NODE_COST + 2 * OPERATOR_COST,
    );
    // `x.size() > 3 ? true : false`: 6 nodes, an operator, a call, a string of 31 characters
    // (3 units: characters ÷ 8).
    expect(perElement('args.l.all(x, x.size() > 3)', () => 'abcd'.padEnd(31, 'x'))).toBe(
      6 * NODE_COST + OPERATOR_COST + CALL_COST + 3,
    );
  });

  it('charges every list or map that == compares, nested ones included', () => {
    expect(COMPARED_COLLECTION_COST).toBe(6);
    const a = Array.from({ length: 100 }, (_, index) => [BigInt(index)]);
    const b = a.map((element) => [...element]);
    // `args.a == args.b`: 4 nodes (the top one is run by the library directly) and an operator,
    // then the outer list and each of its 100 one-element lists (each the list and its integer).
    expect(unitsOf('args.a == args.b', { a, b })).toBe(
      4 * NODE_COST +
        OPERATOR_COST +
        COMPARED_COLLECTION_COST +
        100 * (COMPARED_COLLECTION_COST + 1),
    );
  });

  it('runs out of units for all(x, x.size() > 3) over short strings at the body limit (was: allowed after 5 ms)', () => {
    // The benchmark's shape: 8 176 strings of 31 characters (248 KiB). At the old prices it took
    // 98 115 units, under the budget, and the whole 5 ms of the clock on a quiet machine.
    const items = Array.from({ length: 8176 }, () => 'abcd'.padEnd(31, 'x'));
    const decision = decideStopped('args.items.all(x, x.size() > 3)', { items });
    expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error' });
    expect(decision.errors[0]?.message).toMatch(
      `more than ${POLICY_LIMITS.maxEvaluationCost} units of work`,
    );
    // A tenth of it is decided as before.
    expect(
      decideStopped('args.items.all(x, x.size() > 3)', { items: items.slice(0, 800) }),
    ).toMatchObject({
      effect: 'allow',
      reason: 'rule_matched',
    });
  });

  it('runs out of units for deep == of 2000 one-element lists in a loop (was: 4–5 ms of CPU)', () => {
    const a = Array.from({ length: 2000 }, (_, index) => [BigInt(index % 10)]);
    const args = { items: Array.from({ length: 10 }, () => 1n), a, b: a.map((x) => [...x]) };
    // Each comparison is 2001 lists: 14 007 units, 7 of them are over the budget.
    const decision = decideStopped('args.items.all(x, args.a == args.b)', args);
    expect(decision.reason).toBe('condition_error');
    expect(decision.errors[0]?.message).toMatch(/units of work/);
    expect(
      decideStopped('args.items.all(x, args.a == args.b)', { ...args, items: [1n, 2n, 3n] }).reason,
    ).toBe('rule_matched');
  });

  it('charges the linear lastIndexOf for every character it reads', () => {
    // 160 000 + 60 000 characters: 110 000 units (was 47 500, while the search took ~1.5 ms).
    const decision = decideStopped('args.a.lastIndexOf(args.b) >= 0', {
      a: 'a'.repeat(160_000),
      b: `${'a'.repeat(60_000)}b`,
    });
    expect(decision.reason).toBe('condition_error');
    expect(decision.errors[0]?.message).toMatch(/units of work/);
    expect(
      decideStopped('args.a.lastIndexOf(args.b) >= 0', {
        a: 'a'.repeat(100_000),
        b: `${'a'.repeat(60_000)}b`,
      }),
    ).toMatchObject({ effect: 'block', reason: 'policy_default' });
  });
});

describe('calls answered without the library’s overload lookup', () => {
  it('count a string’s code points as the library does', () => {
    const strings = [
      '',
      'abc',
      'héllo',
      '😀',
      'a😀b',
      '\uD800',
      '\uDC00',
      '\uD800x',
      'x\uD800',
      '\uDC00\uD800',
      '\uD83D\uDE00\uD83D',
      '👩‍👩‍👧',
    ];
    for (const text of strings) {
      expect(codePoints(text), JSON.stringify(text)).toBe([...text].length);
      const condition = compiled('args.s.size() == args.n && size(args.s) == args.n');
      expect(
        condition.evaluate({
          args: { s: text, n: BigInt([...text].length) },
          tool: 't',
          session: null,
          agent: null,
          environment: null,
          now: undefined,
        } as never),
      ).toBe(true);
    }
  });

  it('give the library’s answers, and its errors for other argument types', () => {
    const decide = (condition: string, args: Record<string, unknown> = {}) =>
      evaluate(
        compilePolicies([
          { name: 'G', tool: 't', rules: [{ if: condition, then: 'allow' }], default: 'block' },
        ]),
        { tool: 't', args },
      );
    for (const condition of [
      'args.s.startsWith("ab") && !args.s.startsWith("b") && args.s.startsWith("")',
      'args.s.endsWith("bc") && !args.s.endsWith("b") && args.s.endsWith("")',
      'args.s.contains("b") && !args.s.contains("x") && args.s.contains("")',
      'args.l.size() == 3 && size(args.l) == 3 && args.m.size() == 1 && size(args.m) == 1',
      'size(b"abc") == 3',
    ]) {
      expect(decide(condition, { s: 'abc', l: [1, 2, 3], m: { k: 1 } }).reason, condition).toBe(
        'rule_matched',
      );
    }
    for (const condition of [
      'args.n.startsWith("1")',
      'args.n.size() > 0',
      'args.s.contains(args.n)',
    ]) {
      const decision = decide(condition, { n: 12n, s: 'abc' });
      expect(decision.reason, condition).toBe('condition_error');
      expect(decision.errors[0]?.message, condition).toMatch(/no matching overload/);
    }
  });
});

describe('errors of a long condition', () => {
  it('do not quote the condition: an error per element no longer reads it up to the error', () => {
    const condition = compiled(`"${'a'.repeat(3000)}" == "" || args.n.endsWith("x")`);
    let thrown: unknown;
    try {
      condition.evaluate({
        args: { n: 1n },
        tool: 't',
        session: null,
        agent: null,
        environment: null,
        now: undefined,
      } as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EvaluationError);
    // The library appended an excerpt of the condition, found by walking it character by
    // character up to the failing node (25 µs an error for a 4 KB condition).
    expect((thrown as Error).message).not.toContain('aaaa');
    expect((thrown as EvaluationError).summary).toMatch(/no matching overload/);
    expect((thrown as EvaluationError).range?.start).toBeGreaterThan(3000);
  });
});

describe('shell.commands is charged for the parser’s own work', () => {
  beforeAll(async () => {
    await loadShellParser();
  });

  it('stops the parse of 1000 characters of pipes where the units run out (was: ~7 000 units, 4 ms)', () => {
    // tree-sitter reports its progress every 100 operations, the same on any machine: each
    // report is charged, and the parse is cancelled when the budget is gone.
    const decision = decideStopped('shell.commands(args.c).exists(c, c.name == "rm")', {
      c: `${'a | '.repeat(250)}b`,
    });
    expect(decision).toMatchObject({ effect: 'block', reason: 'condition_error' });
    expect(decision.errors[0]?.message).toMatch(
      `more than ${POLICY_LIMITS.maxEvaluationCost} units of work`,
    );
  });

  it('charges each parse its fixed cost (was: 400 units for 20–40 µs)', () => {
    // 80 distinct short lines: 80 parses of 1500 units and more.
    const l = Array.from({ length: 80 }, (_, index) => `ls ${index}`);
    const decision = decideStopped('args.l.all(x, shell.commands(x).size() == 1)', { l });
    expect(decision.reason).toBe('condition_error');
    expect(decision.errors[0]?.message).toMatch(/units of work/);
    expect(
      decideStopped('args.l.all(x, shell.commands(x).size() == 1)', { l: l.slice(0, 40) }).reason,
    ).toBe('rule_matched');
  });

  it('still reads a 15 KB heredoc and a short script', () => {
    const heredoc = `cat <<'EOF' > f.py\n${'def f(x):\n    return x + 1  # a comment\n'.repeat(380)}EOF`;
    expect(heredoc.length).toBeGreaterThan(15_000);
    const condition = 'shell.commands(args.c).exists(c, c.name == "rm")';
    expect(decideStopped(condition, { c: heredoc })).toMatchObject({
      effect: 'block',
      reason: 'policy_default',
    });
    const script = Array.from({ length: 40 }, (_, index) => `git add f${index} && echo ok`).join(
      '; ',
    );
    expect(decideStopped(condition, { c: `${script}; rm -rf build` })).toMatchObject({
      effect: 'allow',
      reason: 'rule_matched',
    });
  });
});
