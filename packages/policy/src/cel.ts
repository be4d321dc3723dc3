import {
  type ASTNode,
  TypeError as CelTypeError,
  Environment,
  EvaluationError,
  ParseError,
} from '@marcbachmann/cel-js';
import { RE2JS } from 're2js';
import {
  chargeActive,
  EvaluationBudget,
  keysOf,
  meterEvaluator,
  meterTree,
  warmEquality,
  withBudget,
} from './budget';
import { isTimeZoneCall, prepareTimeZones } from './builtins';
import { prepareCodingFunctions, registerCodingFunctions } from './coding-functions';
import { parseExactJson } from './exact-json';
import { POLICY_LIMITS } from './limits';
import type { McpVariable } from './mcp-input';
import {
  type MemoryQuery,
  type MemoryValues,
  prepareMemoryInputs,
  withMemory,
} from './memory-input';
import { boundRuntimeTypes, type RuntimeTyper } from './runtime-types';

/** The variables a condition sees. */
export interface ConditionVariables {
  args: Record<string, unknown>;
  tool: string;
  session: string | null;
  agent: { id: string; name: string } | null;
  environment: string | null;
  now: Date | undefined;
  /** `{server, tool, annotations}` for an MCP tool, else null. */
  mcp: McpVariable | null;
  /** The memory inputs' values (`session.calls(…)`…), fetched before evaluation. */
  memory?: MemoryValues | undefined;
}

/** A condition compiled once; `evaluate` throws when the condition cannot be evaluated. */
export interface CompiledCondition {
  readonly source: string;
  readonly usesNow: boolean;
  /** The type the checker gave the condition: `bool`, or `dyn` when it depends on the input. */
  readonly type: string;
  /** The memory inputs the condition reads: fetch them and pass them as `memory`. */
  readonly memory: readonly MemoryQuery[];
  /**
   * Evaluates against `budget` (shared by every condition of one call; a fresh one when absent).
   * Throws when the condition cannot be evaluated or the budget runs out.
   */
  evaluate(variables: ConditionVariables, budget?: EvaluationBudget): unknown;
}

/** Why a condition does not compile, with its place in the expression. */
export interface ConditionCompileError {
  message: string;
  /** 0-based offset in the expression. */
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

// Compiled dynamic patterns (`s.matches(args.pattern)`); cleared when full rather than LRU, as
// dynamic patterns are rare and re-compiling one is cheap.
const dynamicPatterns = new Map<string, RE2JS>();
const MAX_DYNAMIC_PATTERNS = 256;

function compilePattern(pattern: string): RE2JS {
  return RE2JS.compile(pattern);
}

function dynamicPattern(pattern: string): RE2JS {
  let compiled = dynamicPatterns.get(pattern);
  if (compiled === undefined) {
    if (pattern.length > POLICY_LIMITS.maxDynamicPatternLength) {
      throw new Error(
        `regular expression is longer than ${POLICY_LIMITS.maxDynamicPatternLength} characters`,
      );
    }
    compiled = compilePattern(pattern);
    if (dynamicPatterns.size >= MAX_DYNAMIC_PATTERNS) dynamicPatterns.clear();
    dynamicPatterns.set(pattern, compiled);
  }
  return compiled;
}

function regexMessage(error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error);
  return `invalid regular expression (RE2 syntax): ${detail}`;
}

interface MatchesMacro {
  ast: ASTNode;
  receiver: ASTNode;
  pattern: ASTNode;
  compiled: RE2JS | undefined;
}

interface TypeLike {
  name: string;
  kind?: string;
}

interface Checker {
  check(node: ASTNode, context: unknown): TypeLike;
  getType(name: string): TypeLike;
  createError(code: string, message: string, node: ASTNode): Error;
}

interface Evaluator {
  run(node: ASTNode, context: unknown): unknown;
  tryEval(node: ASTNode, context: unknown): unknown;
  createError(code: string, message: string, node: ASTNode): Error;
}

function isStringType(type: TypeLike): boolean {
  return type.name === 'string' || type.kind === 'dyn' || type.name === 'dyn';
}

/**
 * `string.matches(pattern)` with RE2 semantics (linear time, no backtracking), replacing the
 * library's built-in, which uses the backtracking JS `RegExp`. A macro runs at parse time, so
 * a literal pattern is compiled once, with the policy, and a bad one is a compile error.
 */
