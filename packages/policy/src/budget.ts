import type { ASTNode } from '@marcbachmann/cel-js';
import { builtinOverride, NOT_HANDLED } from './builtins';
import { MAX_WALL_FACTOR, POLICY_LIMITS } from './limits';

/**
 * The most one gap between two looks at the clock counts for (see `#checkClock`). Declared before
 * the class: its kept budget looks at the clock as the class is defined.
 */
const MAX_CLOCK_GAP_MS = 1;

/** Thrown when one evaluation exceeds its `EvaluationBudget`. */
export class EvaluationBudgetError extends Error {
  override name = 'EvaluationBudgetError';
}

/**
 * Work units one node run by the evaluator costs. A node is the library's dearest unit of work:
 * 20–50 ns each in a server whose evaluator has run many different conditions (its calls through
 * the nodes' handlers are then megamorphic), against 2–15 ns for an element copied, compared or
 * walked. At 1 unit, 100 000 units of nodes took 4–5 ms of CPU time; at 2 they take ≤ 2.5 ms.
 */
export const NODE_COST = 2;

/**
 * The work one evaluation may do, shared by every condition evaluated for one call. Charged in
 * work units: `NODE_COST` per node the evaluator runs, one per list element or map entry an
 * operator copies or walks (`COMPARED_COLLECTION_COST` per list or map it compares), one per 8
 * characters a string operation reads or writes, and `ERROR_COST` per error held by `||`, `&&` or
 * a quantifier macro (making an error costs as much as hundreds of nodes). When it runs out, or
 * the wall-time deadline passes, evaluation fails with `EvaluationBudgetError`.
 */
export class EvaluationBudget {
  /** Work units left; below 0 once exceeded (and it stays exceeded). */
  remaining: number;
  /** Why the budget ran out, once it has. */
  exceeded: string | undefined;
  readonly #units: number;
  readonly #milliseconds: number;
  // Counted apart from `remaining`, which `charge()` moves in jumps: a step count that only
  // looked at `remaining` could step over every multiple of 512 and never read the clock.
  #steps = 0;
  // Counted from the first look at the clock, not from creation: most evaluations run a few
  // dozen nodes and never look, and reading the clock would be a fifth of their cost. The work
  // done before the first look (at most 512 nodes or 1024 units) is bounded by the units.
  #firstLook = 0;
  #lastLook = 0;
  #elapsed = 0;

  /**
   * A budget that lives as long as its class, never charged by an evaluation: it keeps the
   * hidden class (map) of a budget alive. V8 holds a class's maps after its constructor only
   * weakly, and every evaluation's budget is dropped when it ends, so none was alive at a full
   * garbage collection: the maps were collected, and the optimised code that checks them
   * (`step`, `charge`, the evaluator's `run`, the metered operators) was thrown away — the next
   * evaluation ran in the bytecode interpreter (docs/performance.md, row 8). It has looked at the
   * clock, so its fields hold what an evaluation's do (doubles, not small integers).
   */
  // Its clock has no limit: the process may be descheduled between its looks (a loaded machine),
  // and defining the class must never fail — that failed the module's import.
  static readonly kept: EvaluationBudget = new EvaluationBudget(
    POLICY_LIMITS.maxEvaluationCost,
    Number.POSITIVE_INFINITY,
  );
  static {
    for (let step = 0; step < 1024; step++) EvaluationBudget.kept.step();
  }

  constructor(
    units: number = POLICY_LIMITS.maxEvaluationCost,
    milliseconds: number = POLICY_LIMITS.maxEvaluationMs,
  ) {
    this.remaining = units;
    this.exceeded = undefined;
    this.#units = units;
    this.#milliseconds = milliseconds;
  }

