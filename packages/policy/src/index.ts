export { alwaysBlocks } from './always-blocks';
export {
  type CompiledPolicy,
  type CompiledPolicySet,
  type CompiledRule,
  compilePolicies,
  type MemoryNeeds,
  type MemoryWrites,
  matchPolicy,
  memoryNeeds,
  memoryWrites,
  readsAgentSpend,
  sensitivePaths,
  validatePolicies,
} from './compile';
export {
  diffPolicies,
  formatPolicyDiff,
  type PolicyChange,
  type PolicyDiff,
  type PolicyFieldChange,
} from './diff';
export { EFFECTS, isEffect } from './effects';
export {
  PolicyCompileError,
  PolicyFileError,
  type PolicyFileIssue,
  type PolicyIssue,
} from './errors';
export { evaluate, simulate } from './evaluate';
export {
  EXACT_JSON_MAX_DEPTH,
  ExactJsonError,
  type ExactJsonMembers,
  type ExactJsonOptions,
  isExactUint,
  parseExactJson,
  parseExactJsonMembers,
  parseExactJsonParts,
} from './exact-json';
export { type PolicyFile, type PolicyTest, parsePolicyFile } from './file';
export { type FlipKind, flipKinds, parseFlipKind } from './flips';
export { evaluationUnits, POLICY_LIMITS, UNITS_SHRINK_LENGTH } from './limits';
export {
  describeMemoryQuery,
  type MemoryDecision,
  type MemoryQuery,
  type MemoryUnavailable,
  type MemoryValues,
  memoryKey,
  parseDurationLiteral,
} from './memory-input';
export { type PolicyTestResult, runPolicyTests } from './policy-tests';
export {
  effectSchema,
  onTimeoutSchema,
  policySchema,
  policySetSchema,
  ruleSchema,
} from './schema';
export { loadShellParser, shellParserSettled } from './shell-parser';
export { matchesToolPattern } from './tool-patterns';
export type {
  ApprovalChannel,
  ApprovalTerms,
  DecisionPolicy,
  DecisionReason,
  Effect,
  EvaluationInput,
  McpCallInfo,
  OnError,
  OnTimeout,
  PolicyBudget,
  PolicyDecision,
  PolicyDefinition,
  PolicyEnvironment,
  RuleDefinition,
  RuleEvaluationError,
} from './types';
