import { compilePolicies } from './compile';
import { evaluate } from './evaluate';
import type { PolicyFile } from './file';
import type { Effect, EvaluationInput, PolicyDecision } from './types';

/** The outcome of one test case of a policy file. */
export interface PolicyTestResult {
  /** Position of the test in `tests:`. */
  index: number;
  name?: string;
  tool: string;
  expected: Effect;
  decided: Effect;
  passed: boolean;
  decision: PolicyDecision;
  file: string;
  /** 1-based line of the test case, when the file was parsed by `parsePolicyFile`. */
  line?: number;
  /** `file:line` of the test case (or just the file). */
  location: string;
  /** One line for a report: what was expected and what was decided, and why. */
  message: string;
}

/**
 * Runs the test cases of a policy file (`tests: [{tool, args, expect}]`) against its policies
 * and its `settings.default_action`. Returns one result per test, in order; a failing one says
 * where the test is (`file:line`), what it expected and what was decided, with the explanation.
 * Throws `PolicyCompileError` if the file's policies do not compile.
 */
export function runPolicyTests(file: PolicyFile, fileName?: string): PolicyTestResult[] {
  const set = compilePolicies(file.policies);
  const name = fileName ?? file.fileName ?? 'policies.yaml';
  return file.tests.map((test, index) => {
    const input: EvaluationInput = { tool: test.tool, args: test.args ?? {} };
    if (test.session !== undefined) input.session = test.session;
    if (test.agent !== undefined) input.agent = test.agent;
    if (test.environment !== undefined) input.environment = test.environment;
    if (test.now !== undefined) input.now = new Date(test.now);
    if (test.mcp !== undefined) input.mcp = test.mcp;
    const decision = evaluate(set, input, file.settings.default_action);
    const passed = decision.effect === test.expect;
    const location = test.line === undefined ? name : `${name}:${test.line}`;
    const label =
      test.name === undefined
        ? `test ${index} (${test.tool})`
        : `test "${test.name}" (${test.tool})`;
    const message = passed
      ? `${location}: ${label} passed: ${decision.effect}`
      : `${location}: ${label} failed: expected ${test.expect}, decided ${decision.effect}. ${decision.explanation}`;
    const result: PolicyTestResult = {
      index,
      tool: test.tool,
      expected: test.expect,
      decided: decision.effect,
      passed,
      decision,
      file: name,
      location,
      message,
    };
    if (test.name !== undefined) result.name = test.name;
    if (test.line !== undefined) result.line = test.line;
    return result;
  });
}