  /** Charges `units`; throws when the budget is gone. */
  charge(units: number): void {
    const before = this.remaining;
    const remaining = before - units;
    this.remaining = remaining;
    if (remaining < 0) this.fail('work');
    // Looks at the clock whenever the charges cross a multiple of 512 units, however they
    // jump: a charge is about to do its work, which may be slower than its units say.
    if (Math.floor(before / 512) !== Math.floor(remaining / 512)) this.#checkClock();
  }

  /**
   * Charges `units` without throwing, for work inside code that must not be thrown through (the
   * shell parser's WebAssembly, which calls back as it works): whether the budget still holds.
   * The caller stops the work when it does not, then calls `throwIfExceeded`.
   */
  chargeQuietly(units: number): boolean {
    this.remaining -= units;
    return this.remaining >= 0;
  }

  /** Throws when the budget is gone (after `chargeQuietly`). */
  throwIfExceeded(): void {
    if (this.remaining < 0) this.fail('work');
  }

  /** Called for every node (`NODE_COST`); looks at the clock every 512 nodes. */
  step(): void {
    const remaining = this.remaining - NODE_COST;
    this.remaining = remaining;
    if (remaining < 0) this.fail('work');
    if ((++this.#steps & 511) === 0) this.#checkClock();
  }

  /**
   * Adds the time since the last look, up to `MAX_CLOCK_GAP_MS`: the looks come every 512 nodes
   * or units (tens of microseconds of work), so a longer gap is mostly the machine running
   * something else (another process's time slice). Counting it all would fail legitimate calls
   * on a loaded machine; capping it still stops work the units price too low, a few gaps later.
   * Whatever the gaps, the evaluation holds the event loop no longer than `MAX_WALL_FACTOR`
   * times the limit.
   */
  #checkClock(): void {
    const now = performance.now();
    const last = this.#lastLook;
    this.#lastLook = now;
    if (last === 0) {
      this.#firstLook = now;
      return;
    }
    this.#elapsed += Math.min(now - last, MAX_CLOCK_GAP_MS);
    if (
      this.#elapsed > this.#milliseconds ||
      now - this.#firstLook > MAX_WALL_FACTOR * this.#milliseconds
    ) {
      this.fail('time');
    }
  }

  fail(kind: 'work' | 'time'): never {
    this.remaining = -1;
    this.exceeded ??=
      kind === 'work'
        ? `evaluation budget exceeded: more than ${this.#units} units of work (node evaluations, list elements and comparisons, string characters / 8, errors)`
        : `evaluation budget exceeded: took longer than ${this.#milliseconds} ms`;
    throw new EvaluationBudgetError(this.exceeded);
  }
}

// Evaluation is synchronous, so the budget of the evaluation under way is module state; every
// evaluation sets it and restores the previous one.
let active: EvaluationBudget | undefined;

/** Runs `run(argument)` with `budget` charged for its work. */
export function withBudget<A, T>(
  budget: EvaluationBudget,
  run: (argument: A) => T,
  argument: A,
): T {
  const previous = active;
  active = budget;
  try {
    return run(argument);
  } finally {
    active = previous;
  }
}

/** The budget of the evaluation under way (a fresh one, never kept, outside `withBudget`). */
function current(): EvaluationBudget {
  return active ?? new EvaluationBudget();
}

/** Charges the evaluation under way (for work done outside the evaluator, such as `matches`). */
export function chargeActive(units: number): void {
  if (units > 0) current().charge(units);
}

/**
 * Charges the evaluation under way, if there is one, without throwing (see
 * `EvaluationBudget.chargeQuietly`): whether its budget still holds.
 */
export function chargeActiveQuietly(units: number): boolean {
  return active === undefined || active.chargeQuietly(units);
}

/** Throws when the evaluation under way has run out of its budget (see `chargeActiveQuietly`). */
export function throwIfActiveExceeded(): void {
  active?.throwIfExceeded();
}

/**
 * Work units per element of a list concatenation: the library copies both lists by spreading
 * them (`[...left, ...right]`), measured at 30–80 ns an element, several nodes' worth.
 */
const LIST_COPY_COST = 2;

/**
 * Work units a function call costs beyond its node: the library looks its overload up from the
 * arguments' runtime types and calls it in a `try` (measured 60–150 ns with its node).
 */
export const CALL_COST = 2;

/**
 * Work units a comparison, arithmetic, `in` or `+` costs beyond its node: over `dyn` operands (the arguments
 * are) the library works out both operands' runtime types and looks the overload up from them,
 * as for a call (measured 40–80 ns with its node).
 */
export const OPERATOR_COST = 2;

/**
 * Work units per list or map compared by `==`, `!=` or `in`, on top of its elements: the library
 * works out the runtime type of both sides and looks up their `==` overload for every collection
 * it compares, nested ones included (measured 100–150 ns a collection).
 */
export const COMPARED_COLLECTION_COST = 6;

/** Work units an error held by `tryEval` costs: about what making one takes (measured ~8 µs). */
export const ERROR_COST = 400;

interface EvaluatorLike {
  run(node: ASTNode, context: unknown): unknown;
  tryEval(node: ASTNode, context: unknown): unknown;
}

/**
 * Counts every node the evaluator runs against the active budget. `tryEval` (how `||`, `&&` and
 * the quantifier macros hold an error to see whether the other side decides) lets a budget error
 * through at once: once the budget is gone nothing may decide, and a loop must not go on.
 */
export function meterEvaluator(evaluator: EvaluatorLike): void {
  evaluator.tryEval = function tryEval(this: EvaluatorLike, node: ASTNode, context: unknown) {
    try {
      return this.run(node, context);
    } catch (error) {
      if (error instanceof EvaluationBudgetError) throw error;
      current().charge(ERROR_COST);
      return error;
    }
  };
  evaluator.run = function run(this: EvaluatorLike, node: ASTNode, context: unknown) {
    (active ?? current()).step();
    return (
      node as unknown as { evaluate(ev: unknown, node: ASTNode, ctx: unknown): unknown }
    ).evaluate(this, node, context);
  };
}

const keyLists = new WeakMap<object, string[]>();

/**
 * Objects with at least this many keys have their key list kept (by `parseExactJson`, which
 * records it while parsing, or by `keysOf` on first listing). Smaller objects are listed each
 * time: V8 lists them from a cache in a few nanoseconds, less than keeping the list would cost.
 */
export const KEPT_KEYS_MIN = 32;

/**
 * Records the keys of `value`, in `Object.keys` order, as its parser saw them: `keysOf` then
 * never lists them. Listing the keys of a large JSON object costs 200–600 ns a key (V8 keeps
 * such objects as dictionaries and sorts their keys on every listing), more than a condition's
 * whole budget for a map of 60 000 keys, and it cannot be priced before it is done.
 */
export function rememberKeys(value: object, keys: string[]): void {
  keyLists.set(value, keys);
}

/**
 * The keys of a plain object (a JSON map). A large object's list is made once and reused for
 * `size()`, every macro over the map and every comparison, which the library would otherwise
 * list again each time; objects parsed by `parseExactJson` come with it, free. An object made
 * otherwise (`JSON.parse`) is listed on first use and charged after the fact: the one step whose
 * size cannot be known before it is done.
 */
export function keysOf(value: object): string[] {
  let keys = keyLists.get(value);
  if (keys === undefined) {
    keys = Object.keys(value);
    if (keys.length >= KEPT_KEYS_MIN) keyLists.set(value, keys);
    active?.charge(keys.length);
  }
  return keys;
}

/** A JSON object: a plain object (whatever its own keys, `constructor` included). */
export function isPlainObject(value: unknown): value is object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** What reading or copying `value` once costs: its elements, entries, or characters / 8. */
export function shallowCost(value: unknown): number {
  if (typeof value === 'string') return (value.length >>> 3) + 1;
  if (value === null || typeof value !== 'object') return 1;
  if (Array.isArray(value)) return value.length + 1;
  if (value instanceof Uint8Array) return (value.length >>> 3) + 1;
  if (value instanceof Map || value instanceof Set) return value.size + 1;
  return isPlainObject(value) ? keysOf(value).length + 1 : 1;
}

/**
 * What comparing `value` deeply costs: its elements, entries and characters / 8, and
 * `COMPARED_COLLECTION_COST` per list or map, walked depth first and no further than `limit`
 * (the result is then just over it).
 */
export function deepCost(value: unknown, limit: number, depth = 0): number {
  if (value === null || typeof value !== 'object') return shallowCost(value);
  // Deeper than JSON sensibly goes: price it as over any budget.
  if (depth > 64) return limit + 1;
  let cost = COMPARED_COLLECTION_COST;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length && cost <= limit; index++) {
      const element: unknown = value[index];
      if (element !== null && typeof element === 'object') {
        cost += deepCost(element, limit - cost, depth + 1);
      } else cost += typeof element === 'string' ? (element.length >>> 3) + 1 : 1;
    }
  } else if (value instanceof Map) {
    for (const entry of value.values()) {
      if (cost > limit) break;
      cost +=
        entry !== null && typeof entry === 'object'
          ? deepCost(entry, limit - cost, depth + 1)
          : shallowCost(entry);
    }
  } else if (isPlainObject(value)) {
    const keys = keysOf(value);
    for (let index = 0; index < keys.length && cost <= limit; index++) {
      const entry: unknown = (value as Record<string, unknown>)[keys[index] as string];
      if (entry !== null && typeof entry === 'object') {
        cost += deepCost(entry, limit - cost, depth + 1);
      } else cost += typeof entry === 'string' ? (entry.length >>> 3) + 1 : 1;
    }
  }
  return cost;
}

