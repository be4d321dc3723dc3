import type * as z from 'zod';
import { type ArgType, celCheckType, parseArgType } from './arg-types';
import {
  type CompiledCondition,
  type ConditionCompileError,
  checkWithDeclaredArgs,
  compileCondition,
  isCompileError,
} from './cel';
import { PolicyCompileError, type PolicyIssue } from './errors';
import { POLICY_LIMITS } from './limits';
import { type MemoryQuery, memoryKey } from './memory-input';
import { findDuplicates, policySchema } from './schema';
import {
  compareToolPatterns,
  compileToolPattern,
  matchesToolPattern,
  type ToolPattern,
  toolPatternMatches,
} from './tool-patterns';
import type {
  ApprovalTerms,
  DecisionPolicy,
  DecisionReason,
  Effect,
  OnError,
  OnTimeout,
  PolicyDecision,
  PolicyDefinition,
  RuleDefinition,
  RuleEvaluationError,
} from './types';

/** A rule as compiled: its condition text and what it decides. */
export interface CompiledRule {
  readonly index: number;
  /** The CEL condition, or undefined for a rule that always applies. */
  readonly condition: string | undefined;
  readonly effect: Effect;
  readonly timeout: number | undefined;
  readonly onTimeout: OnTimeout | undefined;
  /** What decides the call when the condition cannot be evaluated: the rule's, else the policy's. */
  readonly onError: OnError;
}

/** A policy as compiled, ready to evaluate. */
export interface CompiledPolicy {
  /** The validated definition (frozen). */
  readonly definition: Readonly<PolicyDefinition>;
  readonly id: string | undefined;
  readonly name: string;
  readonly tool: string;
  readonly version: number | undefined;
  readonly rules: readonly CompiledRule[];
  /** The effect when no rule holds: `action`, else `default`, else `block`. */
  readonly defaultEffect: Effect;
  /** What decides a call whose conditions cannot be evaluated (`block` when absent). */
  readonly onError: OnError;
}

/**
 * Policies compiled once (conditions parsed and type-checked, patterns indexed) and reused for
 * every evaluation until the policies change. Create one with `compilePolicies`.
 */
export interface CompiledPolicySet {
  /** The enabled and disabled policies, in their original order. */
  readonly policies: readonly CompiledPolicy[];
}

/** @internal A rule with its compiled condition and its precomputed decision. */
export interface RuleRuntime extends CompiledRule {
  /** The rule's own `on_error`, when it sets one. */
  readonly definitionOnError: OnError | undefined;
  readonly compiled: CompiledCondition | undefined;
  readonly decision: PolicyDecision;
}

/** @internal */
export class PolicyRuntime implements CompiledPolicy {
  readonly definition: Readonly<PolicyDefinition>;
  readonly id: string | undefined;
  readonly name: string;
  readonly tool: string;
  readonly version: number | undefined;
  readonly rules: readonly RuleRuntime[];
  readonly defaultEffect: Effect;
  /** The decision when no rule holds. */
  readonly defaultDecision: PolicyDecision;
  /** The decision record's `policy` and the explanation's subject. */
  readonly summary: DecisionPolicy;
  readonly label: string;
  /** Any condition reads `now`. */
  readonly usesNow: boolean;
  readonly hasConditions: boolean;
  readonly onError: OnError;
  /** The memory inputs its conditions read (deduplicated), to fetch before evaluating. */
  readonly memory: readonly MemoryQuery[];
  readonly needs: MemoryNeeds;
  /** The policy's sensitive argument paths (`redact`), split at the dots. */
  readonly redact: readonly string[];
  /** The declared argument types, when the policy declares any. */
  readonly argTypes: readonly (readonly [string, ArgType])[] | undefined;
  /** The compiled `cost` expression (dollars), when the policy has one. */
  readonly cost: CompiledCondition | undefined;
  /** The policy's `budget`: what it reads from memory, its limit and what decides past it. */
  readonly budget:
    | { query: MemoryQuery; usd: number; onExceed: 'block' | 'requires_approval' }
    | undefined;

