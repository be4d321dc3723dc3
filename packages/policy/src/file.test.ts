import { describe, expect, it } from 'vitest';
import { PolicyFileError, type PolicyFileIssue, parsePolicyFile, runPolicyTests } from './index';

const example = `settings:
  default_action: allow
policies:
  - name: Refunds
    tool: stripe.issue_refund
    description: Refunds need a human.
    action: require_approval
    timeout: 300
    on_timeout: deny
  - name: Email
    tool: communication.*
    rules:
      - if: 'args.to.endsWith("@example.com")'
        then: allow
      - if: 'args.to.size() > 0'
        then: requires_approval
        timeout: 600
    default: block
tests:
  - tool: stripe.issue_refund
    args: { amount: 10 }
    session: s1
    expect: requires_approval
  - name: internal mail
    tool: communication.email
    args:
      to: bob@example.com
    expect: allow
  - tool: unknown.tool
    expect: allow
`;

/** The issues of a file that must not parse. */
function issuesOf(text: string, fileName = 'policies.yaml'): PolicyFileIssue[] {
  try {
    parsePolicyFile(text, fileName);
  } catch (error) {
    expect(PolicyFileError.isInstance(error)).toBe(true);
    return (error as PolicyFileError).issues;
  }
  throw new Error('expected the file to be refused');
}