function isCollection(value: unknown): boolean {
  return typeof value === 'string' || (value !== null && typeof value === 'object');
}

type BinaryHandle = (left: unknown, right: unknown, node: ASTNode, evaluator: unknown) => unknown;
type CallHandle = (values: unknown[], a: unknown, b: unknown) => unknown;

// What an operator costs beyond its node, from its operands, charged before it runs.
const binaryCosts: Record<string, (left: unknown, right: unknown) => number> = {
  '+': (left, right) =>
    Array.isArray(left) && Array.isArray(right)
      ? LIST_COPY_COST * (left.length + right.length)
      : isCollection(left) || isCollection(right)
        ? shallowCost(left) + shallowCost(right)
        : 0,
  in: (left, right) =>
    Array.isArray(right)
      ? right.length * (isCollection(left) ? deepCost(left, current().remaining + 1) : 1)
      : 0,
  '==': equalityCost,
  '!=': equalityCost,
  '<': comparisonCost,
  '<=': comparisonCost,
  '>': comparisonCost,
  '>=': comparisonCost,
  // Arithmetic on numbers: the overload lookup only (its result is one number).
  '-': () => 0,
  '*': () => 0,
  '/': () => 0,
  '%': () => 0,
};

function equalityCost(left: unknown, right: unknown): number {
  if (typeof left === 'string' && typeof right === 'string') return left.length >>> 3;
  if (left === right || left === null || right === null) return 0;
  if (typeof left !== 'object' || typeof right !== 'object') return 0;
  // Lists of different lengths differ at once; otherwise the comparison walks at most the left
  // side (and stops at the first difference).
  if (Array.isArray(left) && Array.isArray(right) && left.length !== right.length) return 1;
  // Two maps (of the same size: others are decided without the library): the library lists
  // the keys of both, itself, before it compares them.
  const listing = isPlainObject(left) && isPlainObject(right) ? listingCost(left) * 2 : 0;
  return listing + deepCost(left, current().remaining + 1);
}