function matchesMacro({
  ast,
  args,
  receiver,
}: {
  ast: ASTNode;
  args: ASTNode[];
  receiver: ASTNode;
}) {
  const pattern = args[0]!;
  let compiled: RE2JS | undefined;
  if (pattern.op === 'value' && typeof pattern.args === 'string') {
    try {
      compiled = compilePattern(pattern.args);
    } catch (error) {
      throw new ParseError({
        code: 'invalid_regular_expression',
        message: regexMessage(error),
        node: pattern,
      });
    }
  }
  const macro: MatchesMacro = { ast, receiver, pattern, compiled };
  return {
    ...macro,
    async: false,
    typeCheck(checker: Checker, self: MatchesMacro, context: unknown) {
      const receiverType = checker.check(self.receiver, context);
      const patternType = checker.check(self.pattern, context);
      if (!isStringType(receiverType) || !isStringType(patternType)) {
        throw checker.createError(
          'no_matching_overload',
          `found no matching overload for '${receiverType.name}.matches(${patternType.name})'`,
          self.ast,
        );
      }
      return checker.getType('bool');
    },
    evaluate(evaluator: Evaluator, self: MatchesMacro, context: unknown) {
      capturedEvaluator ??= evaluator;
      const text = evaluator.run(self.receiver, context);
      if (typeof text !== 'string') {
        throw evaluator.createError(
          'no_matching_overload',
          'matches() needs a string receiver',
          self.ast,
        );
      }
      // RE2 runs in linear time, at a few characters per work unit.
      chargeActive(text.length >>> 2);
      let regex = self.compiled;
      if (regex === undefined) {
        const source = evaluator.run(self.pattern, context);
        if (typeof source !== 'string') {
          throw evaluator.createError(
            'no_matching_overload',
            'matches() needs a string pattern',
            self.pattern,
          );
        }
        try {
          regex = dynamicPattern(source);
        } catch (error) {
          throw evaluator.createError(
            'invalid_regular_expression',
            regexMessage(error),
            self.pattern,
          );
        }
      }
      return regex.test(text);
    },
  };
}

// A receiver type that no value ever has: registering the macro on it does not overlap the
// built-in `string.matches(string)`, while macros are looked up by name and arity only, so this
// one handles every `x.matches(y)`.
class MatchesMacroReceiver {}

/**
 * The environment conditions are compiled and evaluated in; with `argTypes` (CEL type names by
 * argument), one where `args` has those fields only, for checking a policy that declares them.
 */
function createEnvironment(argTypes?: Record<string, string>): Environment {
  const environment = new Environment({
    // JSON arguments mix ints and doubles (`[1, 2.5]`), so literals may too.
    homogeneousAggregateLiterals: false,
    enableOptionalTypes: true,
    limits: {
      maxAstNodes: POLICY_LIMITS.maxExpressionNodes,
      maxDepth: POLICY_LIMITS.maxExpressionDepth,
      maxListElements: POLICY_LIMITS.maxLiteralElements,
      maxMapEntries: POLICY_LIMITS.maxLiteralElements,
      maxCallArguments: POLICY_LIMITS.maxCallArguments,
    },
  })
    .registerVariable(
      argTypes === undefined
        ? { name: 'args', type: 'map<string, dyn>', description: "The call's keyword arguments." }
        : { name: 'args', schema: argTypes, description: "The call's declared arguments." },
    )
    .registerVariable('tool', 'string', { description: "The tool's name." })
    .registerVariable('session', 'dyn', { description: 'The session id, or null.' })
    .registerVariable('agent', 'dyn', { description: 'The agent, {id, name}, or null.' })
    .registerVariable('environment', 'dyn', { description: '"test", "live", or null.' })
    .registerVariable('now', 'google.protobuf.Timestamp', { description: 'The time of the call.' })
    .registerVariable('mcp', 'dyn', {
      description: 'For an MCP tool, {server, tool, annotations}; null otherwise.',
    })
    .registerType('MatchesMacroReceiver', MatchesMacroReceiver)
    .registerFunction('MatchesMacroReceiver.matches(ast): bool', matchesMacro as never);
  registerCodingFunctions(environment);

  // JSON numbers arrive as doubles while CEL literals without a point are ints. Comparisons
  // across the two already work; these make arithmetic mixing them work as users expect
  // (`args.amount * 2 > 100`) instead of failing with "no such overload".
  const arithmetic: [string, (left: number, right: number) => number][] = [
    ['+', (left, right) => left + right],
    ['-', (left, right) => left - right],
    ['*', (left, right) => left * right],
    ['/', (left, right) => left / right],
  ];
  for (const [operator, apply] of arithmetic) {
    environment.registerOperator(`double ${operator} int: double`, (left: number, right: bigint) =>
      apply(left, Number(right)),
    );
    environment.registerOperator(`int ${operator} double: double`, (left: bigint, right: number) =>
      apply(Number(left), right),
    );
  }
  return environment;
}

