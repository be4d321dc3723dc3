import { describe, expect, it } from 'vitest';
import {
  compilePolicies,
  evaluate,
  type MemoryValues,
  memoryKey,
  memoryNeeds,
  memoryWrites,
  type PolicyDefinition,
  parseDurationLiteral,
  readsAgentSpend,
  validatePolicies,
} from './index';

function refunds(condition: string, extra: Partial<PolicyDefinition> = {}): PolicyDefinition {
  return {
    name: 'Refunds',
    tool: 'stripe.issue_refund',
    rules: [{ if: condition, then: 'block' }],
    default: 'allow',
    ...extra,
  };
}

function decide(condition: string, memory: MemoryValues | undefined, args = {}) {
  const set = compilePolicies([refunds(condition)]);
  return evaluate(set, { tool: 'stripe.issue_refund', args, session: 's-1', memory });
}

describe('memory inputs are found when the condition compiles', () => {
  it('lists what a policy reads, deduplicated, with literal patterns, windows and decisions', () => {
    const set = compilePolicies([
      refunds(
        'session.calls("stripe.issue_refund", duration("24h")) >= 3 && args.amount > 20 || ' +
          'agent.calls("stripe.*", duration("1h"), "allowed") >= 20 || session.cost_usd > 5.0 || ' +
          'agent.cost_usd(duration("24h")) > 100.0 || session.tokens > 100000 || ' +
          '!session.approved("db.read") || session.denied("stripe.*", args) || ' +
          'session.calls("stripe.issue_refund", duration("24h")) > 10',
      ),
    ]);
    const needs = memoryNeeds(set, 'stripe.issue_refund');
    expect(needs.refuseRepeats).toBe(true);
    expect(needs.queries).toEqual([
      { kind: 'calls', scope: 'session', pattern: 'stripe.issue_refund', windowMs: 86_400_000 },
      {
        kind: 'calls',
        scope: 'agent',
        pattern: 'stripe.*',
        windowMs: 3_600_000,
        decision: 'allowed',
      },
      { kind: 'cost_usd', scope: 'session' },
      { kind: 'cost_usd', scope: 'agent', windowMs: 86_400_000 },
      { kind: 'tokens', scope: 'session' },
      { kind: 'approved', scope: 'session', pattern: 'db.read' },
      { kind: 'denied', scope: 'session', pattern: 'stripe.*', sameArgs: true },
    ]);
    expect(memoryNeeds(set, 'other.tool').queries).toEqual([]);
  });

  it('tells which scopes a call of a tool is counted in, by any enabled policy', () => {
    const set = compilePolicies([
      refunds('agent.calls("stripe.*") >= 3 || agent.cost_usd(duration("1h")) > 5.0'),
      {
        name: 'Charge',
        tool: 'stripe.charge',
        rules: [
          {
            if: 'session.calls("stripe.charge") >= 3 || session.approved("db.read")',
            then: 'block',
          },
        ],
        default: 'allow',
      },
      {
        name: 'Off',
        tool: 'mail',
        enabled: false,
        rules: [{ if: 'agent.calls("mail") >= 1', then: 'block' }],
      },
    ]);
    expect(memoryWrites(set, 'stripe.charge')).toEqual({ agent: true, session: true });
    expect(memoryWrites(set, 'stripe.issue_refund')).toEqual({ agent: true, session: false });
    expect(memoryWrites(set, 'db.read')).toEqual({ agent: false, session: true });
    // Spend inputs count no calls; a disabled policy counts nothing.
    expect(memoryWrites(set, 'mail')).toEqual({ agent: false, session: false });
    expect(memoryWrites(set, 'other')).toBe(memoryWrites(set, 'mail'));
  });

  it("tells whether an enabled policy reads the agent's spend (a tool cost then moves the agent)", () => {
    expect(
      readsAgentSpend(compilePolicies([refunds('agent.cost_usd(duration("1h")) > 5.0')])),
    ).toBe(true);
    // The session's spend, the agent's calls, or a disabled policy: no.
    expect(
      readsAgentSpend(
        compilePolicies([
          refunds('session.cost_usd > 5.0 || agent.calls("stripe.*") >= 3'),
          {
            name: 'Off',
            tool: 'mail',
            enabled: false,
            rules: [{ if: 'agent.cost_usd(duration("1h")) > 1.0', then: 'block' }],
          },
        ]),
      ),
    ).toBe(false);
  });

  it('keeps `session` the session id and `agent` the agent', () => {
    const set = compilePolicies([refunds('session == "s-1" && agent.name == "bot"')]);
    const decision = evaluate(set, {
      tool: 'stripe.issue_refund',
      args: {},
      session: 's-1',
      agent: { id: 'a', name: 'bot' },
    });
    expect(decision.reason).toBe('rule_matched');
    expect(memoryNeeds(set, 'stripe.issue_refund').queries).toEqual([]);
  });

  it.each([
    ['session.calls(args.tool) > 1', 'tool pattern as a string literal'],
    ['session.calls("a**") > 1', 'has "**"'],
    ['session.calls("a", duration(args.w)) > 1', 'literal duration'],
    ['session.calls("a", duration("0s")) > 1', 'literal duration'],
    ['session.calls("a", "sometimes") > 1', 'optionally a decision'],
    ['session.calls() > 1', 'needs a tool pattern'],
    ['agent.cost_usd() > 1.0', 'one literal duration'],
    ['session.denied("a", {"x": 1})', 'optionally, `args`'],
    ['session.calls > 1', 'is a function'],
  ])('refuses %s', (condition, message) => {
    const issues = validatePolicies([refunds(condition)]);
    expect(issues[0]?.message).toContain(message);
  });

  it('parses CEL duration literals', () => {
    expect(parseDurationLiteral('1h30m')).toBe(5_400_000);
    expect(parseDurationLiteral('1.5h')).toBe(5_400_000);
    expect(parseDurationLiteral('250ms')).toBe(250);
    expect(parseDurationLiteral('90s')).toBe(90_000);
    expect(parseDurationLiteral('1d')).toBeUndefined();
    expect(parseDurationLiteral('h')).toBeUndefined();
  });
});