/**
 * Work units a map of JSON costs the library to list (it keeps no list): a large map is a V8
 * dictionary, whose listing sorts its keys (measured 200–600 ns a key).
 */
function listingCost(value: object): number {
  const count = keysOf(value).length;
  return count < KEPT_KEYS_MIN ? count : count * LISTED_KEY_COST;
}

/** Work units per key of a large map listed by the library (see `listingCost`). */
const LISTED_KEY_COST = 16;

/**
 * Whether `left` and `right` are two JSON maps of different sizes (so not equal), told from
 * their key lists: the library would list both to find out.
 */
function mapsOfDifferentSizes(left: unknown, right: unknown): boolean {
  return (
    left !== right &&
    isPlainObject(left) &&
    isPlainObject(right) &&
    keysOf(left).length !== keysOf(right).length
  );
}

/** What `sameJson` answers when a value is not JSON: the library compares (throws, or decides). */
const UNDECIDED = 2;
// The kinds the library's run-time typing tells apart in a comparison (`debugType`, as bounded
// by runtime-types.ts): a value of any other kind leaves the comparison to the library.
const NULL_KIND = 0;
const LIST_KIND = 1;
const MAP_KIND = 2;
const OTHER_KIND = 3;

function jsonKind(value: object | null): number {
  if (value === null) return NULL_KIND;
  if (Array.isArray(value)) return LIST_KIND;
  return isPlainObject(value) ? MAP_KIND : OTHER_KIND;
}

