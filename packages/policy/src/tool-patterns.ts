/**
 * Tool patterns: which policy decides a tool. A pattern is a tool name in which `*` stands for
 * any characters except `.` — `mcp.*.delete_file`, `mcp.github.delete_*` — except a `*` that
 * ends the pattern, which stands for anything, dots included, as prefix patterns always have
 * (`communication.*` matches `communication.email.send`). `*` alone matches every tool.
 *
 * Precedence, when several patterns match a tool:
 * 1. an exact name (no `*`);
 * 2. else the pattern with the most literal characters (everything but `*`), so a longer prefix
 *    still wins as it always has;
 * 3. then the pattern with fewer `*`;
 * 4. then the pattern whose first `*` comes later (the longer literal prefix).
 * Two enabled patterns equal on all of these that can both match one tool name are refused when
 * the policies are saved (`ambiguousPatterns`), so the order of policies never decides.
 */

/** A pattern compiled once: its segments, and its rank in the precedence. */
export interface ToolPattern {
  readonly source: string;
  /** Segments split on `.`; in each, the parts between `*`s. */
  readonly segments: readonly (readonly string[])[];
  /** The pattern ends with `*`: its last segment's final `*` also matches dots. */
  readonly open: boolean;
  readonly literals: number;
  readonly stars: number;
  readonly firstStar: number;
}

/** Why `tool` is not a valid tool pattern, or undefined when it is. */
export function toolPatternProblem(tool: string): string | undefined {
  if (tool.length === 0) return 'must not be empty';
  if (/\s/.test(tool)) return 'must not contain spaces';
  if (tool.includes('**')) {
    return 'has "**": in a tool pattern one "*" already matches any characters (but "." unless it ends the pattern)';
  }
  return undefined;
}

/** Compiles a pattern that contains `*` (check it with `toolPatternProblem` first). */
export function compileToolPattern(source: string): ToolPattern {
  const open = source.endsWith('*');
  const segments = source.split('.').map((segment) => segment.split('*'));
  let stars = 0;
  for (const char of source) if (char === '*') stars++;
  return {
    source,
    segments,
    open,
    literals: source.length - stars,
    stars,
    firstStar: source.indexOf('*'),
  };
}

/** Negative when `left` takes precedence over `right`; 0 when neither does. */
export function compareToolPatterns(left: ToolPattern, right: ToolPattern): number {
  return (
    right.literals - left.literals || left.stars - right.stars || right.firstStar - left.firstStar
  );
}

/** One segment (no dots) against the parts between its `*`s; `open` lets the last `*` run on. */
function matchSegment(parts: readonly string[], name: string): boolean {
  const first = parts[0] as string;
  if (parts.length === 1) return name === first;
  const last = parts[parts.length - 1] as string;
  if (!name.startsWith(first) || name.length < first.length + last.length) return false;
  if (!name.endsWith(last)) return false;
  // Greedy, leftmost: each middle part at its first place after the previous. Linear in the name
  // for each part (indexOf), and correct because `*` matches any run within the segment.
  let at = first.length;
  const end = name.length - last.length;
  for (let index = 1; index < parts.length - 1; index++) {
    const part = parts[index] as string;
    const found = name.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** True when `pattern` matches the tool name `tool`. */
export function toolPatternMatches(pattern: ToolPattern, tool: string): boolean {
  const names = tool.split('.');
  const count = pattern.segments.length;
  if (pattern.open ? names.length < count : names.length !== count) return false;
  for (let index = 0; index < count - 1; index++) {
    if (!matchSegment(pattern.segments[index] as readonly string[], names[index] as string)) {
      return false;
    }
  }
  const parts = pattern.segments[count - 1] as readonly string[];
  const name = names[count - 1] as string;
  // An open pattern's final `*` matches the rest of its segment and every segment after it.
  return pattern.open ? matchSegment([...parts.slice(0, -1), ''], name) : matchSegment(parts, name);
}

/** Whether some tool name matches both patterns (each `*` stands for `[^.]*`, an open end `.*`). */
export function patternsOverlap(left: string, right: string): boolean {
  const memo = new Map<number, boolean>();
  const width = right.length + 1;
  const openLeft = left.endsWith('*');
  const openRight = right.endsWith('*');
  const visit = (i: number, j: number): boolean => {
    const key = i * width + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    memo.set(key, false);
    let result: boolean;
    // An open end matches whatever the other pattern still produces.
    if ((openLeft && i === left.length - 1) || (openRight && j === right.length - 1)) {
      result = true;
    } else if (i === left.length || j === right.length) {
      const rest = i === left.length ? right.slice(j) : left.slice(i);
      result = /^\**$/.test(rest);
    } else {
      const a = left[i] as string;
      const b = right[j] as string;
      if (a === '*' && b === '*') result = visit(i + 1, j) || visit(i, j + 1);
      else if (a === '*') result = visit(i + 1, j) || (b !== '.' && visit(i, j + 1));
      else if (b === '*') result = visit(i, j + 1) || (a !== '.' && visit(i + 1, j));
      else result = a === b && visit(i + 1, j + 1);
    }
    memo.set(key, result);
    return result;
  };
  return visit(0, 0);
}

/**
 * Pairs of enabled patterns that precedence cannot order and that can match one tool name:
 * `[index, earlier index, message]`, for refusing the later policy when it is saved.
 */
export function ambiguousPatterns(
  tools: readonly { tool: string; index: number }[],
): { index: number; message: string }[] {
  const groups = new Map<string, { pattern: ToolPattern; index: number }[]>();
  const found: { index: number; message: string }[] = [];
  for (const { tool, index } of tools) {
    if (!tool.includes('*') || toolPatternProblem(tool) !== undefined) continue;
    const pattern = compileToolPattern(tool);
    const key = `${pattern.literals}:${pattern.stars}:${pattern.firstStar}`;
    const group = groups.get(key) ?? [];
    for (const other of group) {
      if (other.pattern.source === tool || !patternsOverlap(other.pattern.source, tool)) continue;
      found.push({
        index,
        message: `"${tool}" and "${other.pattern.source}" (policy #${other.index}) can match the same tool and neither is more specific (same literal characters, same number and place of "*"); make one more specific or merge them`,
      });
      break;
    }
    group.push({ pattern, index });
    groups.set(key, group);
  }
  return found;
}

/**
 * True when the tool pattern `pattern` (a name, or with `*`: see `compilePolicies`) matches the
 * tool name `tool`. For one-off checks; a compiled policy set matches faster.
 */
export function matchesToolPattern(pattern: string, tool: string): boolean {
  if (!pattern.includes('*')) return pattern === tool;
  return toolPatternMatches(compileToolPattern(pattern), tool);
}
