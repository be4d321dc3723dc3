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
   * Estimated macro iterations for one evaluation of one condition: for each macro, the size of
   * the largest list, map (or, when the condition uses `split`, string) in `args`, raised to the
   * macro's nesting level. A condition over larger inputs fails to evaluate instead of running.
   */
  maxMacroIterations: 100_000,
  /** Characters in a regular expression built at evaluation time (`s.matches(args.pattern)`). */
  maxDynamicPatternLength: 1024,
  /** Rules in one policy. */
  maxRules: 100,
  /** Policies in one set (one agent and environment). */
  maxPolicies: 1000,
  /** Characters in a tool name or pattern. */
  maxToolLength: 256,
  /** Seconds an approval may wait (30 days). */
  maxTimeoutSeconds: 2_592_000,
});