/** The keys of a JSON map as the library lists them (`Object.keys`), the kept list if there is one. */
function listedKeys(value: object): string[] {
  return keyLists.get(value) ?? Object.keys(value);
}

/** Deeper than the parser lets JSON go (`maxDepth`): the library compares (and recurses). */
const MAX_SAME_DEPTH = 128;

/**
 * Whether two values are equal as the library's `==` says for them (cel-js 8.0.0,
 * lib/overloads.js `isEqual` and its `list<V> == list<V>` and `map<K, V> == map<K, V>`
 * handlers): 1 or 0, or `UNDECIDED` when either holds a value that is not JSON (a `Map`, a
 * `Set`, bytes, a duration, …) — the library then compares them itself. The library looks up
 * both sides' run-time types and their `==` overload for every nested list and map, 100–150 ns
 * each, through code that V8 optimises for the element kinds and hidden classes it has seen:
 * the first comparison of a new kind of nesting (lists of lists after lists of numbers) threw
 * that code away and ran the interpreter (8–12 ms for the first full-size `args.a == args.b`
 * of lists of lists, 1.7–3 ms for the next ones). The charges are unchanged (`equalityCost`).
 * One difference, on purpose: a map's key is looked up among the other map's own keys. The
 * library asks `key in other`, which finds inherited ones: an agent's `{"__proto__": {}}` was
 * compared with `Object.prototype` (no keys, so equal to `{}`), and `args.a == {"k": 1}` was
 * true for it. Every `==` and `!=` of two JSON collections comes here, typed or `dyn`.
 */
function sameJson(left: unknown, right: unknown, depth: number): number {
  if (left === right) return 1;
  switch (typeof left) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return 0;
    case 'bigint':
      // biome-ignore lint/suspicious/noDoubleEquals: CEL's int == double, as the library compares them.
      return typeof right === 'number' && (left as unknown) == right ? 1 : 0;
    case 'number':
      // biome-ignore lint/suspicious/noDoubleEquals: CEL's double == int, as the library compares them.
      return typeof right === 'bigint' && (left as unknown) == right ? 1 : 0;
    case 'object': {
      if (typeof right !== 'object') return 0;
      const kind = jsonKind(left);
      const rightKind = jsonKind(right as object | null);
      if (kind === OTHER_KIND || rightKind === OTHER_KIND || depth > MAX_SAME_DEPTH)
        return UNDECIDED;
      if (kind !== rightKind) return 0;
      // Both null is `left === right` above.
      return kind === LIST_KIND
        ? sameLists(left as unknown[], right as unknown[], depth)
        : sameMaps(left as object, right as object, depth);
    }
    default:
      return UNDECIDED;
  }
}

