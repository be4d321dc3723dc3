import { describe, expect, it } from 'vitest';
import {
  type CompiledPolicySet,
  compilePolicies,
  evaluate,
  POLICY_LIMITS,
  PolicyCompileError,
  type PolicyIssue,
  validatePolicies,
} from './index';

const compiled = new Map<string, CompiledPolicySet>();

/** true when the condition holds, false when not, `error: …` when it fails to evaluate. */
function holds(condition: string, args: Record<string, unknown>): boolean | string {
  let set = compiled.get(condition);
  if (set === undefined) {
    set = compilePolicies([
      { name: 'probe', tool: 'probe', rules: [{ if: condition, then: 'allow' }], default: 'block' },
    ]);
    compiled.set(condition, set);
  }
  const decision = evaluate(set, { tool: 'probe', args });
  if (decision.effect === 'allow') return true;
  const error = decision.errors[0];
  return error === undefined ? false : `error: ${error.message}`;
}

/** The compile issue of a condition (there must be exactly one). */
function compileIssue(condition: string): PolicyIssue {
  const issues = validatePolicies([
    { name: 'probe', tool: 'probe', rules: [{ if: condition, then: 'allow' }] },
  ]);
  expect(issues).toHaveLength(1);
  return issues[0]!;
}

describe('CEL conditions', () => {
  it.each<[string, Record<string, unknown>, boolean | RegExp]>([
    // Numbers: JSON numbers are doubles, literals without a point are ints; both mix.
    ['args.amount <= 50', { amount: 50 }, true],
    ['args.amount <= 50', { amount: 50.5 }, false],
    ['args.amount <= 50', { amount: 49.99 }, true],
    ['args.amount < 50.5', { amount: 50 }, true],
    ['args.amount == 50', { amount: 50 }, true],
    ['args.amount in [10, 50]', { amount: 50 }, true],
    ['args.amount * 2 > 100', { amount: 50.5 }, true],
    ['args.amount * 2 > 100', { amount: 50 }, false],
    ['args.amount + 1 == 51', { amount: 50 }, true],
    ['1 + args.amount == 51', { amount: 50 }, true],
    ['args.amount - 1 == 49', { amount: 50 }, true],
    ['100 / args.parts == 25', { parts: 4 }, true],
    ['1 + 2 == 3 && 7 / 2 == 3', {}, true],
    ['args.items.size() == args.count', { items: [1, 2], count: 2 }, true],
    ['int(args.count) % 2 == 0', { count: 4 }, true],
    ['args.count % 2 == 0', { count: 4 }, /no such overload/],
    ['args.amount > 100', { amount: '150' }, /no such overload/],
    // Strings.
    ['args.to.endsWith("@example.com")', { to: 'bob@example.com' }, true],
    ['args.to.endsWith("@example.com")', { to: 'bob@example.org' }, false],
    ['args.to.endsWith("@example.com")', { to: 42 }, /no matching overload|no such overload/],
    ['args.to.endsWith("@example.com")', {}, /No such key: to/],
    ['args.subject.contains("invoice")', { subject: 'Your invoice' }, true],
    ['args.subject.lowerAscii().startsWith("urgent")', { subject: 'URGENT: pay' }, true],
    ['args.subject.size() <= 5', { subject: 'hello' }, true],
    ['args.csv.split(",").size() == 3', { csv: 'a,b,c' }, true],
    ['args.email.matches("^[a-z]+@corp\\\\.com$")', { email: 'bob@corp.com' }, true],
    ['args.email.matches("^[a-z]+@corp\\\\.com$")', { email: 'bob@corpxcom' }, false],
    ['args.email.matches(r"^[a-z]+@corp\\.com$")', { email: 'Bob@corp.com' }, false],
    ['args.email.matches("corp")', { email: 'bob@corp.com' }, true],
    ['args.email.matches(args.pattern)', { email: 'bob@corp.com', pattern: '^b.b@' }, true],
    // in.
    ['args.table in ["users", "payments"]', { table: 'users' }, true],
    ['args.table in ["users", "payments"]', { table: 'orders' }, false],
    ['args.table in ["users", "payments"]', {}, /No such key: table/],
    ['"admin" in args.roles', { roles: { admin: true } }, true],
    ['"bob@corp.com" in args.recipients', { recipients: ['bob@corp.com'] }, true],
    // has() and optionals.
    ['has(args.amount) && args.amount > 100', {}, false],
    ['has(args.amount) && args.amount > 100', { amount: 150 }, true],
    ['!has(args.amount) || args.amount > 100', {}, true],
    ['args.?amount.orValue(0) > 100', {}, false],
    ['args.?amount.orValue(0) > 100', { amount: 101 }, true],
    // null.
    ['args.note == null', { note: null }, true],
    ['args.note == null', { note: 'x' }, false],
    ['args.note.size() > 0', { note: null }, /no such overload|no matching overload/],
    // Nested objects and lists.
    ['args.customer.address.country == "DE"', { customer: { address: { country: 'DE' } } }, true],
    ['args.customer.address.country == "DE"', { customer: {} }, /No such key: address/],
    ['args.orders[1].total > 10', { orders: [{ total: 1 }, { total: 20 }] }, true],
    ['args.orders[5].total > 10', { orders: [] }, /out of bounds|index/i],
    ['args.to.exists(r, r.endsWith("@corp.com"))', { to: ['a@x.com', 'b@corp.com'] }, true],
    ['args.to.all(r, r.endsWith("@corp.com"))', { to: ['a@x.com', 'b@corp.com'] }, false],
    ['args.to.filter(r, r.endsWith("@x.com")).size() == 1', { to: ['a@x.com', 'b@y.com'] }, true],
    [
      'args.lines.map(l, l.qty * l.price).exists(t, t > 100)',
      { lines: [{ qty: 3, price: 40 }] },
      true,
    ],
    ['args.kind == "a" ? args.x > 1 : args.y > 1', { kind: 'b', y: 2 }, true],
    // The condition's value must be a bool.
    ['args.dry_run', { dry_run: true }, true],
    ['args.dry_run', { dry_run: 'yes' }, /returned a string, not a bool/],
    ['args.dry_run', { dry_run: 1 }, /returned the double 1, not a bool/],
  ])('%s with %j', (condition, args, expected) => {
    const result = holds(condition, args);
    if (expected instanceof RegExp) expect(result).toMatch(expected);
    else expect(result).toBe(expected);
  });

  it('sees the own properties of args only, never the JavaScript prototype', () => {
    for (const probe of [
      'args.constructor != null',
      'args.toString != null',
      'args.hasOwnProperty != null',
      'args["constructor"] != null',
      'args["__proto__"] != null',
      'args.valueOf != null',
      'agent.constructor != null',
    ]) {
      expect(holds(probe, {}), probe).toMatch(/^error: No such key/);
    }
    expect(holds('has(args.constructor) || has(args.toString)', {})).toBe(false);
    expect(holds('args.items.length == 0', { items: [] })).toMatch(/^error:/);
    expect(holds('args.name.length == 0', { name: '' })).toMatch(/^error:/);
  });

  it('refuses field access on timestamps and durations, which could reach Date.prototype', () => {
    for (const condition of [
      'now.__proto__ != null',
      'now.constructor != null',
      'now["constructor"] != null',
      'timestamp("2030-01-01T00:00:00Z").getTime != null',
      'duration("1h").foo == 1',
      '[now][0].__proto__ != null',
    ]) {
      expect(compileIssue(condition).message, condition).toMatch(/has no fields/);
    }
    expect(compileIssue('args.a == 1 && now.hours > 9')).toMatchObject({ line: 1, column: 16 });
  });

  it('reads a JSON "__proto__" key as data, and does not inherit through it', () => {
    const args = JSON.parse('{"__proto__": {"admin": true}}') as Record<string, unknown>;
    expect(holds('args.admin == true', args)).toMatch(/^error: No such key: admin/);
    expect(holds('args["__proto__"].admin == true', args)).toBe(true);
  });
});

