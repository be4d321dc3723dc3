import type { ASTNode } from '@marcbachmann/cel-js';
import { toolPatternProblem } from './tool-patterns';

/**
 * Rule inputs with memory: `session.calls(pattern, window?, decision?)`, `agent.calls(…)`,
 * `session.approved(pattern)`, `session.denied(pattern, args?)`, `session.cost_usd`,
 * `agent.cost_usd(window)` and `session.tokens`.
 *
 * They read what already happened (the action log, recorded usage), which the evaluator must
 * not fetch: evaluation stays synchronous and bounded. So each use is found when the condition
 * compiles (its pattern, window and decision must be literals), listed as a `MemoryQuery`, and
 * the caller (the server) fetches exactly those values before evaluating and passes them in
 * `EvaluationInput.memory`. A value that was not passed is an evaluation error, so the policy's
 * `on_error` decides (never allow).
 *
 * `session` stays the session id and `agent` the `{id, name}` map: the memory calls are
 * recognised on those two names in the syntax tree and replaced there, before type-checking.
 */

/** Which calls a `calls` input counts: by the decision they got. */
export type MemoryDecision = 'allowed' | 'blocked' | 'approved' | 'denied';

const DECISIONS: readonly MemoryDecision[] = ['allowed', 'blocked', 'approved', 'denied'];

/** One value a condition reads from memory; fetched by the caller before evaluation. */
export type MemoryQuery =
  | {
      readonly kind: 'calls';
      readonly scope: 'session' | 'agent';
      /** A tool pattern (`stripe.*`), matched like a policy's `tool`. */
      readonly pattern: string;
      /** Only calls in the last `windowMs` ms (the whole session, or all time, when absent). */
      readonly windowMs?: number;
      readonly decision?: MemoryDecision;
    }
  /** Whether an earlier call of the session matching `pattern` was approved by a person. */
  | { readonly kind: 'approved'; readonly scope: 'session'; readonly pattern: string }
  /**
   * Whether an earlier call of the session matching `pattern` was refused (blocked, or denied
   * by a person); with `sameArgs`, only one with this call's arguments (canonical JSON).
   */
  | {
      readonly kind: 'denied';
      readonly scope: 'session';
      readonly pattern: string;
      readonly sameArgs: boolean;
    }
  /** Dollars recorded (usage) for the session, or for the agent in the last `windowMs`. */
  | { readonly kind: 'cost_usd'; readonly scope: 'session' | 'agent'; readonly windowMs?: number }
  /** Tokens (input + output) recorded for the session. */
  | { readonly kind: 'tokens'; readonly scope: 'session' }
  /**
   * Dollars of tool calls' costs (a policy's `cost`) counted for the session, or for the agent in
   * the last `windowMs`, of tools matching `pattern`: what a policy's `budget` reads.
   */
  | {
      readonly kind: 'tool_cost';
      readonly scope: 'session' | 'agent';
      readonly pattern: string;
      readonly windowMs?: number;
    };

/** A value the caller could not fetch, and why (the evaluation error says so). */
export interface MemoryUnavailable {
  readonly unavailable: string;
}

/**
 * The fetched values, by `memoryKey(query)`: counts and tokens as numbers, dollars as numbers,
 * `approved`/`denied` as booleans.
 */
export type MemoryValues = ReadonlyMap<string, number | boolean | MemoryUnavailable>;

/** The key of a query in `MemoryValues`: equal queries have equal keys. */
export function memoryKey(query: MemoryQuery): string {
  switch (query.kind) {
    case 'calls':
      return `calls|${query.scope}|${query.pattern}|${query.windowMs ?? ''}|${query.decision ?? ''}`;
    case 'approved':
      return `approved|session|${query.pattern}`;
    case 'denied':
      return `denied|session|${query.pattern}|${query.sameArgs ? 'args' : ''}`;
    case 'cost_usd':
      return `cost_usd|${query.scope}|${query.windowMs ?? ''}`;
    case 'tokens':
      return 'tokens|session';
    case 'tool_cost':
      return `tool_cost|${query.scope}|${query.pattern}|${query.windowMs ?? ''}`;
  }
}

// Single quotes (valid CEL): error messages have double-quoted text redacted as values.
const quote = (text: string) => `'${text.replaceAll("'", "\\'")}'`;