  constructor(
    definition: PolicyDefinition,
    conditions: (CompiledCondition | undefined)[],
    cost?: CompiledCondition,
  ) {
    this.cost = cost;
    this.definition = deepFreeze(definition);
    this.onError = definition.on_error === 'requires_approval' ? 'requires_approval' : 'block';
    const declared = Object.entries(definition.args ?? {}).map(
      ([name, text]) => [name, parseArgType(text)] as const,
    );
    this.argTypes =
      declared.length === 0
        ? undefined
        : Object.freeze(
            declared.filter((entry): entry is [string, ArgType] => typeof entry[1] !== 'string'),
          );
    this.id = definition.id;
    this.name = definition.name;
    this.tool = definition.tool;
    this.version = definition.version;
    this.defaultEffect = definition.action ?? definition.default ?? 'block';
    const summary: DecisionPolicy = { name: definition.name, tool: definition.tool };
    if (definition.id !== undefined) summary.id = definition.id;
    if (definition.version !== undefined) summary.version = definition.version;
    this.summary = Object.freeze(summary);
    this.label = `Policy "${definition.name}"${definition.version === undefined ? '' : ` v${definition.version}`} (tool ${definition.tool})`;

    const rules = definition.rules ?? [];
    this.rules = Object.freeze(
      rules.map((rule, index) => this.#compileRule(rule, index, conditions[index])),
    );
    this.usesNow = [...conditions, cost].some((condition) => condition?.usesNow === true);
    this.hasConditions = conditions.some((condition) => condition !== undefined);
    const memory = new Map<string, MemoryQuery>();
    for (const condition of [...conditions, cost]) {
      for (const query of condition?.memory ?? []) memory.set(memoryKey(query), query);
    }
    const budget = definition.budget;
    if (budget !== undefined) {
      const query: MemoryQuery =
        budget.per === 'session'
          ? { kind: 'tool_cost', scope: 'session', pattern: definition.tool }
          : {
              kind: 'tool_cost',
              scope: 'agent',
              pattern: definition.tool,
              windowMs: (budget.window ?? 86_400) * 1000,
            };
      memory.set(memoryKey(query), query);
      this.budget = { query, usd: budget.usd, onExceed: budget.on_exceed ?? 'block' };
    }
    this.memory = Object.freeze([...memory.values()]);
    this.redact = Object.freeze([...new Set(definition.redact ?? [])]);
    const window = definition.repeat_window;
    this.needs = Object.freeze({
      queries: this.memory,
      refuseRepeats: definition.refuse_repeats !== false,
      repeatWindowMs: window === undefined ? undefined : window * 1000,
    });

    const { timeout, onTimeout, approval } = this.#approvalTerms(this.defaultEffect, undefined);
    const because =
      rules.length === 0
        ? `its ${definition.action === undefined ? 'default' : 'action'} applies`
        : 'no rule matched, so the policy default applies';
    this.defaultDecision = freezeDecision({
      effect: this.defaultEffect,
      reason: 'policy_default',
      policy: this.summary,
      ruleIndex: -1,
      timeout,
      onTimeout,
      approval,
      errors: NO_ERRORS,
      explanation: `${this.label}: ${because}; the call is ${effectPhrase(this.defaultEffect, timeout, onTimeout)}.`,
    });
  }

  /**
   * The decision when a condition cannot be evaluated (`rule`) or the arguments do not have
   * their declared types (no rule): the rule's or the policy's `on_error` effect. A call held
   * this way is denied when its approval times out, whatever `on_timeout` says.
   */
  errorDecision(
    rule: RuleRuntime | undefined,
    reason: 'condition_error' | 'invalid_arguments',
    error: RuleEvaluationError,
  ): PolicyDecision {
    const effect = rule?.onError ?? this.onError;
    const timeout =
      effect === 'requires_approval' ? (rule?.timeout ?? this.definition.timeout) : undefined;
    const onTimeout = effect === 'requires_approval' ? 'deny' : undefined;
    const approval =
      effect === 'requires_approval'
        ? approvalTermsOf(
            rule === undefined ? undefined : this.definition.rules?.[rule.index],
            this.definition,
          )
        : undefined;
    const what =
      rule === undefined
        ? `the arguments do not have their declared types (${error.message})`
        : `rule ${rule.index + 1}'s condition could not be evaluated (${error.message})`;
    const source = rule?.definitionOnError === undefined ? 'the policy' : `rule ${rule.index + 1}`;
    return freezeDecision({
      effect,
      reason,
      policy: this.summary,
      ruleIndex: rule?.index ?? -1,
      timeout,
      onTimeout,
      approval,
      errors: Object.freeze([Object.freeze(error)]) as unknown as RuleEvaluationError[],
      explanation: `${this.label}: ${what}; arguments ${error.shape ?? '{}'}; so on_error of ${source} applies: the call is ${effectPhrase(effect, timeout, onTimeout)}.`,
    });
  }

  /**
   * The decision when the policy's `cost` cannot be evaluated (or is not a finite number of
   * dollars from 0 on): the policy's `on_error`, as for a condition that cannot be evaluated.
   * A call held this way carries no cost.
   */
  costErrorDecision(message: string, shape: string): PolicyDecision {
    const effect = this.onError;
    const timeout = effect === 'requires_approval' ? this.definition.timeout : undefined;
    const onTimeout = effect === 'requires_approval' ? 'deny' : undefined;
    return freezeDecision({
      effect,
      reason: 'condition_error',
      policy: this.summary,
      ruleIndex: -1,
      timeout,
      onTimeout,
      approval:
        effect === 'requires_approval' ? approvalTermsOf(undefined, this.definition) : undefined,
      errors: Object.freeze([
        Object.freeze({ ruleIndex: -1, message: `cost: ${message}`, shape }),
      ]) as unknown as RuleEvaluationError[],
      explanation: `${this.label}: its cost could not be evaluated (${message}); arguments ${shape}; so on_error of the policy applies: the call is ${effectPhrase(effect, timeout, onTimeout)}.`,
    });
  }

  /**
   * The decision when the call's cost would take the policy's tools past its `budget`: its
   * `on_exceed` (a held call is denied when its approval times out).
   */
  budgetDecision(costUsd: number, spentUsd: number): PolicyDecision {
    const budget = this.budget as NonNullable<PolicyRuntime['budget']>;
    const effect = budget.onExceed;
    const held = effect === 'requires_approval';
    const timeout = held ? this.definition.timeout : undefined;
    const onTimeout = held ? 'deny' : undefined;
    const per =
      budget.query.scope === 'session'
        ? 'per session'
        : `per agent in ${formatSeconds((budget.query.windowMs ?? 0) / 1000)}`;
    const decision = freezeDecision({
      effect,
      reason: 'budget_exceeded' as DecisionReason,
      policy: this.summary,
      ruleIndex: -1,
      timeout,
      onTimeout,
      approval: held ? approvalTermsOf(undefined, this.definition) : undefined,
      errors: NO_ERRORS,
      explanation: `${this.label}: its budget ($${budget.usd} ${per}) is exceeded: $${round(spentUsd)} counted, and this call costs $${round(costUsd)}; the call is ${effectPhrase(effect, timeout, onTimeout)}.`,
    });
    // A held call's cost is still counted (reserved until it is decided).
    return held ? Object.freeze({ ...decision, costUsd }) : decision;
  }

  /**
   * The decision when rule `rule` erred under `on_error: requires_approval` but blocks if it
   * holds, and the rules after it decide `rest`, a block: blocked whichever way it would have gone.
   */
  certainBlock(
    rule: RuleRuntime,
    message: string,
    shape: string,
    rest: PolicyDecision,
  ): PolicyDecision {
    const after = rest.ruleIndex === undefined ? 'the default' : `rule ${rest.ruleIndex + 1}`;
    return freezeDecision({
      ...rest,
      reason: rest.reason as DecisionReason,
      timeout: undefined,
      onTimeout: undefined,
      approval: undefined,
      errors: Object.freeze([
        Object.freeze({ ruleIndex: rule.index, message, shape }),
      ]) as unknown as RuleEvaluationError[],
      explanation: `${this.label}: rule ${rule.index + 1}'s condition could not be evaluated (${message}); arguments ${shape}; it blocks if it holds, and otherwise ${after} blocks, so the call is blocked either way (on_error's approval would change nothing).`,
    });
  }

  #approvalTerms(
    effect: Effect,
    rule: RuleDefinition | undefined,
  ): {
    timeout: number | undefined;
    onTimeout: OnTimeout | undefined;
    approval?: ApprovalTerms | undefined;
  } {
    if (effect !== 'requires_approval') return { timeout: undefined, onTimeout: undefined };
    return {
      timeout: rule?.timeout ?? this.definition.timeout,
      onTimeout: rule?.on_timeout ?? this.definition.on_timeout ?? 'deny',
      approval: approvalTermsOf(rule, this.definition),
    };
  }