describe('parsePolicyFile', () => {
  it('reads settings, policies and tests, with the legacy require_approval alias', () => {
    const file = parsePolicyFile(example, 'agents/support.yaml');
    expect(file.settings).toEqual({ default_action: 'allow' });
    expect(file.fileName).toBe('agents/support.yaml');
    expect(file.policies).toEqual([
      {
        name: 'Refunds',
        tool: 'stripe.issue_refund',
        description: 'Refunds need a human.',
        action: 'requires_approval',
        timeout: 300,
        on_timeout: 'deny',
      },
      {
        name: 'Email',
        tool: 'communication.*',
        rules: [
          { if: 'args.to.endsWith("@example.com")', then: 'allow' },
          { if: 'args.to.size() > 0', then: 'requires_approval', timeout: 600 },
        ],
        default: 'block',
      },
    ]);
    expect(file.tests).toEqual([
      {
        tool: 'stripe.issue_refund',
        args: { amount: 10n },
        session: 's1',
        expect: 'requires_approval',
        line: 20,
        column: 5,
      },
      {
        name: 'internal mail',
        tool: 'communication.email',
        args: { to: 'bob@example.com' },
        expect: 'allow',
        line: 24,
        column: 5,
      },
      { tool: 'unknown.tool', args: {}, expect: 'allow', line: 29, column: 5 },
    ]);
  });

  it('defaults default_action to allow and tests to none', () => {
    const file = parsePolicyFile('policies:\n  - name: All\n    tool: "*"\n    action: block\n');
    expect(file.settings.default_action).toBe('allow');
    expect(file.tests).toEqual([]);
  });

  it('reads simulation.forbid as flip kinds (held is requires_approval), without duplicates', () => {
    const file = parsePolicyFile(
      'policies: []\nsimulation:\n  forbid: [allow->block, allow → held, Allow->Block, held=>block]\n',
    );
    expect(file.simulation.forbid).toEqual([
      'allow->block',
      'allow->requires_approval',
      'requires_approval->block',
    ]);
    expect(parsePolicyFile('policies: []\n').simulation).toEqual({ forbid: [] });
    expect(parsePolicyFile('policies: []\nsimulation: {}\n').simulation).toEqual({ forbid: [] });
  });

  it('points at a simulation.forbid entry that is not a flip, and at unknown simulation keys', () => {
    const issues = issuesOf(
      'policies: []\nsimulation:\n  forbid:\n    - allow->block\n    - allow->allow\n  fail: yes\n',
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          line: 5,
          column: 7,
          message: expect.stringContaining('simulation.forbid[1]: "allow->allow" is not a flip'),
        }),
        expect.objectContaining({
          line: 6,
          column: 3,
          message: 'simulation.fail: unknown key "fail"',
        }),
      ]),
    );
  });

  it('accepts require_approval in settings too', () => {
    const file = parsePolicyFile('settings:\n  default_action: require_approval\npolicies: []\n');
    expect(file.settings.default_action).toBe('requires_approval');
  });

  it.each<[string, string, Partial<PolicyFileIssue>]>([
    [
      'an unknown key, at the key',
      'policies:\n  - name: A\n    tool: a\n    action: allow\n    colour: red\n',
      { line: 5, column: 5, message: 'policies[0].colour: unknown key "colour"' },
    ],
    [
      'an unknown top-level key',
      'policies: []\nrulez: []\n',
      { line: 2, column: 1, message: 'rulez: unknown key "rulez"' },
    ],
    [
      'an unknown key in a rule',
      'policies:\n  - name: A\n    tool: a\n    rules:\n      - if: "true"\n        then: allow\n        else: block\n',
      { line: 7, column: 9, message: 'policies[0].rules[0].else: unknown key "else"' },
    ],
    [
      'a wrong effect, at the value',
      'policies:\n  - name: A\n    tool: a\n    action: maybe\n',
      {
        line: 4,
        column: 13,
        message: 'policies[0].action: must be one of allow, block, requires_approval, not "maybe"',
      },
    ],
    [
      'a wrong effect in a test',
      'policies: []\ntests:\n  - tool: a\n    expect: deny\n',
      { line: 4, column: 13 },
    ],
    [
      'a missing key, at its mapping',
      'policies:\n  - name: A\n    action: allow\n',
      { line: 2, column: 5, message: 'policies[0].tool: "tool" is required' },
    ],
    [
      'a policy without action or rules',
      'policies:\n  - name: A\n    tool: a\n',
      {
        line: 2,
        column: 5,
        message: 'policies[0]: a policy needs `action`, or `rules` (with an optional `default`)',
      },
    ],
    [
      'a duplicate tool pattern, at the second one',
      'policies:\n  - name: A\n    tool: a.*\n    action: allow\n  - name: B\n    tool: a.*\n    action: block\n',
      { line: 6, column: 11 },
    ],
    [
      'a timeout on a non-approval rule',
      'policies:\n  - name: A\n    tool: a\n    rules:\n      - then: allow\n        timeout: 5\n',
      {
        line: 6,
        column: 18,
        message:
          'policies[0].rules[0].timeout: only applies to "then: requires_approval", not "then: allow"',
      },
    ],
    ['bad YAML', 'policies:\n  - name: A\n   tool: a\n', { line: 3 }],
    ['a duplicate key', 'policies: []\npolicies: []\n', { line: 2, column: 1 }],
    ['not a mapping', '- a\n- b\n', { line: 1, column: 1 }],
    ['an empty file', '', { line: 1, column: 1 }],
  ])('refuses %s with file, line and column', (_case, text, expected) => {
    const issues = issuesOf(text);
    expect(issues[0]).toMatchObject({ file: 'policies.yaml', ...expected });
  });

  it('says file:line:column in the error message', () => {
    const attempt = () =>
      parsePolicyFile('policies:\n  - name: A\n    tool: a\n    action: nope\n', 'agents/bot.yaml');
    expect(attempt).toThrow(/^agents\/bot\.yaml:4:13: policies\[0\]\.action: must be one of/);
  });

  it('reports every issue, not only the first', () => {
    const issues = issuesOf(
      'policies:\n  - name: A\n    tool: a\n    action: nope\n  - name: B\n    tool: b b\n    action: allow\n',
    );
    expect(issues.map((issue) => issue.line)).toEqual([4, 6]);
  });

  describe('a condition that does not compile points into the YAML', () => {
    it.each<[string, string, number, number]>([
      [
        'single-quoted',
        "policies:\n  - name: A\n    tool: a\n    rules:\n      - if: 'args.amount >'\n        then: allow\n",
        5,
        27,
      ],
      [
        'plain',
        'policies:\n  - name: A\n    tool: a\n    rules:\n      - if: args.amount > 10 && user.id == 1\n        then: allow\n',
        5,
        33,
      ],
      [
        'double-quoted with escapes before the error',
        'policies:\n  - name: A\n    tool: a\n    rules:\n      - if: "args.to == \\"x\\" && nope"\n        then: allow\n',
        5,
        34,
      ],
      [
        'single-quoted with a doubled quote before the error',
        "policies:\n  - name: A\n    tool: a\n    rules:\n      - if: 'args.to == ''x'' && nope'\n        then: allow\n",
        5,
        34,
      ],
      [
        'a literal block',
        'policies:\n  - name: A\n    tool: a\n    rules:\n      - if: |\n          args.amount > 10 &&\n            args.to == nope\n        then: allow\n',
        7,
        24,
      ],
      [
        'a folded block',
        'policies:\n  - name: A\n    tool: a\n    rules:\n      - if: >\n          args.amount > 10 &&\n          nope == 1\n        then: allow\n',
        7,
        11,
      ],
    ])('in a %s scalar', (_case, text, line, column) => {
      const [issue] = issuesOf(text);
      expect(issue).toMatchObject({ line, column });
      expect(issue?.message).toMatch(/^policies\[0\]\.rules\[0\]\.if: /);
    });

    it('a bad regular expression points at the pattern', () => {
      const [issue] = issuesOf(
        'policies:\n  - name: A\n    tool: a\n    rules:\n      - if: args.s.matches("(?=x)")\n        then: allow\n',
      );
      expect(issue).toMatchObject({ line: 5, column: 28 });
      expect(issue?.message).toMatch(/invalid regular expression/);
    });
  });
});

