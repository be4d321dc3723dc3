import {
  type CompiledCondition,
  type ConditionVariables,
  evaluationMessage,
  largestCollection,
  macroCost,
} from './cel';
import {
  type CompiledPolicySet,
  effectPhrase,
  freezeDecision,
  NO_ERRORS,
  type PolicyRuntime,
  runtimeOf,
} from './compile';
import { POLICY_LIMITS } from './limits';
import type { Effect, EvaluationInput, PolicyDecision, RuleEvaluationError } from './types';

const EMPTY_ARGS: Record<string, unknown> = Object.freeze({});

const noPolicyDecisions = new Map<string, PolicyDecision>(
  (['allow', 'block', 'requires_approval'] as const).map((effect) => [
    effect,
    noPolicyDecision(effect),
  ]),
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

function withErrors(decision: PolicyDecision, errors: RuleEvaluationError[]): PolicyDecision {
  const listed = errors.map((error) => `rule ${error.ruleIndex + 1}: ${error.message}`).join('; ');
  const count = errors.length === 1 ? '1 condition' : `${errors.length} conditions`;
  return Object.freeze({
    ...decision,
    errors: Object.freeze(errors) as RuleEvaluationError[],
    explanation: `${decision.explanation} ${count} could not be evaluated and did not match (${listed}).`,
  });
}

/**
 * Decides one tool call: finds the policy for `input.tool` (exact, longest prefix, `*`), then
 * the first rule whose condition holds, else the policy's default. When no policy matches,
 * `defaultAction` (the agent's `default_action`, `allow` when absent) decides with reason
 * `no_policy_configured` (an unknown value blocks). A condition that fails to evaluate (a missing field, a wrong type, a
 * limit) does not match, and is listed in `errors`. Never throws for bad input: every outcome
 * is a decision.
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
  if (!policy.hasConditions) {
    // Without conditions the first rule (if any) always decides.
    return policy.rules[0]?.decision ?? policy.defaultDecision;
  }
  return evaluateRules(policy, input);
}

function evaluateRules(policy: PolicyRuntime, input: EvaluationInput): PolicyDecision {
  const args =
    input.args !== null && typeof input.args === 'object' && !Array.isArray(input.args)
      ? input.args
      : EMPTY_ARGS;
  const variables: ConditionVariables = {
    args,
    tool: input.tool,
    session: input.session ?? null,
    agent: input.agent ?? null,
    environment: input.environment ?? null,
    now: input.now ?? (policy.usesNow ? new Date() : undefined),
  };
  // The size of the largest collection in args, measured once and only for conditions with
  // macros: -1 not measured yet; with strings counted, a second measure.
  let largest = -1;
  let largestWithStrings = -1;
  let errors: RuleEvaluationError[] | undefined;
  for (const rule of policy.rules) {
    const condition = rule.compiled;
    if (condition === undefined) {
      return errors === undefined ? rule.decision : withErrors(rule.decision, errors);
    }
    let result: unknown;
    try {
      if (condition.macroLevels.length > 0) {
        let size: number;
        if (condition.iteratesStrings) {
          if (largestWithStrings < 0) largestWithStrings = largestCollection(args, true);
          size = largestWithStrings;
        } else {
          if (largest < 0) largest = largestCollection(args, false);
          size = largest;
        }
        const cost = macroCost(condition.macroLevels, size);
        if (cost > POLICY_LIMITS.maxMacroIterations) {
          throw new Error(
            `evaluation cost limit exceeded: macros would iterate about ${cost} times over collections of up to ${size} elements (limit ${POLICY_LIMITS.maxMacroIterations})`,
          );
        }
      }
      result = evaluateQuietly(condition, variables);
    } catch (error) {
      errors ??= [];
      errors.push({ ruleIndex: rule.index, message: evaluationMessage(error) });
      continue;
    }
    if (result === true) {
      return errors === undefined ? rule.decision : withErrors(rule.decision, errors);
    }
    if (result !== false) {
      errors ??= [];
      errors.push({
        ruleIndex: rule.index,
        message: `condition returned ${describeValue(result)}, not a bool`,
      });
    }
  }
  return errors === undefined ? policy.defaultDecision : withErrors(policy.defaultDecision, errors);
}

/**
 * Evaluates without capturing stack traces: a condition that fails (a missing field is common)
 * throws an error that is only turned into a message, and capturing its stack is most of the
 * cost of that path. The limit is restored before anything else can run.
 */
function evaluateQuietly(condition: CompiledCondition, variables: ConditionVariables): unknown {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return condition.evaluate(variables);
  } finally {
    Error.stackTraceLimit = limit;
  }
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