let sharedEnvironment: Environment | undefined;
// The library keeps its evaluator private; the matches macro receives it, so one evaluation of
// a `matches` at start-up hands it over to be metered.
let capturedEvaluator: Evaluator | undefined;

// Created on first use, not at import: importing the package does no work.
function celEnvironment(): Environment {
  if (sharedEnvironment === undefined) {
    const environment = createEnvironment();
    withBudget(
      new EvaluationBudget(),
      (source) => environment.evaluate(source, {}),
      '"".matches("")',
    );
    if (capturedEvaluator === undefined) throw new Error('could not meter the CEL evaluator');
    meterEvaluator(capturedEvaluator);
    boundRuntimeTypes(capturedEvaluator as unknown as RuntimeTyper);
    withoutSourceExcerpts(environment.parse('1').ast);
    warmEquality(...equalitySamples());
    sharedEnvironment = environment;
  }
  return sharedEnvironment;
}

/**
 * Values of every kind `parseExactJson` makes, as an agent's arguments arrive (each parsed twice:
 * equal values that are not the same object), for `warmEquality`: lists short (built by hand) and
 * long (copied from the parser's shared list), empty, of integers, doubles, strings, booleans,
 * nulls, lists and maps; maps of several key sets and one of `KEPT_KEYS_MIN` keys or more.
 */
function equalitySamples(): [unknown[], unknown[]] {
  const long = <T>(make: (index: number) => T): T[] =>
    Array.from({ length: 40 }, (_, index) => make(index));
  const manyKeys = Object.fromEntries(long((index) => [`k${index}`, index] as const));
  const text = JSON.stringify([
    [],
    [1, 2, 3],
    long((index) => index * 1000),
    [1.5, 2.5],
    long((index) => index + 0.5),
    ['a', 'b'],
    long((index) => `s${index}`),
    [true, null, false],
    long((index) => [index]),
    [[1], [2, 3], []],
    long((index) => ({ k: index })),
    { a: 1 },
    { a: 'x', b: [1] },
    { c: { d: [2] }, e: null },
    { f: 1.5, g: true, h: 'y' },
    { i: [], j: {} },
    manyKeys,
    { nested: [manyKeys, [[[]]]] },
    'text',
    12345678901234,
    0.25,
    true,
    null,
  ]);
  return [parseExactJson(text) as unknown[], parseExactJson(text) as unknown[]];
}

/**
 * Makes the library's errors leave out the excerpt of the condition they would quote: every error
 * (`found no matching overload…`, `No such key…`) walked the condition's source up to the failing
 * node to format it, character by character, 25 µs an error for a condition of 4 KB, and a
 * quantifier over what the agent sends can hold an error per element. Its syntax-tree nodes
 * expose the source as `input` (a getter of their class); without it an error is only its
 * message. Nothing here reads the excerpt: messages are the errors' `summary` and their place
 * their `range` (`describeError`, `evaluationMessage`), which do not depend on it.
 */
function withoutSourceExcerpts(node: ASTNode): void {
  const prototype = Object.getPrototypeOf(node) as object;
  const input = Object.getOwnPropertyDescriptor(prototype, 'input');
  if (input?.get === undefined) throw new Error("could not find the CEL syntax tree's source");
  Object.defineProperty(prototype, 'input', { configurable: true, get: () => undefined });
}

/** The library's evaluator, for tests that look at its run-time type cache. @internal */
export function celEvaluator(): unknown {
  celEnvironment();
  return capturedEvaluator;
}

/** 1-based line and column of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let index = 0; index < end; index++) {
    if (text.charCodeAt(index) === 10) {
      line++;
      lineStart = index + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

function compileError(source: string, message: string, offset: number): ConditionCompileError {
  return { message, offset, ...lineAndColumn(source, offset) };
}

interface Analysis {
  maxNesting: number;
  usesNow: boolean;
  /** A timestamp function given a time zone (`now.getHours("Europe/Paris")`). */
  usesTimeZone: boolean;
  deepestMacro: ASTNode | undefined;
  /** A field access on a timestamp, duration or other message value. */
  messageField: { node: ASTNode; type: string } | undefined;
}

/** The type the checker inferred for `node`, if it recorded one. */
function checkedType(node: ASTNode): { name?: string; kind?: string } | undefined {
  return (node as { checkedType?: { name?: string; kind?: string } }).checkedType;
}