describe('runPolicyTests', () => {
  it("gives conditions the file's integers exactly, as the server does", () => {
    const file = parsePolicyFile(
      `policies:
  - name: Ledger
    tool: ledger.transfer
    rules:
      - if: 'args.account == 12345678901234567891u'
        then: block
      - if: 'args.cents % 2 == 1 && type(args.ratio) == double && args.items[0] == 1'
        then: requires_approval
    default: allow
tests:
  - tool: ledger.transfer
    args: {account: 12345678901234567891, cents: 1}
    expect: block
  - tool: ledger.transfer
    args: {account: 12345678901234567890, cents: 3, ratio: 1.0, items: [1]}
    expect: requires_approval
  - tool: ledger.transfer
    args: {account: 1, cents: 2, ratio: 1.0, items: [1]}
    expect: allow
`,
      'ledger.yaml',
    );
    expect(runPolicyTests(file).map((result) => result.message)).toEqual([
      'ledger.yaml:11: test 0 (ledger.transfer) passed: block',
      'ledger.yaml:14: test 1 (ledger.transfer) passed: requires_approval',
      'ledger.yaml:17: test 2 (ledger.transfer) passed: allow',
    ]);
  });

  it('passes tests that match the decisions', () => {
    const results = runPolicyTests(parsePolicyFile(example, 'support.yaml'));
    expect(results.map((result) => [result.passed, result.decided])).toEqual([
      [true, 'requires_approval'],
      [true, 'allow'],
      [true, 'allow'],
    ]);
    expect(results[1]).toMatchObject({
      name: 'internal mail',
      location: 'support.yaml:24',
      line: 24,
      file: 'support.yaml',
    });
  });

  it('fails a test with its file:line, what was expected and what was decided', () => {
    const file = parsePolicyFile(
      `settings:
  default_action: block
policies:
  - name: Email
    tool: email.send
    rules:
      - if: 'args.to.endsWith("@corp.com")'
        then: allow
    default: requires_approval
tests:
  - tool: email.send
    args: { to: "a@corp.com" }
    expect: allow
  - tool: email.send
    args: { to: "a@gmail.com" }
    expect: allow
  - tool: other
    expect: allow
`,
      'mail.yaml',
    );
    const results = runPolicyTests(file);
    expect(results.map((result) => result.passed)).toEqual([true, false, false]);
    expect(results[1]).toMatchObject({
      expected: 'allow',
      decided: 'requires_approval',
      location: 'mail.yaml:14',
    });
    expect(results[1]?.message).toBe(
      'mail.yaml:14: test 1 (email.send) failed: expected allow, decided requires_approval. Policy "Email" (tool email.send): no rule matched, so the policy default applies; the call is held for approval (then deny).',
    );
    expect(results[2]).toMatchObject({ decided: 'block', location: 'mail.yaml:17' });
    expect(results[2]?.decision.reason).toBe('no_policy_configured');
  });

  it('passes session, agent, environment and now to the conditions', () => {
    const file = parsePolicyFile(`policies:
  - name: Live hours
    tool: deploy
    rules:
      - if: environment == "live" && now.getHours() >= 18
        then: block
      - if: agent.name == "ci" && session == "nightly"
        then: allow
    default: requires_approval
tests:
  - tool: deploy
    environment: live
    now: "2030-01-01T19:00:00Z"
    expect: block
  - tool: deploy
    environment: live
    now: "2030-01-01T09:00:00Z"
    agent: { id: a1, name: ci }
    session: nightly
    expect: allow
`);
    expect(runPolicyTests(file).map((result) => result.passed)).toEqual([true, true]);
  });

  it('uses the file name given, or the parsed one', () => {
    const file = parsePolicyFile(example, 'a.yaml');
    expect(runPolicyTests(file)[0]?.file).toBe('a.yaml');
    expect(runPolicyTests(file, 'b.yaml')[0]?.location).toBe('b.yaml:20');
  });
});

describe('on_error and declared argument types in a file', () => {
  it('reads them, and points at on_error: allow and an unknown type', () => {
    const file = parsePolicyFile(
      [
        'policies:',
        '  - name: Refunds',
        '    tool: stripe.issue_refund',
        '    args: { amount: number, to: list<string> }',
        '    on_error: require_approval',
        '    rules:',
        '      - if: args.amount > 100',
        '        then: block',
      ].join('\n'),
    );
    expect(file.policies[0]).toMatchObject({
      args: { amount: 'number', to: 'list<string>' },
      on_error: 'requires_approval',
    });
    let error: unknown;
    try {
      parsePolicyFile(
        [
          'policies:',
          '  - name: Refunds',
          '    tool: stripe.issue_refund',
          '    args: { amount: money }',
          '    on_error: allow',
          '    rules:',
          '      - if: args.amount > 100',
          '        then: block',
        ].join('\n'),
      );
    } catch (caught) {
      error = caught;
    }
    const lines = String((error as Error).message).split('\n');
    expect(
      lines.some((line) => /policies.yaml:4:\d+: .*"money" is not an argument type/.test(line)),
    ).toBe(true);
    expect(
      lines.some((line) => /policies.yaml:5:\d+: .*on_error: cannot be allow/.test(line)),
    ).toBe(true);
  });
});