/** How the input reads in a condition, for messages. */
export function describeMemoryQuery(query: MemoryQuery): string {
  const window = query.kind !== 'tokens' && query.kind !== 'approved' && query.kind !== 'denied';
  const duration =
    window && query.windowMs !== undefined
      ? `duration(${quote(formatDuration(query.windowMs))})`
      : '';
  switch (query.kind) {
    case 'calls': {
      const parts = [quote(query.pattern)];
      if (duration) parts.push(duration);
      if (query.decision) parts.push(quote(query.decision));
      return `${query.scope}.calls(${parts.join(', ')})`;
    }
    case 'approved':
      return `session.approved(${quote(query.pattern)})`;
    case 'denied':
      return `session.denied(${quote(query.pattern)}${query.sameArgs ? ', args' : ''})`;
    case 'cost_usd':
      return query.scope === 'agent' ? `agent.cost_usd(${duration})` : 'session.cost_usd';
    case 'tokens':
      return 'session.tokens';
    case 'tool_cost':
      return `the ${query.scope === 'session' ? "session's" : "agent's"} costs of ${quote(query.pattern)}${duration ? ` in ${duration}` : ''} (the policy's budget)`;
  }
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const DURATION_PART = /(\d+(?:\.\d+)?)(h|ms|m|s)/gy;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
/** The longest window: a year; counts over longer spans are better read from reports. */
const MAX_WINDOW_MS = 366 * 24 * 3_600_000;

/** Milliseconds of a CEL duration literal (`"24h"`, `"1h30m"`, `"90s"`), or undefined. */
export function parseDurationLiteral(text: string): number | undefined {
  if (text.length === 0 || text.length > 40) return undefined;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let match = DURATION_PART.exec(text); match; match = DURATION_PART.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    end = DURATION_PART.lastIndex;
  }
  if (end !== text.length) return undefined;
  return Math.round(total);
}

/** Why a memory input is written wrong, and where. */
export interface MemoryInputError {
  message: string;
  offset: number;
}

/** The part of a parsed node this module reads. */
interface Node {
  op: string;
  args: unknown;
  start: number;
  setMeta(key: string, value: unknown): unknown;
}

interface CheckerLike {
  getType(name: string): unknown;
}

const FIELD_INPUTS = new Map([['session', new Set(['cost_usd', 'tokens'])]]);
const CALL_INPUTS = new Map([
  ['session', new Set(['calls', 'approved', 'denied'])],
  ['agent', new Set(['calls', 'cost_usd'])],
]);

// The values of the evaluation under way: set around one synchronous evaluation.
let active: MemoryValues | undefined;

