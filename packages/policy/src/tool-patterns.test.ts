import { describe, expect, it } from 'vitest';
import { compilePolicies, matchPolicy, validatePolicies } from './index';
import { compileToolPattern, patternsOverlap, toolPatternMatches } from './tool-patterns';

const matches = (pattern: string, tool: string) =>
  toolPatternMatches(compileToolPattern(pattern), tool);

describe('tool patterns with * anywhere', () => {
  it('matches * within a segment, and a final * across segments', () => {
    expect(matches('mcp.*.delete_file', 'mcp.github.delete_file')).toBe(true);
    expect(matches('mcp.*.delete_file', 'mcp.git.hub.delete_file')).toBe(false);
    expect(matches('mcp.*.delete_file', 'mcp.github.delete_files')).toBe(false);
    expect(matches('mcp.github.delete_*', 'mcp.github.delete_repo')).toBe(true);
    expect(matches('mcp.github.delete_*', 'mcp.github.create_repo')).toBe(false);
    expect(matches('mcp.*.*_file', 'mcp.fs.write_file')).toBe(true);
    expect(matches('mcp.*.*_file', 'mcp.fs._file')).toBe(true);
    expect(matches('mcp.*.*_file', 'mcp.fs.file')).toBe(false);
    expect(matches('*.delete', 'a.delete')).toBe(true);
    expect(matches('*.delete', 'a.b.delete')).toBe(false);
    expect(matches('a*b*c', 'abc')).toBe(true);
    expect(matches('a*b*c', 'axxbyyc')).toBe(true);
    expect(matches('a*b*c', 'acb')).toBe(false);
    expect(matches('ab*ba', 'aba')).toBe(false);
  });

  it('keeps prefix patterns exactly as they were', () => {
    const cases: [string, string][] = [
      ['communication.*', 'communication.email.send'],
      ['communication.*', 'communication.'],
      ['communication.*', 'communication'],
      ['communication*', 'communicationX.y'],
      ['stripe.iss*', 'stripe.issue.refund'],
      ['send_*', 'send_sms'],
      ['send_*', 'send'],
      ['*', 'anything.at.all'],
    ];
    for (const [pattern, tool] of cases) {
      expect(matches(pattern, tool), `${pattern} ${tool}`).toBe(
        tool.startsWith(pattern.slice(0, -1)),
      );
    }
  });

  it('picks exact, then most literal characters, then fewer *, then the later first *', () => {
    const set = compilePolicies([
      { name: 'all', tool: '*', action: 'allow' },
      { name: 'mcp', tool: 'mcp.*', action: 'allow' },
      { name: 'github', tool: 'mcp.github.*', action: 'allow' },
      { name: 'any delete_file', tool: 'mcp.*.delete_file', action: 'requires_approval' },
      { name: 'github deletes', tool: 'mcp.github.delete_*', action: 'block' },
      { name: 'exact', tool: 'mcp.github.delete_file', action: 'allow' },
      { name: 'deletes', tool: 'mcp.*.delete_*', action: 'block' },
    ]);
    const decide = (tool: string) => matchPolicy(set, tool)?.name;
    expect(decide('mcp.github.delete_file')).toBe('exact');
    expect(decide('mcp.fs.delete_file')).toBe('any delete_file');
    expect(decide('mcp.github.delete_repo')).toBe('github deletes');
    expect(decide('mcp.fs.delete_dir')).toBe('deletes');
    expect(decide('mcp.github.list')).toBe('github');
    expect(decide('mcp.fs.read')).toBe('mcp');
    expect(decide('claude_code.Bash')).toBe('all');
    // Resolved again from the cache: the same answer.
    expect(decide('mcp.fs.delete_file')).toBe('any delete_file');
  });

  it('refuses two patterns that tie and can match one tool, with a clear message', () => {
    const issues = validatePolicies([
      { name: 'a', tool: 'mcp.*.delete', action: 'block' },
      { name: 'b', tool: 'mcp.fs.*', action: 'allow' },
      { name: 'c', tool: 'mcp.*.remove', action: 'block' },
      { name: 'd', tool: 'mcp.*.*delete*', action: 'block' },
      { name: 'e', tool: 'mcp.*.*remove*', action: 'block' },
      { name: 'f', tool: 'mcp.*.*rename*', action: 'block', enabled: false },
    ]);
    expect(issues).toEqual([
      {
        policy: 'e',
        path: [4, 'tool'],
        message: expect.stringMatching(
          /^"mcp\.\*\.\*remove\*" and "mcp\.\*\.\*delete\*" \(policy #3\) can match the same tool and neither is more specific/,
        ),
      },
    ]);
  });

  it('decides overlap exactly', () => {
    expect(patternsOverlap('mcp.*.delete', 'mcp.fs.*')).toBe(true);
    expect(patternsOverlap('a.*b', 'a.b*')).toBe(true);
    expect(patternsOverlap('a*.b', 'a.*b')).toBe(true);
    expect(patternsOverlap('x*.y', 'x.*z')).toBe(false);
    expect(patternsOverlap('a*c', 'ab*')).toBe(true);
    expect(patternsOverlap('a*', 'b*')).toBe(false);
    expect(patternsOverlap('a*b.c', 'a.*c')).toBe(false);
  });
});
