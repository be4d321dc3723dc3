import { diffLines as lineChanges } from 'diff';
import { isScalar, parseDocument, stringify } from 'yaml';
import type { PolicyDefinition, PolicyIssue } from './api/types';

// The policy editor works on the YAML of `arden policies apply -f FILE` (a `policies:` list, see
// docs/policies.md), so what is written here can be copied into a file and back.

/** A place in the editor's text, 1-based. */
export interface TextPosition {
  line: number;
  column: number;
}

/** A problem with the draft: where it is in the text, and what it is. */
export interface DraftProblem extends Partial<TextPosition> {
  message: string;
  /** Where the problem is, in words (`policy "Refunds", rule 1, if`). */
  where?: string;
}

/** The YAML text of a policy set. */
export function policiesToYaml(policies: PolicyDefinition[]): string {
  if (policies.length === 0) return 'policies: []\n';
  return stringify({ policies }, { lineWidth: 0 });
}

/** Parses the editor's text: the policies, or the YAML syntax problems with their places. */
export function parsePoliciesYaml(
  text: string,
):
  | { policies: PolicyDefinition[]; problems: [] }
  | { policies: undefined; problems: DraftProblem[] } {
  const document = parseDocument(text, { prettyErrors: false });
  if (document.errors.length > 0) {
    return {
      policies: undefined,
      problems: document.errors.map((error) => {
        const position = positionOf(text, error.pos[0]);
        return { ...position, message: error.message.split('\n')[0] ?? error.message };
      }),
    };
  }
  const value = document.toJS() as unknown;
  if (value === null || value === undefined) return { policies: [], problems: [] };
  if (typeof value !== 'object' || Array.isArray(value) || !('policies' in value)) {
    return {
      policies: undefined,
      problems: [
        {
          line: 1,
          column: 1,
          message: 'The text must be a YAML map with a "policies:" list, as in a policy file.',
        },
      ],
    };
  }
  const policies = (value as { policies: unknown }).policies ?? [];
  if (!Array.isArray(policies)) {
    return {
      policies: undefined,
      problems: [{ line: 1, column: 1, message: '"policies" must be a list of policies.' }],
    };
  }
  return { policies: policies as PolicyDefinition[], problems: [] };
}

/** The 1-based line and column of a character offset. */
export function positionOf(text: string, offset: number): TextPosition {
  const before = text.slice(0, Math.max(0, offset));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

/** The character offset of a 1-based line and column. */
export function offsetOf(text: string, position: TextPosition): number {
  const lines = text.split('\n');
  let offset = 0;
  for (let index = 0; index < position.line - 1 && index < lines.length; index++) {
    offset += (lines[index]?.length ?? 0) + 1;
  }
  return Math.min(text.length, offset + position.column - 1);
}

function describePath(path: (string | number)[], policies: PolicyDefinition[]): string {
  const [index, ...rest] = path;
  if (typeof index !== 'number') return path.join('.');
  const name = policies[index]?.name;
  const parts = [typeof name === 'string' ? `policy "${name}"` : `policy ${index + 1}`];
  for (let position = 0; position < rest.length; position++) {
    const part = rest[position];
    if (part === 'rules' && typeof rest[position + 1] === 'number') {
      parts.push(`rule ${(rest[position + 1] as number) + 1}`);
      position++;
    } else if (part !== undefined) {
      parts.push(String(part));
    }
  }
  return parts.join(', ');
}

/**
 * Places a server-side issue (`path` into the policies, and `line`/`column` inside a CEL
 * condition) in the editor's text: the condition's own position plus the place of the error
 * inside it.
 */
export function locateIssue(
  text: string,
  issue: PolicyIssue,
  policies: PolicyDefinition[],
): DraftProblem {
  const where = describePath(issue.path, policies);
  const document = parseDocument(text);
  let node: unknown;
  // The deepest node of the path that exists (a missing field points at its policy).
  for (let depth = issue.path.length; depth >= 0 && !node; depth--) {
    node = document.getIn(['policies', ...issue.path.slice(0, depth)], true);
  }
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  if (!range) return { message: issue.message, where };
  let start = range[0];
  if (isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) start += 1;
  const base = positionOf(text, start);
  if (issue.line === undefined || issue.column === undefined) {
    return { ...base, message: issue.message, where };
  }
  const blockScalar =
    isScalar(node) && (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED');
  if (blockScalar || issue.line > 1) {
    // A multi-line condition: its lines follow the `if:` line, indented.
    const lines = text.split('\n');
    const firstLine = blockScalar ? base.line + 1 : base.line;
    const line = firstLine + issue.line - 1;
    const indent = blockScalar
      ? (lines[line - 1]?.match(/^\s*/)?.[0].length ?? 0)
      : base.column - 1;
    return { line, column: indent + issue.column, message: issue.message, where };
  }
  return { line: base.line, column: base.column + issue.column - 1, message: issue.message, where };
}

/** One line of a line diff. */
export interface DiffLine {
  kind: 'same' | 'added' | 'removed';
  text: string;
}

/** Edits past which a diff is not worth finding: everything is shown removed, then added. */
const maxEdits = 1_000;

function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Text ending in a newline (when not empty), so the last line compares like the others. */
function terminated(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/** A line diff of two texts (jsdiff's Myers diff), for the draft and version history. */
export function diffLines(before: string, after: string): DiffLine[] {
  const changes = lineChanges(terminated(before), terminated(after), { maxEditLength: maxEdits });
  if (!changes) {
    return [
      ...linesOf(before).map((text): DiffLine => ({ kind: 'removed', text })),
      ...linesOf(after).map((text): DiffLine => ({ kind: 'added', text })),
    ];
  }
  return changes.flatMap((change) => {
    const kind: DiffLine['kind'] = change.added ? 'added' : change.removed ? 'removed' : 'same';
    return linesOf(change.value).map((text) => ({ kind, text }));
  });
}
