import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  Scalar,
} from 'yaml';
import { compileInternal, type LocatedIssue, zodIssues } from './compile';
import { PolicyFileError, type PolicyFileIssue } from './errors';
import { exactInteger } from './exact-json';
import type { FlipKind } from './flips';
import { policyFileSchema } from './schema';
import type { Effect, McpCallInfo, PolicyDefinition, PolicyEnvironment } from './types';

/** A test case of a policy file: this call should get this effect. */
export interface PolicyTest {
  name?: string;
  tool: string;
  /**
   * The call's keyword arguments, with numbers as the server gives them to conditions: integers
   * as `bigint` (CEL int) or cel-js `UnsignedInt` (uint), others as `number` (double).
   */
  args: Record<string, unknown>;
  session?: string | null;
  agent?: { id: string; name: string };
  environment?: PolicyEnvironment;
  /** ISO 8601 time of the call (the variable `now`). */
  now?: string;
  /** An MCP tool's server, name and annotations (the variable `mcp`). */
  mcp?: McpCallInfo;
  expect: Effect;
  /** 1-based line of the test case in its file. */
  line?: number;
  /** 1-based column of the test case in its file. */
  column?: number;
}

/** A parsed and validated policy file. */
export interface PolicyFile {
  settings: { default_action: Effect };
  policies: PolicyDefinition[];
  tests: PolicyTest[];
  /**
   * `simulation.forbid`: the flips (against the current policies) that make `arden policies
   * simulate` exit non-zero, without duplicates. Not part of the policy set that is saved.
   */
  simulation: { forbid: FlipKind[] };
  /** The name given to `parsePolicyFile`, used in test results. */
  fileName?: string;
}

interface Located {
  offset: number;
}

function pathNode(document: Document, path: readonly (string | number)[], atKey: boolean): Located {
  let node: unknown = document.contents;
  let found: Located = { offset: rangeStart(node) };
  for (let index = 0; index < path.length; index++) {
    const key = path[index];
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && scalarValue(item.key) === key);
      if (pair === undefined) return found;
      if (last && atKey) return { offset: rangeStart(pair.key, found.offset) };
      node = pair.value;
      // `key:` with nothing after it has no value node: point at the key.
      found = { offset: rangeStart(node, rangeStart(pair.key, found.offset)) };
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (node === undefined) return found;
      found = { offset: rangeStart(node, found.offset) };
    } else return found;
  }
  return found;
}

function scalarValue(node: unknown): unknown {
  return isScalar(node) ? node.value : node;
}

function rangeStart(node: unknown, fallback = 0): number {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : fallback;
}

/**
 * The source offset of character `offset` of a scalar's value. Exact for one-line scalars
 * (escapes in quoted ones included) and for literal blocks (`|`); for folded and multi-line
 * scalars it follows the lines and may be a few characters off on joined lines.
 */
function scalarSourceOffset(text: string, node: Scalar, offset: number): number {
  const range = node.range;
  if (!range) return 0;
  const [start, end] = range;
  const source = text.slice(start, end);
  const type = node.type;
  const block = type === Scalar.BLOCK_LITERAL || type === Scalar.BLOCK_FOLDED;
  if (!block && !source.includes('\n')) {
    if (type === Scalar.QUOTE_SINGLE || type === Scalar.QUOTE_DOUBLE) {
      let position = 1;
      for (let index = 0; index < offset && position < source.length - 1; index++) {
        if (type === Scalar.QUOTE_SINGLE) position += source.startsWith("''", position) ? 2 : 1;
        else if (source[position] !== '\\') position += 1;
        else {
          const escaped = source[position + 1];
          position += escaped === 'x' ? 4 : escaped === 'u' ? 6 : escaped === 'U' ? 10 : 2;
        }
      }
      return start + position;
    }
    return start + offset;
  }
  // Line by line: each line of content (without its indentation) contributes its text and one
  // separator character to the value.
  const lines: { start: number; text: string }[] = [];
  let lineStart = block ? source.indexOf('\n') + 1 : type === Scalar.PLAIN ? 0 : 1;
  if (block && lineStart === 0) return start;
  let indent = -1;
  while (lineStart <= source.length) {
    let lineEnd = source.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = source.length;
    const raw = source.slice(lineStart, lineEnd);
    const leading = raw.length - raw.trimStart().length;
    let skip = leading;
    if (block) {
      if (indent === -1 && raw.trim() !== '') indent = leading;
      skip = Math.min(leading, indent === -1 ? leading : indent);
    }
    lines.push({ start: start + lineStart + skip, text: block ? raw.slice(skip) : raw.trim() });
    lineStart = lineEnd + 1;
  }
  let remaining = offset;
  for (const line of lines) {
    if (remaining <= line.text.length) return line.start + remaining;
    remaining -= line.text.length + 1;
  }
  return start;
}