// Values of message types (timestamps, durations) are JS objects whose fields the library reads
// without an own-property check, so a field access on one could reach `Date.prototype`. They
// have no fields in CEL anyway: refuse such an access when the receiver's type is known.
function checkMessageField(node: ASTNode, receiver: ASTNode, analysis: Analysis): void {
  const type = checkedType(receiver);
  if (type?.kind === 'message' && analysis.messageField === undefined) {
    analysis.messageField = { node, type: type.name ?? 'message' };
  }
}

function analyze(node: ASTNode, level: number, analysis: Analysis): void {
  switch (node.op) {
    case 'value':
      return;
    case 'id':
      if (node.args === 'now') analysis.usesNow = true;
      return;
    case '.':
    case '.?':
      checkMessageField(node, node.args[0], analysis);
      analyze(node.args[0], level, analysis);
      return;
    case '[]':
    case '[?]':
      checkMessageField(node, node.args[0], analysis);
      analyze(node.args[0], level, analysis);
      analyze(node.args[1], level, analysis);
      return;
    case 'call':
      for (const argument of node.args[1]) analyze(argument, level, analysis);
      return;
    case 'rcall': {
      const [name, receiver, callArguments] = node.args;
      if (isTimeZoneCall(name, callArguments.length)) analysis.usesTimeZone = true;
      analyze(receiver, level, analysis);
      if (MACROS.has(name) && callArguments.length >= 2) {
        if (level + 1 > analysis.maxNesting) {
          analysis.maxNesting = level + 1;
          analysis.deepestMacro = node;
        }
        for (const argument of callArguments) analyze(argument, level + 1, analysis);
        return;
      }
      for (const argument of callArguments) analyze(argument, level, analysis);
      return;
    }
    case 'list':
      for (const element of node.args) analyze(element, level, analysis);
      return;
    case 'map':
      for (const [key, value] of node.args) {
        analyze(key, level, analysis);
        analyze(value, level, analysis);
      }
      return;
    case '!_':
    case '-_':
      analyze(node.args, level, analysis);
      return;
    default:
      for (const operand of node.args) analyze(operand, level, analysis);
  }
}

function describeError(error: unknown): { message: string; offset: number | undefined } {
  if (
    error instanceof ParseError ||
    error instanceof CelTypeError ||
    error instanceof EvaluationError
  ) {
    return { message: error.summary, offset: error.range?.start };
  }
  return { message: error instanceof Error ? error.message : String(error), offset: undefined };
}

/**
 * Compiles a CEL condition once: parse, type-check against the policy variables, check the limits.
 * Returns the compiled condition, or why it does not compile and where.
 */
export function compileCondition(
  source: string,
  result: ConditionResult = 'bool',
): CompiledCondition | ConditionCompileError {
  if (source.length > POLICY_LIMITS.maxExpressionLength) {
    return compileError(
      source,
      `condition is longer than ${POLICY_LIMITS.maxExpressionLength} characters`,
      POLICY_LIMITS.maxExpressionLength,
    );
  }
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = celEnvironment().parse(source);
  } catch (error) {
    const { message, offset } = describeError(error);
    return compileError(source, message, offset ?? 0);
  }
  const memory = prepareMemoryInputs(parsed.ast);
  if (!Array.isArray(memory)) return compileError(source, memory.message, memory.offset);
  const checked = parsed.check();
  if (!checked.valid) {
    const { message, offset } = describeError(checked.error);
    return compileError(source, message, offset ?? 0);
  }
  const wrongType = resultTypeProblem(result, checked.type);
  if (wrongType !== undefined)
    return compileError(source, `${wrongType}, but it is ${checked.type}`, 0);
  meterTree(parsed.ast);
  prepareCodingFunctions(source);
  const analysis: Analysis = {
    maxNesting: 0,
    usesNow: false,
    usesTimeZone: false,
    deepestMacro: undefined,
    messageField: undefined,
  };
  analyze(parsed.ast, 0, analysis);
  if (analysis.messageField !== undefined) {
    const { node, type } = analysis.messageField;
    return compileError(
      source,
      `a ${type} has no fields; use its functions, such as now.getHours()`,
      node.start,
    );
  }
  if (analysis.maxNesting > POLICY_LIMITS.maxMacroNesting) {
    return compileError(
      source,
      `macros (all, exists, exists_one, map, filter) are nested ${analysis.maxNesting} deep; the limit is ${POLICY_LIMITS.maxMacroNesting}`,
      analysis.deepestMacro?.start ?? 0,
    );
  }
  // The first time zone a process formats in loads the time zone data (40–180 ms, measured):
  // done here, when the policy is compiled, not during a check.
  if (analysis.usesTimeZone) prepareTimeZones();
  const run =
    memory.length === 0
      ? (variables: ConditionVariables) => parsed(withSafeArgs(variables))
      : (variables: ConditionVariables) =>
          withMemory(variables.memory, () => parsed(withSafeArgs(variables)));
  return {
    source,
    usesNow: analysis.usesNow,
    type: checked.type as string,
    memory: Object.freeze(memory),
    evaluate: (variables, budget = new EvaluationBudget()) => withBudget(budget, run, variables),
  };
}