  #compileRule(
    rule: RuleDefinition,
    index: number,
    compiled: CompiledCondition | undefined,
  ): RuleRuntime {
    const { timeout, onTimeout, approval } = this.#approvalTerms(rule.then, rule);
    const matched =
      rule.if === undefined
        ? `rule ${index + 1} applies (it has no condition)`
        : `rule ${index + 1} matched (${abbreviate(rule.if)})`;
    return Object.freeze({
      index,
      condition: rule.if,
      effect: rule.then,
      timeout,
      onTimeout,
      onError: rule.on_error ?? this.onError,
      definitionOnError: rule.on_error,
      compiled,
      decision: freezeDecision({
        effect: rule.then,
        reason: 'rule_matched',
        policy: this.summary,
        ruleIndex: index,
        timeout,
        onTimeout,
        approval,
        errors: NO_ERRORS,
        explanation: `${this.label}: ${matched}; the call is ${effectPhrase(rule.then, timeout, onTimeout)}.`,
      }),
    });
  }
}

const MAX_RESOLVED_TOOLS = 4096;

/** @internal */
export class PolicySetRuntime implements CompiledPolicySet {
  readonly policies: readonly PolicyRuntime[];
  readonly #exact = new Map<string, PolicyRuntime>();
  /** Patterns with `*` other than `*` alone, compiled once, most specific first. */
  readonly #patterns: { pattern: ToolPattern; policy: PolicyRuntime }[] = [];
  readonly #wildcard: PolicyRuntime | undefined;
  /** Tools resolved through the patterns (null: none matched), bounded. */
  readonly #resolved = new Map<string, PolicyRuntime | null>();
  /** The tool patterns the enabled policies' memory inputs count calls of, by scope. */
  readonly #counted: { agent: string[]; session: string[] } = { agent: [], session: [] };
  /** `memoryWrites` by tool, bounded. */
  readonly #writes = new Map<string, MemoryWrites>();
  /** An enabled policy reads the agent's spend (`readsAgentSpend`). */
  readonly readsAgentSpend: boolean;

