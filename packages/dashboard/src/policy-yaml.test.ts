import { describe, expect, it } from 'vitest';
import { diffLines, locateIssue, parsePoliciesYaml, policiesToYaml } from './policy-yaml';

const text = `policies:
  - name: Refunds
    tool: stripe.issue_refund
    rules:
      - if: args.amount <=
        then: allow
      - if: "args.to.endsWith('@x.com') &&"
        then: block
    default: requires_approval
`;

describe('policy YAML', () => {
  it('round-trips a policy set', () => {
    const policies = [{ name: 'A', tool: 'x.*', rules: [{ if: 'args.n > 1', then: 'block' }] }];
    expect(parsePoliciesYaml(policiesToYaml(policies))).toEqual({ policies, problems: [] });
    expect(policiesToYaml([])).toBe('policies: []\n');
  });

  it("takes a whole policy file's policies, leaving settings, tests and simulation to the CLI", () => {
    const file = `settings:\n  default_action: allow\npolicies:\n  - name: A\n    tool: x.*\n    action: block\ntests: []\nsimulation:\n  forbid: [allow->block]\n`;
    const policies = [{ name: 'A', tool: 'x.*', action: 'block' }];
    expect(parsePoliciesYaml(file)).toEqual({ policies, problems: [] });
    expect(policiesToYaml(policies)).not.toContain('simulation');
  });

  it('reports YAML syntax errors with their line and column', () => {
    const result = parsePoliciesYaml('policies:\n  - name: [unclosed\n');
    expect(result.policies).toBeUndefined();
    expect(result.problems[0]?.line).toBeGreaterThanOrEqual(2);
    expect(parsePoliciesYaml('- just a list').problems[0]?.message).toMatch(/policies:/);
  });

  it('places a CEL error inside a plain condition', () => {
    const policies = parsePoliciesYaml(text).policies!;
    const problem = locateIssue(
      text,
      {
        policy: 'Refunds',
        path: [0, 'rules', 0, 'if'],
        message: 'Unexpected token: EOF',
        line: 1,
        column: 16,
      },
      policies,
    );
    // `      - if: ` is 12 characters; the condition starts at column 13, its 16th character is
    // at column 28.
    expect(problem).toMatchObject({ line: 5, column: 28, where: 'policy "Refunds", rule 1, if' });
  });

  it('places a CEL error inside a quoted condition (after the quote)', () => {
    const policies = parsePoliciesYaml(text).policies!;
    const problem = locateIssue(
      text,
      { path: [0, 'rules', 1, 'if'], message: 'Unexpected token: EOF', line: 1, column: 1 },
      policies,
    );
    expect(problem).toMatchObject({ line: 7, column: 14 });
  });

  it('points a field error at the field, or at its policy when the field is missing', () => {
    const policies = parsePoliciesYaml(text).policies!;
    expect(locateIssue(text, { path: [0, 'default'], message: 'bad' }, policies)).toMatchObject({
      line: 9,
      column: 14,
    });
    expect(locateIssue(text, { path: [0, 'timeout'], message: 'missing' }, policies).line).toBe(2);
  });

  it('diffs lines', () => {
    expect(diffLines('a\nb\nc\n', 'a\nc\nd\n')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'removed', text: 'b' },
      { kind: 'same', text: 'c' },
      { kind: 'added', text: 'd' },
    ]);
  });
});

describe('diffLines', () => {
  it('compares a last line without a newline like the others', () => {
    expect(diffLines('a\nb', 'a\nb\n')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'same', text: 'b' },
    ]);
    expect(diffLines('', 'a\n')).toEqual([{ kind: 'added', text: 'a' }]);
  });

  it('shows a rewrite of more than a thousand lines as removed, then added', () => {
    const lines = (word: string) =>
      Array.from({ length: 601 }, (_, index) => (index === 300 ? 'shared' : `${word} ${index}`));
    const diff = diffLines(lines('old').join('\n'), lines('new').join('\n'));
    // Past a thousand edits the diff is not searched: even the shared line is removed and added.
    expect(diff).toHaveLength(1_202);
    expect(diff[0]).toEqual({ kind: 'removed', text: 'old 0' });
    expect(diff[300]).toEqual({ kind: 'removed', text: 'shared' });
    expect(diff[601]).toEqual({ kind: 'added', text: 'new 0' });
    expect(diff.filter((line) => line.kind === 'same')).toEqual([]);
  });
});
