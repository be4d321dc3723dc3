import { argTypeMismatch, describeShape } from './arg-types';
import { EvaluationBudget } from './budget';
import { type CompiledCondition, type ConditionVariables, evaluationMessage } from './cel';
import {
  type CompiledPolicySet,
  effectPhrase,
  freezeDecision,
  NO_ERRORS,
  type PolicyRuntime,
  type RuleRuntime,
  runtimeOf,
} from './compile';
import { EFFECTS } from './effects';
import { evaluationUnits } from './limits';
import { mcpVariable } from './mcp-input';
import { describeMemoryQuery, memoryKey } from './memory-input';
import type { Effect, EvaluationInput, PolicyDecision } from './types';

const EMPTY_ARGS: Record<string, unknown> = Object.freeze({});

const noPolicyDecisions = new Map<string, PolicyDecision>(
  EFFECTS.map((effect) => [effect, noPolicyDecision(effect)]),
);

function noPolicyDecision(effect: Effect): PolicyDecision {
  const onTimeout = effect === 'requires_approval' ? 'deny' : undefined;
  return freezeDecision({
    effect,
    reason: 'no_policy_configured',
    timeout: undefined,
    onTimeout,
    errors: NO_ERRORS,
    explanation: `No policy matches this tool, so the agent's default action applies; the call is ${effectPhrase(effect, undefined, onTimeout)}.`,
  });
}

/**
 * Decides one tool call: finds the policy for `input.tool` (exact, most specific pattern, `*`), then
 * the first rule whose condition holds, else the policy's default. When no policy matches,
 * `defaultAction` (the agent's `default_action`, `allow` when absent) decides with reason
 * `no_policy_configured` (an unknown value blocks). A condition that cannot be evaluated (a
 * missing field, a wrong type, a non-bool result, the evaluation budget) never lets the call
 * through: the policy's `on_error` (`block` unless set to `requires_approval`) decides, with
 * reason `condition_error`; arguments that do not have the policy's declared types are decided
 * the same way, with reason `invalid_arguments`. Never throws for bad input: every outcome is a
 * decision.
 */
export function evaluate(
  set: CompiledPolicySet,
  input: EvaluationInput,
  defaultAction: Effect = 'allow',
): PolicyDecision {
  const policy = runtimeOf(set).match(input.tool);
  if (policy === undefined) {
    // A stored default_action may use the legacy spelling; anything unknown fails closed.
    const effect =
      defaultAction === ('require_approval' as Effect) ? 'requires_approval' : defaultAction;
    return noPolicyDecisions.get(effect) ?? (noPolicyDecisions.get('block') as PolicyDecision);
  }
  if (!policy.hasConditions && policy.argTypes === undefined && policy.cost === undefined) {
    // Without conditions the first rule (if any) always decides.
    return policy.rules[0]?.decision ?? policy.defaultDecision;
  }
  return evaluateRules(policy, input);
}

/** The largest cost one call may have, in dollars (a budget's largest limit). */
export const MAX_CALL_COST_USD = 1_000_000;

/**
 * The decision with the call's cost (the policy's `cost`) when it allows or holds the call; a
 * cost that cannot be evaluated, or is not a number from 0 to `MAX_CALL_COST_USD`, makes
 * `on_error` decide.
 */
function withCost(
  policy: PolicyRuntime,
  decision: PolicyDecision,
  variables: ConditionVariables,
  budget: EvaluationBudget,
): PolicyDecision {
  const cost = policy.cost;
  if (cost === undefined || decision.effect === 'block') return decision;
  let value: unknown;
  let message: string | undefined;
  if (budget.exceeded === undefined) {
    try {
      value = evaluateQuietly(cost, variables, budget);
    } catch (error) {
      message = withoutValues(evaluationMessage(error));
    }
  }
  if (budget.exceeded !== undefined) message = budget.exceeded;
  const dollars = typeof value === 'bigint' ? Number(value) : value;
  if (message === undefined) {
    if (typeof dollars !== 'number') message = `it returned ${describeValue(value)}, not a number`;
    else if (!Number.isFinite(dollars) || dollars < 0 || dollars > MAX_CALL_COST_USD) {
      message = `it is ${Number.isFinite(dollars) ? 'out of range' : 'not finite'}: a cost is from 0 to ${MAX_CALL_COST_USD} dollars`;
    }
  }
  if (message === undefined && policy.budget !== undefined) {
    const spent = variables.memory?.get(memoryKey(policy.budget.query));
    if (typeof spent !== 'number') {
      message = `${describeMemoryQuery(policy.budget.query)} is not known${spent !== undefined && typeof spent === 'object' ? `: ${spent.unavailable}` : ''}`;
    } else if (spent + (dollars as number) > policy.budget.usd + 1e-9) {
      return policy.budgetDecision(dollars as number, spent);
    }
  }
  if (message !== undefined) {
    return policy.costErrorDecision(message, describeShape(variables.args));
  }
  return Object.freeze({ ...decision, costUsd: dollars as number });
}