  constructor(policies: PolicyRuntime[]) {
    this.policies = Object.freeze(policies);
    let wildcard: PolicyRuntime | undefined;
    let agentSpend = false;
    for (const policy of policies) {
      if (policy.definition.enabled === false) continue;
      for (const query of policy.memory) {
        if (query.scope === 'agent' && (query.kind === 'cost_usd' || query.kind === 'tool_cost')) {
          agentSpend = true;
        }
        // Spend (`cost_usd`, `tokens`) is usage and reservations, not calls.
        if (query.kind === 'cost_usd' || query.kind === 'tokens') continue;
        const patterns = this.#counted[query.scope];
        if (!patterns.includes(query.pattern)) patterns.push(query.pattern);
      }
      if (policy.tool === '*') wildcard = policy;
      else if (policy.tool.includes('*')) {
        this.#patterns.push({ pattern: compileToolPattern(policy.tool), policy });
      } else this.#exact.set(policy.tool, policy);
    }
    this.#patterns.sort((left, right) => compareToolPatterns(left.pattern, right.pattern));
    this.#wildcard = wildcard;
    this.readsAgentSpend = agentSpend;
  }

  /**
   * Exact name first, then the most specific matching pattern (see tool-patterns.ts), then `*`.
   * A tool resolved through the patterns is remembered, so that a repeated tool costs one
   * lookup however many patterns there are.
   */
  match(tool: string): PolicyRuntime | undefined {
    const exact = this.#exact.get(tool);
    if (exact !== undefined) return exact;
    if (this.#patterns.length === 0) return this.#wildcard;
    const resolved = this.#resolved.get(tool);
    if (resolved !== undefined) return resolved ?? this.#wildcard;
    let found: PolicyRuntime | null = null;
    for (const entry of this.#patterns) {
      if (toolPatternMatches(entry.pattern, tool)) {
        found = entry.policy;
        break;
      }
    }
    // Agents call a small set of tools, so the cache stays small; the bound only guards against
    // a caller inventing tool names.
    if (this.#resolved.size >= MAX_RESOLVED_TOOLS) this.#resolved.clear();
    this.#resolved.set(tool, found);
    return found ?? this.#wildcard;
  }

  /** `memoryWrites` of `tool`, remembered. */
  writes(tool: string): MemoryWrites {
    const known = this.#writes.get(tool);
    if (known !== undefined) return known;
    const agent = this.#counted.agent.some((pattern) => matchesToolPattern(pattern, tool));
    const session = this.#counted.session.some((pattern) => matchesToolPattern(pattern, tool));
    const writes = WRITES[agent ? (session ? 3 : 1) : session ? 2 : 0] as MemoryWrites;
    if (this.#writes.size >= MAX_RESOLVED_TOOLS) this.#writes.clear();
    this.#writes.set(tool, writes);
    return writes;
  }
}

/** What the caller must fetch before evaluating a call of `tool` with `set`. */
export interface MemoryNeeds {
  /** The memory inputs the deciding policy's conditions read (none when no policy matches). */
  readonly queries: readonly MemoryQuery[];
  /**
   * Refuse at once a repeat of a refused call (same tool, same arguments, same session):
   * the deciding policy's `refuse_repeats`, on unless it is `false` (and on with no policy).
   */
  readonly refuseRepeats: boolean;
  /** How far back a refusal counts, in ms (`repeat_window`); undefined: the whole session. */
  readonly repeatWindowMs: number | undefined;
}

const NO_QUERIES: readonly MemoryQuery[] = Object.freeze([]);
const DEFAULT_NEEDS: MemoryNeeds = Object.freeze({
  queries: NO_QUERIES,
  refuseRepeats: true,
  repeatWindowMs: undefined,
});

/**
 * What `evaluate` will read from memory for a call of `tool`: the memory inputs of the policy
 * that decides it, and its setting for repeated refused calls. Cheap: no allocation per call.
 */
export function memoryNeeds(set: CompiledPolicySet, tool: string): MemoryNeeds {
  const policy = runtimeOf(set).match(tool);
  if (policy === undefined) return DEFAULT_NEEDS;
  return policy.needs;
}

/**
 * Which memory scopes a logged call of a tool changes for the set's policies: whether any
 * enabled policy's memory input counts calls of it (`calls`, `approved`, `denied`, a `budget`'s
 * tool costs) across the agent, or within a session. A check whose own policy reads memory
 * must keep those scopes exact too (another policy's count of them moves with its call).
 */
export interface MemoryWrites {
  readonly agent: boolean;
  readonly session: boolean;
}

const WRITES: readonly MemoryWrites[] = Object.freeze([
  Object.freeze({ agent: false, session: false }),
  Object.freeze({ agent: true, session: false }),
  Object.freeze({ agent: false, session: true }),
  Object.freeze({ agent: true, session: true }),
]);

/** The memory scopes a logged call of `tool` changes for `set` (`MemoryWrites`). Cheap: remembered. */
export function memoryWrites(set: CompiledPolicySet, tool: string): MemoryWrites {
  return runtimeOf(set).writes(tool);
}

/**
 * Whether an enabled policy of `set` reads the agent's spend (`agent.cost_usd(window)`, a
 * `budget` across the agent): then every call's cost changes what a check may read.
 */
export function readsAgentSpend(set: CompiledPolicySet): boolean {
  return runtimeOf(set).readsAgentSpend;
}

const NO_PATHS: readonly string[] = Object.freeze([]);

/**
 * The sensitive argument paths (`redact`) of the policy that decides calls of `tool`, or none.
 * Cheap: no allocation per call.
 */
export function sensitivePaths(set: CompiledPolicySet, tool: string): readonly string[] {
  return runtimeOf(set).match(tool)?.redact ?? NO_PATHS;
}

/** @internal An issue with where it points inside a condition, for mapping into a file. */
export interface LocatedIssue extends PolicyIssue {
  /** The issue is about a key that should not be there (point at the key, not its value). */
  atKey?: boolean;
  /** 0-based offset inside the condition at `path`. */
  offset?: number;
}

export const NO_ERRORS: readonly never[] = Object.freeze([]);

export function freezeDecision(decision: {
  effect: Effect;
  reason: DecisionReason;
  policy?: DecisionPolicy;
  ruleIndex?: number;
  timeout: number | undefined;
  onTimeout: OnTimeout | undefined;
  approval?: ApprovalTerms | undefined;
  errors: PolicyDecision['errors'] | readonly never[];
  explanation: string;
}): PolicyDecision {
  // Keys in reading order; optional ones only when set, so that the JSON stays small.
  const result: Partial<PolicyDecision> = { effect: decision.effect, reason: decision.reason };
  if (decision.policy !== undefined) result.policy = decision.policy;
  if (decision.ruleIndex !== undefined) result.ruleIndex = decision.ruleIndex;
  if (decision.timeout !== undefined) result.timeout = decision.timeout;
  if (decision.onTimeout !== undefined) result.onTimeout = decision.onTimeout;
  if (decision.approval !== undefined) result.approval = decision.approval;
  result.errors = decision.errors as PolicyDecision['errors'];
  result.explanation = decision.explanation;
  return Object.freeze(result as PolicyDecision);
}

/**
 * The approval terms of a held call (the rule's keys over the policy's), or undefined when they
 * are the default: one approver, anyone, in the dashboard.
 */
function approvalTermsOf(
  rule: RuleDefinition | undefined,
  policy: PolicyDefinition,
): ApprovalTerms | undefined {
  const approvals = rule?.approvals ?? policy.approvals;
  const from = rule?.from ?? policy.from;
  const excludeRequester = rule?.exclude_requester ?? policy.exclude_requester;
  const excludeOwner = rule?.exclude_owner ?? policy.exclude_owner;
  const approveIn = rule?.approve_in ?? policy.approve_in;
  if (
    approvals === undefined &&
    from === undefined &&
    excludeRequester === undefined &&
    excludeOwner === undefined &&
    approveIn === undefined
  ) {
    return undefined;
  }
  const terms: ApprovalTerms = {
    approvals: approvals ?? 1,
    approveIn: Object.freeze([
      ...new Set(approveIn ?? ['dashboard']),
    ]) as ApprovalTerms['approveIn'],
  };
  if (from !== undefined) terms.from = Object.freeze([...from]) as string[];
  if (excludeRequester !== undefined) terms.excludeRequester = excludeRequester;
  if (excludeOwner !== undefined) terms.excludeOwner = excludeOwner;
  return Object.freeze(terms);
}

/** "allowed", "blocked", "held for approval (timeout 300 s, then deny)". */
export function effectPhrase(
  effect: Effect,
  timeout: number | undefined,
  onTimeout: OnTimeout | undefined,
): string {
  if (effect === 'allow') return 'allowed';
  if (effect === 'block') return 'blocked';
  const terms = [
    timeout === undefined ? undefined : `timeout ${timeout} s`,
    `then ${onTimeout ?? 'deny'}`,
  ];
  return `held for approval (${terms.filter(Boolean).join(', ')})`;
}

function round(dollars: number): number {
  return Math.round(dollars * 1e6) / 1e6;
}

function formatSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${seconds} s`;
}

function abbreviate(condition: string): string {
  const flat = condition.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function policyLabel(value: unknown, index: number): string {
  if (value !== null && typeof value === 'object') {
    const name = (value as { name?: unknown }).name;
    if (typeof name === 'string' && name.trim() !== '') return name;
  }
  return `#${index}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** @internal Turns zod issues into policy issues with friendly messages. */
export function zodIssues(
  error: z.ZodError,
  input: unknown,
  prefix: (string | number)[] = [],
): LocatedIssue[] {
  const issues: LocatedIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        issues.push({
          path: [...prefix, ...path, key],
          message: `unknown key "${key}"`,
          atKey: true,
        });
      }
      continue;
    }
    let message = issue.message;
    const value = valueAt(input, path);
    if (issue.code === 'invalid_type' && value === undefined) {
      message = `"${String(path[path.length - 1] ?? 'value')}" is required`;
    } else if (issue.code === 'invalid_value') {
      message = `must be one of ${issue.values.map((option) => String(option)).join(', ')}, not ${JSON.stringify(value)}`;
    }
    issues.push({ path: [...prefix, ...path], message });
  }
  return issues;
}