class IssueCollector {
  readonly issues: PolicyFileIssue[] = [];
  readonly #lineCounter: LineCounter;
  readonly #fileName: string;

  constructor(lineCounter: LineCounter, fileName: string) {
    this.#lineCounter = lineCounter;
    this.#fileName = fileName;
  }

  position(offset: number): { line: number; column: number } {
    const { line, col } = this.#lineCounter.linePos(offset);
    // linePos reports line 0 before the first recorded line start.
    return line === 0 ? { line: 1, column: offset + 1 } : { line, column: col };
  }

  add(offset: number, message: string): void {
    this.issues.push({ file: this.#fileName, ...this.position(offset), message });
  }
}

function describePath(path: readonly (string | number)[]): string {
  let described = '';
  for (const key of path)
    described += typeof key === 'number' ? `[${key}]` : described ? `.${key}` : key;
  return described;
}

function reportIssue(
  collector: IssueCollector,
  document: Document,
  text: string,
  issue: LocatedIssue,
): void {
  const path = issue.path;
  const where = describePath(path);
  const message = where ? `${where}: ${issue.message}` : issue.message;
  if (issue.offset !== undefined) {
    const node = document.getIn(path, true);
    if (isScalar(node)) {
      collector.add(scalarSourceOffset(text, node, issue.offset), message);
      return;
    }
  }
  collector.add(pathNode(document, path, issue.atKey === true).offset, message);
}

/**
 * Parses and validates a policy file (`policies.yaml`): `settings.default_action`, `policies`,
 * `tests` and `simulation.forbid`. Unknown keys, wrong effects, bad CEL conditions and two policies for one tool
 * pattern are errors. Throws `PolicyFileError` whose issues (and message lines) give
 * `file:line:column` for each problem; a bad condition points into the condition itself.
 */
export function parsePolicyFile(text: string, fileName = 'policies.yaml'): PolicyFile {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const collector = new IssueCollector(lineCounter, fileName);
  for (const error of document.errors) {
    collector.add(error.pos[0], error.message.split('\n', 1)[0] ?? error.message);
  }
  if (collector.issues.length > 0) throw new PolicyFileError(collector.issues);

  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    collector.add(0, error instanceof Error ? error.message : String(error));
    throw new PolicyFileError(collector.issues);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    collector.add(
      rangeStart(document.contents),
      'expected a mapping with `policies:` (and optional `settings:`, `tests:` and `simulation:`)',
    );
    throw new PolicyFileError(collector.issues);
  }

  const parsed = policyFileSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of zodIssues(parsed.error, data))
      reportIssue(collector, document, text, issue);
    throw new PolicyFileError(collector.issues);
  }
  const policies = parsed.data.policies as PolicyDefinition[];
  const { issues } = compileInternal(policies);
  for (const issue of issues) {
    reportIssue(collector, document, text, { ...issue, path: ['policies', ...issue.path] });
  }
  if (collector.issues.length > 0) throw new PolicyFileError(collector.issues);

  // Integers as the server reads them (bigint), for the tests' arguments only.
  const exactDocument =
    (parsed.data.tests ?? []).length > 0
      ? parseDocument(text, { intAsBigInt: true, uniqueKeys: true })
      : undefined;
  const tests: PolicyTest[] = (parsed.data.tests ?? []).map((test, index) => {
    const node = document.getIn(['tests', index], true);
    const { expect, args, ...rest } = test;
    const result: PolicyTest = {
      ...rest,
      args: exactTestArguments(exactDocument, index) ?? args ?? {},
      expect,
    };
    if (node) Object.assign(result, collector.position(rangeStart(node)));
    return result;
  });
  return {
    settings: { default_action: parsed.data.settings?.default_action ?? 'allow' },
    policies,
    tests,
    simulation: { forbid: [...new Set(parsed.data.simulation?.forbid ?? [])] },
    fileName,
  };
}

// A test's arguments with numbers as the server gives them to a condition (integers as CEL
// int/uint, see parseExactJson), so that a file's tests decide as the server would.
function exactTestArguments(
  document: ReturnType<typeof parseDocument> | undefined,
  index: number,
): Record<string, unknown> | undefined {
  if (!document) return undefined;
  const value = document.getIn(['tests', index, 'args'], true) as
    | { toJS?: (document: object, options: object) => unknown }
    | undefined;
  const args = value?.toJS?.(document, { maxAliasCount: 100 });
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return undefined;
  return exactIntegers(args) as Record<string, unknown>;
}

function exactIntegers(value: unknown): unknown {
  if (typeof value === 'bigint') return exactInteger(value);
  if (Array.isArray(value)) return value.map(exactIntegers);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(result, key, {
        value: exactIntegers(item),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return result;
  }
  return value;
}