describe('memory inputs are read from the values passed in', () => {
  const third = memoryKey({
    kind: 'calls',
    scope: 'session',
    pattern: 'stripe.issue_refund',
    windowMs: 86_400_000,
  });
  const condition =
    'session.calls("stripe.issue_refund", duration("24h")) >= 3 && args.amount > 20';

  it('compose with args: the limit holds at its edge', () => {
    expect(decide(condition, new Map([[third, 2]]), { amount: 50 }).effect).toBe('allow');
    expect(decide(condition, new Map([[third, 3]]), { amount: 50 }).effect).toBe('block');
    expect(decide(condition, new Map([[third, 3]]), { amount: 10 }).effect).toBe('allow');
  });

  it('a value not passed is an evaluation error: on_error decides, never allow', () => {
    const missing = decide(condition, undefined, { amount: 50 });
    expect(missing.effect).toBe('block');
    expect(missing.reason).toBe('condition_error');
    expect(missing.errors[0]?.message).toContain(
      "session.calls('stripe.issue_refund', duration('24h')) is not known",
    );
    const unavailable = decide(
      condition,
      new Map([[third, { unavailable: 'the call has no session id' }]]),
      {
        amount: 50,
      },
    );
    expect(unavailable.reason).toBe('condition_error');
    expect(unavailable.errors[0]?.message).toContain('the call has no session id');
  });

  it('reads dollars as doubles, tokens and counts as ints, approvals as bools', () => {
    const cost = memoryKey({ kind: 'cost_usd', scope: 'session' });
    const tokens = memoryKey({ kind: 'tokens', scope: 'session' });
    const approved = memoryKey({ kind: 'approved', scope: 'session', pattern: 'db.read' });
    const rule = 'session.cost_usd > 5 || session.tokens >= 1000 || !session.approved("db.read")';
    const values = (spent: number, used: number, read: boolean) =>
      new Map<string, number | boolean>([
        [cost, spent],
        [tokens, used],
        [approved, read],
      ]);
    expect(decide(rule, values(5, 999, true)).effect).toBe('allow');
    expect(decide(rule, values(5.01, 999, true)).effect).toBe('block');
    expect(decide(rule, values(0, 1000, true)).effect).toBe('block');
    expect(decide(rule, values(0, 0, false)).effect).toBe('block');
    expect(decide('session.cost_usd * 2.0 > 9.0', values(4.6, 0, true)).effect).toBe('block');
  });

  it('works inside macros', () => {
    const key = memoryKey({ kind: 'calls', scope: 'agent', pattern: 'db.*' });
    const rule = '[1, 2].exists(x, agent.calls("db.*") == x)';
    expect(decide(rule, new Map([[key, 2]])).effect).toBe('block');
    expect(decide(rule, new Map([[key, 3]])).effect).toBe('allow');
  });

  it('type-checks with declared argument types', () => {
    const issues = validatePolicies([
      refunds(condition, { args: { amount: 'number' } }),
      {
        ...refunds('session.cost_usd > args.amount'),
        name: 'Other',
        tool: 'x',
        args: { amount: 'number' },
      },
    ]);
    expect(issues).toEqual([]);
  });
});

describe('refuse_repeats', () => {
  it('is on by default and can be switched off with a window', () => {
    const set = compilePolicies([
      refunds('true'),
      { name: 'Search', tool: 'search', action: 'allow', refuse_repeats: false },
      { name: 'Mail', tool: 'mail', action: 'allow', repeat_window: 600 },
    ]);
    expect(memoryNeeds(set, 'stripe.issue_refund')).toMatchObject({
      refuseRepeats: true,
      repeatWindowMs: undefined,
    });
    expect(memoryNeeds(set, 'search').refuseRepeats).toBe(false);
    expect(memoryNeeds(set, 'mail').repeatWindowMs).toBe(600_000);
    expect(memoryNeeds(set, 'no.policy').refuseRepeats).toBe(true);
    expect(
      validatePolicies([{ name: 'x', tool: 'x', action: 'allow', repeat_window: 0 }]),
    ).toHaveLength(1);
  });
});