/** The CEL types a policy's declared arguments are checked as, when it declares any. */
function declaredCheckTypes(definition: PolicyDefinition): Record<string, string> | undefined {
  const entries = Object.entries(definition.args ?? {});
  if (entries.length === 0) return undefined;
  const types: Record<string, string> = {};
  for (const [name, text] of entries) {
    const type = parseArgType(text);
    // The schema refused unknown types already; an unknown one checks as dyn.
    types[name] = typeof type === 'string' ? 'dyn' : celCheckType(type);
  }
  return types;
}

/** @internal Validates and compiles; collects every issue instead of stopping at the first. */
export function compileInternal(policies: unknown): {
  issues: LocatedIssue[];
  set: PolicySetRuntime | undefined;
} {
  if (!Array.isArray(policies)) {
    return { issues: [{ path: [], message: 'expected a list of policies' }], set: undefined };
  }
  const issues: LocatedIssue[] = [];
  const runtimes: PolicyRuntime[] = [];
  const identities: { name: string; tool: string; enabled?: boolean | undefined }[] = [];
  policies.forEach((raw, index) => {
    const label = policyLabel(raw, index);
    const parsed = policySchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of zodIssues(parsed.error, raw, [index]))
        issues.push({ policy: label, ...issue });
      return;
    }
    const definition = parsed.data as PolicyDefinition;
    identities.push({ name: definition.name, tool: definition.tool, enabled: definition.enabled });
    const conditions: (CompiledCondition | undefined)[] = [];
    let valid = true;
    const declared = declaredCheckTypes(definition);
    (definition.rules ?? []).forEach((rule, ruleIndex) => {
      if (rule.if === undefined) {
        conditions.push(undefined);
        return;
      }
      let compiled: CompiledCondition | ConditionCompileError = compileCondition(rule.if);
      if (!isCompileError(compiled) && declared !== undefined) {
        compiled = checkWithDeclaredArgs(rule.if, declared) ?? compiled;
      }
      if (isCompileError(compiled)) {
        valid = false;
        issues.push({
          policy: label,
          path: [index, 'rules', ruleIndex, 'if'],
          message: compiled.message,
          line: compiled.line,
          column: compiled.column,
          offset: compiled.offset,
        });
        conditions.push(undefined);
      } else conditions.push(compiled);
    });
    let cost: CompiledCondition | undefined;
    if (definition.cost !== undefined) {
      let compiled: CompiledCondition | ConditionCompileError = compileCondition(
        definition.cost,
        'number',
      );
      if (!isCompileError(compiled) && declared !== undefined) {
        compiled = checkWithDeclaredArgs(definition.cost, declared, 'number') ?? compiled;
      }
      if (isCompileError(compiled)) {
        valid = false;
        issues.push({
          policy: label,
          path: [index, 'cost'],
          message: compiled.message,
          line: compiled.line,
          column: compiled.column,
          offset: compiled.offset,
        });
      } else cost = compiled;
    }
    if (valid) runtimes.push(new PolicyRuntime(definition, conditions, cost));
  });
  if (issues.length === 0) {
    if (policies.length > POLICY_LIMITS.maxPolicies) {
      issues.push({
        path: [],
        message: `a policy set holds at most ${POLICY_LIMITS.maxPolicies} policies`,
      });
    }
    for (const duplicate of findDuplicates(identities)) {
      issues.push({
        policy: identities[duplicate.index]?.name,
        path: [duplicate.index, duplicate.key],
        message: duplicate.message,
      });
    }
  }
  if (issues.length > 0) return { issues, set: undefined };
  return { issues, set: new PolicySetRuntime(runtimes) };
}