function evaluateRules(policy: PolicyRuntime, input: EvaluationInput): PolicyDecision {
  const args =
    input.args !== null && typeof input.args === 'object' && !Array.isArray(input.args)
      ? input.args
      : EMPTY_ARGS;
  if (policy.argTypes !== undefined) {
    for (const [name, type] of policy.argTypes) {
      const mismatch = argTypeMismatch(
        type,
        Object.hasOwn(args, name) ? args[name] : undefined,
        `args.${name}`,
      );
      if (mismatch !== undefined) {
        return policy.errorDecision(undefined, 'invalid_arguments', {
          ruleIndex: -1,
          message: mismatch,
          shape: describeShape(args),
        });
      }
    }
  }
  const variables: ConditionVariables = {
    args,
    tool: input.tool,
    session: input.session ?? null,
    agent: input.agent ?? null,
    environment: input.environment ?? null,
    now: input.now ?? (policy.usesNow ? new Date() : undefined),
    mcp: mcpVariable(input.tool, input.mcp),
    memory: input.memory,
  };
  // One budget for every condition tried for this call, smaller for a large check.
  const budget = new EvaluationBudget(evaluationUnits(input.textLength));
  const outcome = firstDecision(policy, 0, variables, budget);
  if (outcome.error === undefined) return withCost(policy, outcome.decision, variables, budget);
  const { rule, message } = outcome.error;
  const shape = describeShape(args);
  const decision = policy.errorDecision(rule, 'condition_error', {
    ruleIndex: rule.index,
    message,
    shape,
  });
  // Holding for a human is only right while a human's answer could matter. When the erring rule
  // blocks and the rules after it block too, the call is blocked whichever way the condition
  // would have gone: an approver must not be able to let through what every outcome refuses.
  if (decision.effect === 'requires_approval' && rule.decision.effect === 'block') {
    const rest = firstDecision(policy, rule.index + 1, variables, budget);
    if (rest.error === undefined && rest.decision.effect === 'block') {
      return policy.certainBlock(rule, message, shape, rest.decision);
    }
  }
  return decision;
}

type RulesOutcome =
  | { decision: PolicyDecision; error?: undefined }
  | { error: { rule: RuleRuntime; message: string } };

/** The first rule from `start` on that holds (else the default), or the first that errs. */
function firstDecision(
  policy: PolicyRuntime,
  start: number,
  variables: ConditionVariables,
  budget: EvaluationBudget,
): RulesOutcome {
  for (let index = start; index < policy.rules.length; index++) {
    const rule = policy.rules[index] as RuleRuntime;
    const condition = rule.compiled;
    if (condition === undefined) return { decision: rule.decision };
    let result: unknown;
    let message: string | undefined;
    if (budget.exceeded === undefined) {
      try {
        result = evaluateQuietly(condition, variables, budget);
      } catch (error) {
        message = withoutValues(evaluationMessage(error));
      }
    }
    // An error the library absorbed after the budget ran out still fails the condition.
    if (budget.exceeded !== undefined) message = budget.exceeded;
    else if (message === undefined && result !== true && result !== false) {
      message = `condition returned ${describeValue(result)}, not a bool`;
    }
    if (message !== undefined) return { error: { rule, message } };
    if (result === true) return { decision: rule.decision };
  }
  return { decision: policy.defaultDecision };
}

/**
 * Evaluates without capturing stack traces: a condition that fails (a missing field is common)
 * throws an error that is only turned into a message, and capturing its stack is most of the
 * cost of that path. The limit is restored before anything else can run.
 */
function evaluateQuietly(
  condition: CompiledCondition,
  variables: ConditionVariables,
  budget: EvaluationBudget,
): unknown {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return condition.evaluate(variables, budget);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * An error message as it may be logged: a few library messages quote the value that failed
 * (`bool() conversion error: invalid string value "…"`), and arguments can hold secrets; the
 * shape says what the value was.
 */
const UNQUOTED_VALUE =
  /^(Invalid duration string: |Invalid time zone specified: |Invalid regular expression: |integer overflow: ).*$/s;

function withoutValues(text: string): string {
  // A message may quote a value of any length (a map key from the arguments): only its start
  // can be shown, so only that is read; a quote the cut leaves open is closed by the end.
  const message = text.length > 1000 ? text.slice(0, 1000) : text;
  // Single quotes are the library's for types ('dyn<string>.endsWith(int)'): kept. A few
  // library messages end with the value unquoted (`integer overflow: 1234`): cut there.
  const redacted = message
    .replace(/"(?:[^"\\]|\\.?)*(?:"|$)/g, '"…"')
    .replace(UNQUOTED_VALUE, '$1…');
  return redacted.length > 300 ? `${redacted.slice(0, 299)}…` : redacted;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'bigint') return `the int ${value}`;
  if (typeof value === 'number') return `the double ${value}`;
  if (typeof value === 'string') return 'a string';
  return `a ${typeof value}`;
}

/**
 * Decides a list of calls with one compiled set, for "what would this draft have decided on the
 * last N calls". Returns one decision per call, in order.
 */
export function simulate(
  set: CompiledPolicySet,
  calls: EvaluationInput[],
  defaultAction: Effect = 'allow',
): PolicyDecision[] {
  return calls.map((call) => evaluate(set, call, defaultAction));
}