function sameLists(left: unknown[], right: unknown[], depth: number): number {
  const length = left.length;
  if (length !== right.length) return 0;
  for (let index = 0; index < length; index++) {
    const same = sameJson(left[index], right[index], depth + 1);
    if (same !== 1) return same;
  }
  return 1;
}

function sameMaps(left: object, right: object, depth: number): number {
  const keys = listedKeys(left);
  if (keys.length !== listedKeys(right).length) return 0;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    if (!Object.hasOwn(right, key)) return 0;
    const same = sameJson(
      (left as Record<string, unknown>)[key],
      (right as Record<string, unknown>)[key],
      depth + 1,
    );
    if (same !== 1) return same;
  }
  return 1;
}

interface BinaryAst {
  leftStaticType?: unknown;
  rightStaticType?: unknown;
  candidates: { findBinaryOverload(left: unknown, right: unknown): { signature?: string } | false };
}

interface TypeOf {
  debugTypeDeep(value: unknown): { wrappedType: unknown };
}

let directEquality = true;

/** Leaves `==` of collections to the library (tests compare the two). @internal */
export function useDirectEquality(on: boolean): void {
  directEquality = on;
}

/** Whether an overload (by its signature) is the library's `==`/`!=` of two lists or two maps. */
const collectionEqualities = new WeakMap<object, boolean>();

function isCollectionEquality(overload: { signature?: string }): boolean {
  let known = collectionEqualities.get(overload);
  if (known === undefined) {
    const signature = overload.signature ?? '';
    known = /^(list<V>|map<K, V>) (==|!=) \1: bool$/.test(signature);
    collectionEqualities.set(overload, known);
  }
  return known;
}

/**
 * `left == right` for two JSON lists or two JSON maps, as the library decides it: its overload
 * (the operands' static types, or over `dyn` operands both sides' run-time types, which may find
 * none and throw), then compared by `sameJson` where the library's list or map handler would
 * compare them. `UNDECIDED` where the library must decide.
 */
function collectionsEqual(
  left: unknown,
  right: unknown,
  ast: BinaryAst,
  evaluator: TypeOf,
): number {
  if (left === null || right === null || typeof left !== 'object' || typeof right !== 'object') {
    return UNDECIDED;
  }
  const kind = jsonKind(left);
  if ((kind !== LIST_KIND && kind !== MAP_KIND) || jsonKind(right) !== kind) return UNDECIDED;
  const leftType = ast.leftStaticType || evaluator.debugTypeDeep(left).wrappedType;
  const rightType = ast.rightStaticType || evaluator.debugTypeDeep(right).wrappedType;
  const overload = ast.candidates.findBinaryOverload(leftType, rightType);
  if (overload === false || !isCollectionEquality(overload)) return UNDECIDED;
  return sameJson(left, right, 0);
}

/**
 * Runs the comparison code (`sameJson`, `deepCost`) over every kind of JSON value the parser
 * makes, so that V8 has seen their element kinds and hidden classes before an agent's arguments
 * reach it: code optimised for fewer is thrown away at the first new one, and the comparison
 * that meets it runs in the interpreter (see `sameJson`). Called once, when the evaluator is set
 * up; takes well under a millisecond.
 */
export function warmEquality(samples: readonly unknown[], copies: readonly unknown[]): void {
  for (let round = 0; round < 8; round++) {
    for (let index = 0; index < samples.length; index++) {
      const sample = samples[index];
      sameJson(sample, copies[index], 0);
      sameJson(sample, samples[(index + 1) % samples.length], 0);
      deepCost(sample, 1 << 20);
    }
  }
}

function comparisonCost(left: unknown, right: unknown): number {
  return typeof left === 'string' && typeof right === 'string'
    ? Math.min(left.length, right.length) >>> 3
    : 0;
}

/**
 * A function call's cost: before it runs, what it reads (its strings and, for `join`, the
 * characters of the list); after, what it produced (a new string or list).
 */