function publicIssue(issue: LocatedIssue): PolicyIssue {
  const { atKey: _atKey, offset: _offset, ...rest } = issue;
  return rest;
}

/**
 * Checks policies without compiling them for use: their structure, effects, tool patterns, CEL
 * conditions (with line and column inside the expression) and that no two enabled policies target
 * the same pattern. Returns every issue found, `[]` when the policies are valid. Never throws; use
 * it to refuse a policy when it is saved.
 */
export function validatePolicies(policies: unknown[]): PolicyIssue[] {
  try {
    return compileInternal(policies).issues.map(publicIssue);
  } catch (error) {
    return [{ path: [], message: `could not validate the policies: ${String(error)}` }];
  }
}

/**
 * Compiles policies once: validates them, compiles every condition and indexes the tool
 * patterns. Reuse the result for every evaluation until the policies change (a new version).
 * Throws `PolicyCompileError` listing every issue when the policies are not valid.
 */
export function compilePolicies(policies: PolicyDefinition[]): CompiledPolicySet {
  const { issues, set } = compileInternal(policies);
  if (set === undefined) throw new PolicyCompileError(issues.map(publicIssue));
  return set;
}

/** @internal */
export function runtimeOf(set: CompiledPolicySet): PolicySetRuntime {
  if (set instanceof PolicySetRuntime) return set;
  throw new TypeError('Expected a policy set from compilePolicies(); compile the policies first.');
}

/**
 * The policy that decides calls of `tool`: the exact name, else the most specific matching
 * pattern (most literal characters, then fewest `*`, then the latest first `*`), else `*`. Undefined when no policy matches (the agent's default action applies).
 * Disabled policies never match.
 */
export function matchPolicy(set: CompiledPolicySet, tool: string): CompiledPolicy | undefined {
  return runtimeOf(set).match(tool);
}
