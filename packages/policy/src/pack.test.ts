import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  compilePolicies,
  evaluate,
  loadShellParser,
  parsePolicyFile,
  runPolicyTests,
} from './index';

const packFile = new URL('../packs/coding-agents.yaml', import.meta.url);

beforeAll(async () => {
  await loadShellParser();
});

describe('the coding-agents starter pack', () => {
  it('compiles and passes its own tests', () => {
    const file = parsePolicyFile(readFileSync(packFile, 'utf8'), 'coding-agents.yaml');
    // A first run warms the code paths up: on a shared, loaded test machine a cold first
    // evaluation can pass the 10 ms wall-clock budget, which decides by on_error.
    runPolicyTests(file);
    const results = runPolicyTests(file);
    expect(results.length).toBeGreaterThanOrEqual(25);
    expect(results.filter((result) => !result.passed).map((result) => result.message)).toEqual([]);
  });
});

describe('the pack with the inputs the gateway and the hooks send', () => {
  const file = parsePolicyFile(readFileSync(packFile, 'utf8'), 'coding-agents.yaml');
  const set = compilePolicies(file.policies);

  it('reads mcp.annotations sent by the gateway; untrusted fields are dropped', () => {
    const decide = (mcp: unknown) =>
      evaluate(set, { tool: 'mcp.github.delete_file', args: {}, mcp: mcp as never }).effect;
    expect(
      decide({ server: 'github', tool: 'delete_file', annotations: { destructiveHint: true } }),
    ).toBe('requires_approval');
    expect(decide({ annotations: { readOnlyHint: true } })).toBe('allow');
    // A hint that is not a bool is not a hint: MCP's defaults apply (destructive).
    expect(decide({ annotations: { readOnlyHint: 'yes', destructiveHint: 0 } })).toBe(
      'requires_approval',
    );
    expect(decide(null)).toBe('requires_approval');
  });

  it('exposes mcp.server and mcp.tool, from the name when the caller sends nothing', () => {
    const probe = compilePolicies([
      {
        name: 'probe',
        tool: 'mcp.*',
        rules: [{ if: 'mcp.server == "github" && mcp.tool == "delete_file"', then: 'block' }],
        default: 'allow',
      },
      { name: 'other', tool: 'x', rules: [{ if: 'mcp == null', then: 'block' }], default: 'allow' },
    ]);
    expect(evaluate(probe, { tool: 'mcp.github.delete_file', args: {} }).effect).toBe('block');
    expect(evaluate(probe, { tool: 'mcp.gitlab.delete_file', args: {} }).effect).toBe('allow');
    expect(evaluate(probe, { tool: 'x', args: {} }).effect).toBe('block');
  });

  it('is shipped in the package', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(manifest.files).toContain('packs');
    expect(manifest.exports['./packs/*']).toBe('./packs/*');
  });
});
