// The same registry keys as @arden/core's errors, so `ArdenError.isInstance(error)` from core
// recognises the errors of this package without a dependency on core.
const errorMarker = Symbol.for('arden.error');
const compileMarker = Symbol.for('arden.error.policy-compile');
const fileMarker = Symbol.for('arden.error.policy-file');

function hasMarker(value: unknown, marker: symbol): boolean {
  return (
    value != null &&
    typeof value === 'object' &&
    marker in value &&
    (value as Record<symbol, unknown>)[marker] === true
  );
}

/**
 * One problem found in a policy: where it is (`policy` name and `path` inside the policy, such as
 * `['rules', 0, 'if']`) and what is wrong. For a CEL condition, `line` and `column` (1-based)
 * point into the expression text.
 */
export interface PolicyIssue {
  /** Name of the policy (or its index when it has no usable name). */
  policy?: string;
  /** Path inside the policy definition, or inside the policy list for set-level problems. */
  path: (string | number)[];
  message: string;
  /** 1-based line inside the CEL expression. */
  line?: number;
  /** 1-based column inside the CEL expression. */
  column?: number;
}

/** A problem in a policy file, with its position in that file (1-based line and column). */
export interface PolicyFileIssue {
  file: string;
  line: number;
  column: number;
  message: string;
}

function formatIssue(issue: PolicyIssue): string {
  const where = [
    issue.policy === undefined ? undefined : `policy "${issue.policy}"`,
    issue.path.length > 0 ? issue.path.join('.') : undefined,
    issue.line === undefined ? undefined : `line ${issue.line}, column ${issue.column ?? 1}`,
  ]
    .filter((part) => part !== undefined)
    .join(', ');
  return where ? `${where}: ${issue.message}` : issue.message;
}

/**
 * Policies were refused because they do not compile: a bad CEL condition, an unknown effect, two
 * policies for one tool pattern. `issues` lists every problem found, not only the first. This is
 * the user's mistake, not a system fault: show the issues and let them fix the policy.
 */
export class PolicyCompileError extends Error {
  protected readonly [errorMarker] = true;
  protected readonly [compileMarker] = true;
  readonly issues: PolicyIssue[];

  constructor(issues: PolicyIssue[]) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(
      `The policies do not compile (${count}): ${issues.map(formatIssue).join('; ')}. Fix them and save again.`,
    );
    this.name = 'PolicyCompileError';
    this.issues = issues;
  }

  /** True for a `PolicyCompileError` from any installed copy of `@arden/policy`. */
  static isInstance(error: unknown): error is PolicyCompileError {
    return hasMarker(error, compileMarker);
  }
}

/**
 * A policy file could not be loaded: bad YAML, an unknown key, a wrong effect, a condition that
 * does not compile. Its message lists every issue as `file:line:column: message`, the form that
 * editors and CI annotate.
 */
export class PolicyFileError extends Error {
  protected readonly [errorMarker] = true;
  protected readonly [fileMarker] = true;
  readonly issues: PolicyFileIssue[];

  constructor(issues: PolicyFileIssue[]) {
    super(
      issues
        .map((issue) => `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`)
        .join('\n'),
    );
    this.name = 'PolicyFileError';
    this.issues = issues;
  }

  /** True for a `PolicyFileError` from any installed copy of `@arden/policy`. */
  static isInstance(error: unknown): error is PolicyFileError {
    return hasMarker(error, fileMarker);
  }
}
