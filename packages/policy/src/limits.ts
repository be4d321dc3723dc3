/**
 * The limits every policy and condition is held to. Conditions are written by users and evaluated
 * on the hot path of every tool call, so their size and their evaluation cost are bounded.
 */
export const POLICY_LIMITS = Object.freeze({
  /** Characters in one CEL condition. */
  maxExpressionLength: 4096,
  /** Nesting depth of a condition's syntax tree (parentheses, calls, member access). */
  maxExpressionDepth: 32,
  /** Nodes in a condition's syntax tree. */
  maxExpressionNodes: 1024,
  /** Elements of a list literal, and entries of a map literal, in a condition. */
  maxLiteralElements: 256,
  /** Arguments of one function call. */
  maxCallArguments: 16,
  /** Macros (`all`, `exists`, `exists_one`, `map`, `filter`) nested inside one another. */
  maxMacroNesting: 2,
  /**
   * @deprecated No longer checked: the evaluation budget (`maxEvaluationCost`, `maxEvaluationMs`)
   * bounds the actual work of an evaluation, macros included.
   */
  maxMacroIterations: 100_000,
  /**
   * Work units one call's evaluation may use, over all the conditions tried for it: two per node
   * evaluated, two more per operator or call dispatched at run time, one per list element or map
   * entry copied or walked (six per list or map compared), one per 8 characters read or written
   * by a string operation, 400 per error held (see `EvaluationBudget` for the full price list).
   * Running out is an evaluation error. Calibrated so that 100 000 units are at most about
   * 2.5 ms of CPU time for every shape of bench/ (adversarial-policy) in a warm server: the units,
   * which are deterministic, decide where the work is bounded, not the machine's speed or load.
   */
  maxEvaluationCost: 100_000,
  /**
   * Milliseconds one call's evaluation may take, a backstop to the units for work they price too
   * low on a slow or loaded machine: half the 10 ms in which a check decides, leaving room for
   * the work around it. Gaps of more than 1 ms between two looks at the clock count as 1 ms
   * (another process ran), up to 4 times this (20 ms) on the wall clock. Not lowered when the
   * units were recalibrated (2026-12-07): they now run out first, in ≤ 2.5 ms, so a lower clock
   * would only decide more calls by the machine's load (a cold or descheduled evaluation).
   */
  maxEvaluationMs: 5,
  /** Characters in a regular expression built at evaluation time (`s.matches(args.pattern)`). */
  maxDynamicPatternLength: 1024,
  /** Arguments whose types one policy declares (`args`). */
  maxDeclaredArgs: 256,
  /** Rules in one policy. */
  maxRules: 100,
  /** Policies in one set (one agent and environment). */
  maxPolicies: 1000,
  /** Characters in a tool name or pattern. */
  maxToolLength: 256,
  /** Seconds an approval may wait (30 days). */
  maxTimeoutSeconds: 2_592_000,
});

/**
 * The limit on the wall clock, gaps and all, as a multiple of the counted limit: 20 ms for the
 * default 5. A lower bound (1.6×, 8 ms) was tried: on a busy CI machine it cut ordinary
 * evaluations (a cold shell parse) and decided them by `on_error`, so it stays at 4× until the
 * parse of large bodies moves off the event loop (docs/performance.md, row 8).
 */
export const MAX_WALL_FACTOR = 4;

/**
 * The check text length from which an evaluation gets the fewest units: 256 KiB, the default
 * `ARDEN_CHECK_BODY_LIMIT`.
 */
export const UNITS_SHRINK_LENGTH = 256 * 1024;

/**
 * The work units of one call's evaluation, given the length of the check's JSON text: the full
 * `maxEvaluationCost` for a text of nothing, down in proportion to half of it at
 * `UNITS_SHRINK_LENGTH` (256 KiB) and beyond. A check has 10 ms in all, and everything in it but
 * the decision — reading the body, parsing it exactly, storing the call's text, hashing it into
 * the receipt, answering — grows with the body: at the check limit that work takes most of the
 * 10 ms (docs/performance.md, row 8), so the decision gets less room. An ordinary call of a few
 * KiB keeps 99 % of the units. Deterministic, like the units: the same check is decided the same
 * way on any machine.
 */
export function evaluationUnits(textLength: number | undefined): number {
  const full = POLICY_LIMITS.maxEvaluationCost;
  if (textLength === undefined || !(textLength > 0)) return full;
  const share = Math.max(0.5, 1 - textLength / (2 * UNITS_SHRINK_LENGTH));
  return Math.floor(full * share);
}