/** Runs `fn` with `values` as the memory its conditions read. */
export function withMemory<T>(values: MemoryValues | undefined, fn: () => T): T {
  const previous = active;
  active = values;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

function read(query: MemoryQuery, key: string): number | boolean {
  const value = active?.get(key);
  if (value === undefined) {
    throw new Error(`${describeMemoryQuery(query)} is not known for this call`);
  }
  if (typeof value === 'object') {
    throw new Error(`${describeMemoryQuery(query)} is not known: ${value.unavailable}`);
  }
  return value;
}

/** A node that stands in for a memory input: typed at check time, read at evaluation. */
function memoryNode(node: Node, query: MemoryQuery, type: 'int' | 'double' | 'bool') {
  const key = memoryKey(query);
  return {
    op: 'value',
    args: undefined,
    pos: node.start,
    start: node.start,
    end: (node as unknown as { end: number }).end,
    maybeAsync: false,
    checkedType: undefined as unknown,
    check(checker: CheckerLike) {
      return checker.getType(type);
    },
    evaluate() {
      const value = read(query, key);
      if (type === 'int') return BigInt(Math.trunc(Number(value)));
      if (type === 'double') return Number(value);
      return value === true;
    },
  };
}

function isNode(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && typeof (value as Node).op === 'string';
}

function stringLiteral(node: unknown): string | undefined {
  return isNode(node) && node.op === 'value' && typeof node.args === 'string'
    ? node.args
    : undefined;
}

/** `duration("…")` with a literal: its milliseconds; undefined when `node` is not one. */
function durationArgument(node: unknown): number | MemoryInputError | undefined {
  if (!isNode(node) || node.op !== 'call') return undefined;
  const [name, callArguments] = node.args as [string, unknown[]];
  if (name !== 'duration' || callArguments.length !== 1) return undefined;
  const text = stringLiteral(callArguments[0]);
  const ms = text === undefined ? undefined : parseDurationLiteral(text);
  if (ms === undefined || ms <= 0 || ms > MAX_WINDOW_MS) {
    return {
      message:
        'a window must be a literal duration from 1ms to 366 days, such as duration("24h") or duration("30m")',
      offset: node.start,
    };
  }
  return ms;
}

function patternArgument(node: unknown, what: string, at: number): string | MemoryInputError {
  const pattern = stringLiteral(node);
  if (pattern === undefined) {
    return {
      message: `${what} takes a tool pattern as a string literal first, such as "stripe.*"`,
      offset: isNode(node) ? node.start : at,
    };
  }
  const problem = toolPatternProblem(pattern);
  if (problem !== undefined) {
    return { message: `the tool pattern of ${what} ${problem}`, offset: (node as Node).start };
  }
  return pattern;
}

function isError(value: unknown): value is MemoryInputError {
  return value !== null && typeof value === 'object' && 'message' in value;
}

function callQuery(
  scope: 'session' | 'agent',
  name: string,
  callArguments: unknown[],
  at: number,
): { query: MemoryQuery; type: 'int' | 'double' | 'bool' } | MemoryInputError {
  const what = `${scope}.${name}()`;
  if (name === 'cost_usd') {
    const window = durationArgument(callArguments[0]);
    if (callArguments.length !== 1 || window === undefined) {
      return {
        message: 'agent.cost_usd(window) takes one literal duration, such as duration("24h")',
        offset: at,
      };
    }
    if (isError(window)) return window;
    return { query: { kind: 'cost_usd', scope, windowMs: window }, type: 'double' };
  }
  if (callArguments.length === 0) {
    return { message: `${what} needs a tool pattern, such as "stripe.*"`, offset: at };
  }
  const pattern = patternArgument(callArguments[0], what, at);
  if (isError(pattern)) return pattern;
  if (name === 'approved') {
    if (callArguments.length !== 1) {
      return { message: 'session.approved(pattern) takes one tool pattern', offset: at };
    }
    return { query: { kind: 'approved', scope: 'session', pattern }, type: 'bool' };
  }
  if (name === 'denied') {
    const second = callArguments[1];
    const sameArgs = isNode(second) && second.op === 'id' && second.args === 'args';
    if (callArguments.length > 2 || (second !== undefined && !sameArgs)) {
      return {
        message:
          "session.denied(pattern, args?) takes a tool pattern and, optionally, `args` (this call's arguments)",
        offset: at,
      };
    }
    return { query: { kind: 'denied', scope: 'session', pattern, sameArgs }, type: 'bool' };
  }
  // calls(pattern, window?, decision?)
  let windowMs: number | undefined;
  let decision: MemoryDecision | undefined;
  for (const argument of callArguments.slice(1)) {
    const window = durationArgument(argument);
    if (isError(window)) return window;
    if (window !== undefined && windowMs === undefined && decision === undefined) {
      windowMs = window;
      continue;
    }
    const text = stringLiteral(argument);
    if (
      text !== undefined &&
      decision === undefined &&
      DECISIONS.includes(text as MemoryDecision)
    ) {
      decision = text as MemoryDecision;
      continue;
    }
    return {
      message: `${what} takes a tool pattern, then optionally a window (duration("1h")), then optionally a decision ("allowed", "blocked", "approved" or "denied"), all literals`,
      offset: isNode(argument) ? argument.start : at,
    };
  }
  const query: MemoryQuery = { kind: 'calls', scope, pattern };
  if (windowMs !== undefined) Object.assign(query, { windowMs });
  if (decision !== undefined) Object.assign(query, { decision });
  return { query, type: 'int' };
}

/**
 * Finds the memory inputs of a parsed condition and replaces each in the tree with a node that
 * reads its value at evaluation. Returns the queries to fetch (deduplicated), or the first
 * input written wrong. Call it after parsing and before type-checking.
 */
export function prepareMemoryInputs(root: ASTNode): MemoryQuery[] | MemoryInputError {
  const queries = new Map<string, MemoryQuery>();
  const seen = new Set<unknown>();
  let failure: MemoryInputError | undefined;
  const visit = (value: unknown): void => {
    if (failure !== undefined || value === null || typeof value !== 'object' || seen.has(value)) {
      return;
    }
    seen.add(value);
    if (Array.isArray(value)) {
      for (const element of value) visit(element);
      return;
    }
    if (!isNode(value)) return;
    const node = value;
    if (node.op === 'value' || node.op === 'id') return;
    if (node.op === '.') {
      const [receiver, field] = node.args as [unknown, string];
      if (isNode(receiver) && receiver.op === 'id' && typeof receiver.args === 'string') {
        if (FIELD_INPUTS.get(receiver.args)?.has(field)) {
          const query: MemoryQuery =
            field === 'tokens'
              ? { kind: 'tokens', scope: 'session' }
              : { kind: 'cost_usd', scope: 'session' };
          queries.set(memoryKey(query), query);
          node.setMeta('alternate', memoryNode(node, query, field === 'tokens' ? 'int' : 'double'));
          return;
        }
        if (CALL_INPUTS.get(receiver.args)?.has(field)) {
          failure = {
            message: `${receiver.args}.${field} is a function: call it, such as ${receiver.args}.${field}("stripe.*")`,
            offset: node.start,
          };
          return;
        }
      }
    }
    if (node.op === 'rcall') {
      const [name, receiver, callArguments] = node.args as [string, unknown, unknown[]];
      if (
        isNode(receiver) &&
        receiver.op === 'id' &&
        typeof receiver.args === 'string' &&
        CALL_INPUTS.get(receiver.args)?.has(name)
      ) {
        const scope = receiver.args as 'session' | 'agent';
        const found = callQuery(scope, name, callArguments, node.start);
        if (isError(found)) {
          failure = found;
          return;
        }
        queries.set(memoryKey(found.query), found.query);
        node.setMeta('alternate', memoryNode(node, found.query, found.type));
        return;
      }
    }
    visit(node.args);
  };
  visit(root);
  return failure ?? [...queries.values()];
}