function callCost(name: string, values: readonly unknown[]): number {
  let cost = 0;
  for (const value of values) {
    if (typeof value === 'string' || value instanceof Uint8Array) cost += value.length >>> 3;
    else if (name === 'join' && Array.isArray(value)) {
      cost += value.length;
      for (const element of value) if (typeof element === 'string') cost += element.length >>> 3;
    }
  }
  return cost;
}

/** The number of Unicode code points in `text` (what CEL's `size` counts), as `for…of` counts. */
export function codePoints(text: string): number {
  const length = text.length;
  let count = length;
  for (let index = 0; index < length - 1; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        count--;
        index++;
      }
    }
  }
  return count;
}

type DirectCall = (values: readonly unknown[]) => unknown;

// The library's own handlers (cel-js 8.0.0, lib/functions.js) for these argument types, without
// its overload lookup: `size` of a string or list (a map's is counted from its listed keys above)
// and the string tests. Other argument types go to the library, which answers them or refuses
// them as before.
const directSize: DirectCall = (values) => {
  if (values.length !== 1) return NOT_HANDLED;
  const value = values[0];
  if (typeof value === 'string') return BigInt(codePoints(value));
  return Array.isArray(value) ? BigInt(value.length) : NOT_HANDLED;
};

function stringTest(test: (text: string, search: string) => boolean): DirectCall {
  return (values) => {
    const [text, search] = values;
    return values.length === 2 && typeof text === 'string' && typeof search === 'string'
      ? test(text, search)
      : NOT_HANDLED;
  };
}

const directStringTests: Record<string, DirectCall> = {
  startsWith: stringTest((text, search) => text.startsWith(search)),
  endsWith: stringTest((text, search) => text.endsWith(search)),
  contains: stringTest((text, search) => text.includes(search)),
};

/** The direct answer for calls to `name` (a method call when `method`), if there is one. */
function directCall(name: string, method: boolean): DirectCall | undefined {
  if (name === 'size') return directSize;
  return method && Object.hasOwn(directStringTests, name) ? directStringTests[name] : undefined;
}

function resultCost(result: unknown): number {
  return typeof result === 'string' || Array.isArray(result) || result instanceof Uint8Array
    ? shallowCost(result)
    : 0;
}

interface ErrorMaker {
  createError(code: string, message: string, node: ASTNode): Error;
}

const MACRO_KEYS = ['iterable', 'init', 'step', 'receiver', 'pattern', 'val', 'exp', 'args', 'ast'];

interface MeteredNode {
  op: string;
  args: unknown;
  handle?: BinaryHandle | CallHandle;
  meta?: { alternate?: unknown; macro?: unknown };
  __metered?: true;
}

/**
 * Wraps the operators of a type-checked condition that do work proportional to their operands
 * (`+` on lists and strings, `in`, `==` on collections, string functions, `join`, `split`, …) so
 * that they charge the active budget before they run and for what they produce. Walks macro
 * expansions too.
 */
export function meterTree(root: ASTNode): void {
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      for (const element of value) visit(element);
      return;
    }
    const node = value as MeteredNode;
    if (typeof node.op === 'string') {
      meterNode(node);
      // A value node's args is the value itself (a constant may be a type object).
      if (node.op !== 'value' && node.op !== 'id') visit(node.args);
      visit(node.meta?.alternate);
      visit(node.meta?.macro);
      return;
    }
    // A macro's own object (comprehension arguments, the matches macro, cel.bind).
    for (const key of MACRO_KEYS) visit((value as Record<string, unknown>)[key]);
  };
  visit(root);
}

