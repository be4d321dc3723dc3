import { describe, expect, test } from 'vitest';
import { alwaysBlocks } from './always-blocks';
import { compilePolicies } from './compile';
import type { PolicyDefinition } from './types';

const blocks = (policy: PolicyDefinition, tool = policy.tool) =>
  alwaysBlocks(compilePolicies([policy]), tool)?.name;

describe('alwaysBlocks', () => {
  test('a block action, a block default without rules, a first unconditional block rule', () => {
    expect(blocks({ name: 'a', tool: 'mcp.fs.write_file', action: 'block' })).toBe('a');
    expect(blocks({ name: 'b', tool: 'mcp.fs.*', default: 'block' }, 'mcp.fs.x')).toBe('b');
    expect(
      blocks({
        name: 'c',
        tool: 't',
        rules: [{ then: 'block' }, { then: 'allow' }],
        default: 'allow',
      }),
    ).toBe('c');
    // Rules that all block, then a blocking default.
    expect(blocks({ name: 'd', tool: 't', rules: [{ if: 'args.a > 1', then: 'block' }] })).toBe(
      'd',
    );
  });

  test('anything that could let a call through or hold it is not "always"', () => {
    expect(blocks({ name: 'a', tool: 't', action: 'allow' })).toBeUndefined();
    expect(blocks({ name: 'b', tool: 't', action: 'requires_approval' })).toBeUndefined();
    expect(
      blocks({ name: 'c', tool: 't', rules: [{ if: 'args.a > 1', then: 'allow' }] }),
    ).toBeUndefined();
    expect(
      blocks({
        name: 'd',
        tool: 't',
        rules: [{ if: 'args.a > 1', then: 'block' }],
        default: 'allow',
      }),
    ).toBeUndefined();
    // A condition error would hold the call.
    expect(
      blocks({
        name: 'e',
        tool: 't',
        rules: [{ if: 'args.a > 1', then: 'block', on_error: 'requires_approval' }],
      }),
    ).toBeUndefined();
    expect(
      blocks({
        name: 'f',
        tool: 't',
        action: 'block',
        args: { a: 'int' },
        on_error: 'requires_approval',
      }),
    ).toBeUndefined();
    // No policy: the agent's default decides, not a policy.
    expect(blocks({ name: 'g', tool: 'other', action: 'block' }, 't')).toBeUndefined();
    // A disabled policy never matches.
    expect(blocks({ name: 'h', tool: 't', action: 'block', enabled: false })).toBeUndefined();
  });
});