describe('regular expressions are RE2 (linear time)', () => {
  it('a catastrophic-backtracking pattern finishes at once', () => {
    const evil = `${'a'.repeat(50_000)}!`;
    const started = performance.now();
    expect(holds('args.s.matches("^(a+)+$")', { s: evil })).toBe(false);
    expect(holds('args.s.matches(args.p)', { s: evil, p: '^(a|aa)+$' })).toBe(false);
    expect(holds('args.s.matches("^(a+)+!$")', { s: evil })).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('refuses patterns RE2 cannot run in linear time, with the position of the pattern', () => {
    for (const pattern of ['(?=a)b', '(a)\\\\1']) {
      const issue = compileIssue(`args.s.matches("${pattern}")`);
      expect(issue.message).toMatch(/invalid regular expression/);
      expect(issue).toMatchObject({ line: 1, column: 16 });
    }
  });

  it('reports a bad pattern from the arguments as an evaluation error', () => {
    expect(holds('args.s.matches(args.p)', { s: 'x', p: '(?=x)' })).toMatch(
      /^error: invalid regular expression/,
    );
    const long = 'a'.repeat(POLICY_LIMITS.maxDynamicPatternLength + 1);
    expect(holds('args.s.matches(args.p)', { s: 'x', p: long })).toMatch(/longer than 1024/);
  });

  it('type-checks matches() at compile time', () => {
    expect(compileIssue('tool.matches(1)').message).toMatch(/no matching overload/);
    expect(compileIssue('1.matches("x")').message).toMatch(/no matching overload/);
  });
});

describe('limits', () => {
  it('refuses a condition longer than 4096 characters', () => {
    const condition = `args.a == "${'x'.repeat(4096)}"`;
    expect(compileIssue(condition).message).toMatch(/longer than 4096 characters/);
  });

  it('refuses deep nesting', () => {
    const condition = `${'('.repeat(40)}true${')'.repeat(40)}`;
    expect(compileIssue(condition).message).toMatch(/maxDepth/);
  });

  it('refuses too many nodes', () => {
    const condition = Array.from({ length: 600 }, () => '1<2').join('||');
    expect(condition.length).toBeLessThanOrEqual(4096);
    expect(compileIssue(condition).message).toMatch(/maxAstNodes/);
  });

  it('refuses large literals', () => {
    const list = Array.from({ length: 300 }, (_, index) => index).join(',');
    expect(compileIssue(`args.a in [${list}]`).message).toMatch(/maxListElements/);
  });

  it('refuses macros nested three deep, pointing at the innermost', () => {
    const issue = compileIssue('args.a.exists(x, x.b.exists(y, y.c.exists(z, z == 1)))');
    expect(issue.message).toMatch(/nested 3 deep; the limit is 2/);
    expect(issue).toMatchObject({ line: 1, column: 32 });
  });

  it('stops a macro that would iterate too often, quickly, and evaluates smaller inputs', () => {
    const condition = 'args.items.exists(x, args.items.exists(y, x == y + 1000000))';
    const big = Array.from({ length: 1000 }, (_, index) => index);
    const started = performance.now();
    expect(holds(condition, { items: big })).toMatch(/evaluation budget exceeded/);
    expect(performance.now() - started).toBeLessThan(100);
    // Small enough to stay far from the 10 ms deadline even before the JIT has compiled the evaluator.
    const small = Array.from({ length: 20 }, (_, index) => index);
    expect(holds(condition, { items: small })).toBe(false);
  });

  it('counts string length only when a condition can turn strings into lists', () => {
    const body = 'x'.repeat(200_000);
    expect(holds('args.tags.exists(t, t == "vip")', { tags: ['vip'], body })).toBe(true);
    expect(holds('args.body.split("").exists(c, c == "y")', { body })).toMatch(
      /evaluation budget exceeded/,
    );
  });

  it('measures nested collections in args', () => {
    const nested = { outer: { inner: Array.from({ length: 200_000 }, () => 1) } };
    expect(holds('args.outer.inner.exists(v, v == 2)', nested)).toMatch(/budget exceeded/);
  });
});

describe('compile errors carry the line and column inside the condition', () => {
  it('a syntax error', () => {
    expect(compileIssue('args.amount >')).toMatchObject({
      path: [0, 'rules', 0, 'if'],
      policy: 'probe',
      line: 1,
      column: 14,
    });
  });

  it('an error on a later line', () => {
    const issue = compileIssue('args.amount > 10 &&\n  args.to.endsWith("x") &&\n  args.to ==');
    expect(issue.line).toBe(3);
    expect(issue.column).toBe(13);
  });

  it('an unknown variable', () => {
    const issue = compileIssue('args.a == 1 && user.id == 1');
    expect(issue.message).toMatch(/Unknown variable: user/);
    expect(issue).toMatchObject({ line: 1, column: 16 });
  });

  it('a type error', () => {
    expect(compileIssue('tool > 5').message).toMatch(/no such overload|no matching overload/);
  });

  it('a condition that is not a bool', () => {
    expect(compileIssue('1 + 1').message).toMatch(/must be a bool, but it is int/);
    expect(compileIssue('tool + "x"').message).toMatch(/must be a bool, but it is string/);
  });

  it('compilePolicies throws every issue at once', () => {
    const attempt = () =>
      compilePolicies([
        { name: 'A', tool: 'a', rules: [{ if: 'args.x >', then: 'allow' }] },
        { name: 'B', tool: 'b', rules: [{ if: 'nope == 1', then: 'allow' }] },
      ]);
    expect(attempt).toThrow(PolicyCompileError);
    try {
      attempt();
    } catch (error) {
      expect(PolicyCompileError.isInstance(error)).toBe(true);
      const issues = (error as PolicyCompileError).issues;
      expect(issues.map((issue) => issue.policy)).toEqual(['A', 'B']);
      expect((error as Error).message).toMatch(/policy "A", 0\.rules\.0\.if, line 1, column 9/);
    }
  });
});