function meterNode(node: MeteredNode): void {
  const handle = node.handle;
  if (handle === undefined || node.__metered) return;
  const binary = binaryCosts[node.op];
  if (binary !== undefined) {
    const inner = handle as BinaryHandle;
    const equality = node.op === '==' || node.op === '!=';
    const different = node.op === '!=';
    node.handle = (left, right, ast, evaluator) => {
      // Maps of different sizes differ: the library would list both to find out.
      if (equality && mapsOfDifferentSizes(left, right)) {
        current().charge(1);
        return different;
      }
      // Over dyn operands the library looks the overload up at run time, as for a call.
      current().charge(OPERATOR_COST + binary(left, right));
      // Two JSON collections, typed or dyn: compared by own keys (see `sameJson`).
      if (equality && directEquality) {
        const same = collectionsEqual(
          left,
          right,
          ast as unknown as BinaryAst,
          evaluator as TypeOf,
        );
        if (same !== UNDECIDED) return (same === 1) !== different;
      }
      return inner(left, right, ast, evaluator);
    };
  } else if (node.op === 'comprehension') {
    // A macro over a map iterates its keys: hand the library the listed keys (the same
    // iteration), charged on every run, since an inner macro runs once per outer element.
    const inner = handle as unknown as (iterable: unknown, ...rest: unknown[]) => unknown;
    node.handle = ((iterable: unknown, ...rest: unknown[]) => {
      if (isPlainObject(iterable)) {
        const keys = keysOf(iterable);
        current().charge(keys.length + 1);
        return inner(keys, ...rest);
      }
      if (iterable instanceof Map) current().charge(iterable.size + 1);
      return inner(iterable, ...rest);
    }) as unknown as BinaryHandle;
  } else if ((node.op === '.' || node.op === '[]') && handle.name === 'fieldAccess') {
    // The library's field access on a dyn value tells a map by `value.constructor`, which a
    // JSON object's own `constructor` key replaces: such an object is read here instead.
    const inner = handle as BinaryHandle;
    node.handle = (left, right, ast, evaluator) => {
      if (
        typeof right === 'string' &&
        left !== null &&
        typeof left === 'object' &&
        (left as { constructor?: unknown }).constructor !== Object &&
        isPlainObject(left)
      ) {
        const value = Object.hasOwn(left, right)
          ? (left as Record<string, unknown>)[right]
          : undefined;
        if (value !== undefined) return value;
        throw (evaluator as ErrorMaker).createError('no_such_key', `No such key: ${right}`, ast);
      }
      return inner(left, right, ast, evaluator);
    };
  } else if (node.op === 'call' || node.op === 'rcall') {
    const name = (node.args as [string])[0];
    const inner = handle as CallHandle;
    const override = builtinOverride(name);
    const direct = directCall(name, node.op === 'rcall');
    node.handle = (values: unknown[], a: unknown, b: unknown) => {
      if (override !== undefined && Array.isArray(values)) {
        current().charge(CALL_COST);
        const result = override(values, () => inner(values, a, b));
        if (result !== NOT_HANDLED) return result;
      }
      // The library lists a map's keys on every size(): count the listed ones instead.
      if (name === 'size' && values.length === 1 && isPlainObject(values[0])) {
        current().charge(1);
        return BigInt(keysOf(values[0]).length);
      }
      // A call the library would answer with a one-line handler, after looking its overload up
      // from the arguments' runtime types: answered here, charged as the library's would be.
      if (direct !== undefined && Array.isArray(values)) {
        const result = direct(values);
        if (result !== NOT_HANDLED) {
          current().charge(CALL_COST + callCost(name, values));
          return result;
        }
      }
      // A call dispatches on its arguments' runtime types: about three nodes' worth of work.
      // Arguments may be a promise for async functions, which conditions never use.
      current().charge(Array.isArray(values) ? CALL_COST + callCost(name, values) : CALL_COST);
      const result = inner(values, a, b);
      // A map is new only from json() (other calls hand back one that exists, such as orValue).
      const produced = name === 'json' ? shallowCost(result) : resultCost(result);
      if (produced > 0) current().charge(produced);
      return result;
    };
  } else return;
  node.__metered = true;
}