/**
 * The variables with `args` as a `Map` when it has an own `constructor` key: the library checks
 * that `args` is a map by its `constructor`, which that key replaces (nested objects are read
 * by `meterTree`'s field access and `boundRuntimeTypes` instead).
 */
function withSafeArgs(variables: ConditionVariables): ConditionVariables {
  const args = variables.args;
  if (!Object.hasOwn(args, 'constructor')) return variables;
  const keys = keysOf(args);
  chargeActive(keys.length);
  const map = new Map<string, unknown>();
  for (const key of keys) map.set(key, args[key]);
  return { ...variables, args: map as unknown as Record<string, unknown> };
}

// Checking environments by declaration: policies usually share a few shapes of declarations.
const declaredEnvironments = new Map<string, Environment>();
const MAX_DECLARED_ENVIRONMENTS = 256;

/**
 * Type-checks a condition that compiled against the policy's declared argument types (CEL type
 * names by argument): an undeclared argument, an operator the types do not allow
 * (`args.amount > "x"` for a number) or a known type that is not a bool is an error. Only
 * checks: conditions are evaluated over `map<string, dyn>` after the arguments' types were
 * verified, so a declaration never changes what a condition computes.
 */
export function checkWithDeclaredArgs(
  source: string,
  argTypes: Record<string, string>,
  result: ConditionResult = 'bool',
): ConditionCompileError | undefined {
  const key = JSON.stringify(argTypes);
  let environment = declaredEnvironments.get(key);
  if (environment === undefined) {
    try {
      environment = createEnvironment(argTypes);
    } catch (error) {
      return compileError(
        source,
        `the declared argument types cannot be checked: ${describeError(error).message}`,
        0,
      );
    }
    if (declaredEnvironments.size >= MAX_DECLARED_ENVIRONMENTS) declaredEnvironments.clear();
    declaredEnvironments.set(key, environment);
  }
  let checked: ReturnType<ReturnType<Environment['parse']>['check']>;
  try {
    const parsed = environment.parse(source);
    // The memory inputs are valid here: the condition compiled.
    prepareMemoryInputs(parsed.ast);
    checked = parsed.check();
  } catch (error) {
    checked = { valid: false, error } as typeof checked;
  }
  if (!checked.valid) {
    const { message, offset } = describeError(checked.error);
    const undeclared = /^No such key: (.+)$/.exec(message);
    return compileError(
      source,
      undeclared
        ? `args.${undeclared[1]} is not declared: a policy that declares its arguments (args) declares every one its conditions use`
        : `${message} (with the declared argument types)`,
      offset ?? 0,
    );
  }
  const wrongType = resultTypeProblem(result, checked.type);
  if (wrongType !== undefined) {
    return compileError(
      source,
      `${wrongType}, but with the declared argument types it is ${checked.type}`,
      0,
    );
  }
  return undefined;
}

/**
 * What an expression computes: a condition (`bool`), or a policy's `cost` (`number`: an int or
 * a double, in dollars).
 */
export type ConditionResult = 'bool' | 'number';

function resultTypeProblem(result: ConditionResult, type: string | undefined): string | undefined {
  if (type === 'dyn') return undefined;
  if (result === 'bool') return type === 'bool' ? undefined : 'condition must be a bool';
  return type === 'int' || type === 'double' || type === 'uint'
    ? undefined
    : 'cost must be a number (int or double, in dollars)';
}

/** True when `compiled` is a compile error rather than a condition. */
export function isCompileError(
  compiled: CompiledCondition | ConditionCompileError,
): compiled is ConditionCompileError {
  return 'offset' in compiled;
}

/** The message of an evaluation error, without the library's source excerpt. */
export function evaluationMessage(error: unknown): string {
  if (error instanceof EvaluationError || error instanceof CelTypeError) return error.summary;
  if (error instanceof Error) return error.message.split('\n', 1)[0] ?? error.message;
  return String(error);
}
