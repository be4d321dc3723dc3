import { chargeActive } from './budget';

/**
 * `path.within(p, root)` and `path.matches(p, glob)`: POSIX path checks for conditions, on the
 * text alone. The engine never looks at the file system, so it cannot resolve symbolic links:
 * see docs/policies.md ("Paths").
 */

/** Characters of a path these functions read (PATH_MAX); a longer one is an evaluation error. */
export const MAX_PATH_LENGTH = 4096;
/** Characters of a glob. */
export const MAX_GLOB_LENGTH = 1024;
/** Alternatives a glob's braces may expand to (`{a,b}{c,d}` is 4). */
export const MAX_GLOB_ALTERNATIVES = 64;

/** A brace expansion (`{/,x}`, `{..,a}`, `{1..3}`): the shell makes several paths of it. */
const braceExpansion = /\{[^{}]*(,|\.\.)[^{}]*\}/;

/** Thrown for a path or glob the functions refuse: an evaluation error. */
export class PathError extends Error {
  override name = 'PathError';
}

interface NormalPath {
  absolute: boolean;
  /** Leading `..` segments of a relative path (it starts above where it is relative to). */
  up: number;
  segments: string[];
}

/**
 * A path normalised on its text: duplicate slashes, `.` segments and a trailing slash removed,
 * `..` resolved (at `/` it stays at `/`). Undefined for a path whose meaning the shell decides
 * (`~`, `$VAR`, a backtick, a brace expansion such as `{/,x}`): no rule can know where it points.
 */
export function normalizePath(text: string, what = 'path'): NormalPath | undefined {
  if (text.length > MAX_PATH_LENGTH) {
    throw new PathError(`a ${what} is longer than ${MAX_PATH_LENGTH} characters`);
  }
  chargeActive((text.length >>> 3) + 1);
  if (
    text.startsWith('~') ||
    text.includes('$') ||
    text.includes('`') ||
    text.includes('\0') ||
    braceExpansion.test(text)
  ) {
    return undefined;
  }
  const absolute = text.startsWith('/');
  const segments: string[] = [];
  let up = 0;
  for (const segment of text.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length > 0) segments.pop();
      else if (!absolute) up++;
      continue;
    }
    segments.push(segment);
  }
  return { absolute, up, segments };
}

/**
 * True when `path` is `root` or inside it, after normalising both. An absolute path is never
 * within a relative root nor the reverse, and a path or root that starts with `~` or holds `$`
 * or a backtick is within nothing (the engine cannot expand it): both answers are the safe
 * ones, whether a rule allows what is within or blocks what is not.
 */
export function pathWithin(path: string, root: string): boolean {
  const normal = normalizePath(path);
  const base = normalizePath(root, 'root');
  if (normal === undefined || base === undefined) return false;
  if (normal.absolute !== base.absolute || normal.up !== base.up) return false;
  if (normal.segments.length < base.segments.length) return false;
  chargeActive(base.segments.length);
  for (let index = 0; index < base.segments.length; index++) {
    if (normal.segments[index] !== base.segments[index]) return false;
  }
  return true;
}

/** One segment of a glob: `**`, or a pattern of literal characters, `*`, `?` and classes. */
type GlobSegment = '**' | readonly GlobToken[];
type GlobToken =
  | { kind: 'literal'; text: string }
  | { kind: 'star' }
  | { kind: 'any' }
  | { kind: 'class'; negated: boolean; ranges: [number, number][] };

/** One alternative of a glob (after brace expansion). */
interface CompiledGlob {
  absolute: boolean;
  segments: GlobSegment[];
}

const globs = new Map<string, CompiledGlob[]>();
const MAX_CACHED_GLOBS = 256;

/**
 * True when `path` (normalised as for `pathWithin`) matches `glob`: `*` any characters but `/`,
 * `?` one, `[a-z]` and `[!a-z]` classes, `{a,b}` alternatives, and `**` as a whole segment any
 * number of segments (none included). `*` and `**` match names starting with `.` too. A glob is
 * anchored at both ends: `*.pem` matches `key.pem` but not `keys/key.pem` (use `**` + `/*.pem`).
 */
export function pathMatches(path: string, glob: string): boolean {
  const normal = normalizePath(path);
  const compiled = compileGlob(glob);
  if (normal === undefined) return false;
  const segments = [...Array<string>(normal.up).fill('..'), ...normal.segments];
  return compiled.some(
    (alternative) =>
      // A glob that starts with `**` matches absolute and relative paths alike.
      (alternative.absolute === normal.absolute ||
        (!alternative.absolute && alternative.segments[0] === '**')) &&
      matchSegments(alternative.segments, segments),
  );
}

function compileGlob(glob: string): CompiledGlob[] {
  if (glob.length > MAX_GLOB_LENGTH) {
    throw new PathError(`a glob is longer than ${MAX_GLOB_LENGTH} characters`);
  }
  const cached = globs.get(glob);
  if (cached !== undefined) return cached;
  chargeActive(glob.length);
  const compiled: CompiledGlob[] = expandBraces(glob).map((alternative) => ({
    absolute: alternative.startsWith('/'),
    segments: alternative
      .split('/')
      .filter((segment) => segment !== '' && segment !== '.')
      .map((segment) => (segment === '**' ? '**' : tokenize(segment))),
  }));
  if (globs.size >= MAX_CACHED_GLOBS) globs.clear();
  globs.set(glob, compiled);
  return compiled;
}

/** `{a,b}c` → `ac`, `bc`; nested braces too, at most `MAX_GLOB_ALTERNATIVES`. */
function expandBraces(glob: string): string[] {
  const open = findBrace(glob);
  if (open === undefined) return [glob];
  const { start, end, parts } = open;
  const results: string[] = [];
  for (const part of parts) {
    for (const expanded of expandBraces(glob.slice(0, start) + part + glob.slice(end + 1))) {
      results.push(expanded);
      if (results.length > MAX_GLOB_ALTERNATIVES) {
        throw new PathError(
          `a glob's braces expand to more than ${MAX_GLOB_ALTERNATIVES} alternatives`,
        );
      }
    }
  }
  return results;
}

function findBrace(glob: string): { start: number; end: number; parts: string[] } | undefined {
  for (let start = glob.indexOf('{'); start !== -1; start = glob.indexOf('{', start + 1)) {
    let depth = 0;
    const parts: string[] = [];
    let partStart = start + 1;
    for (let index = start; index < glob.length; index++) {
      const char = glob[index];
      if (char === '\\') index++;
      else if (char === '{') depth++;
      else if (char === '}' && --depth === 0) {
        parts.push(glob.slice(partStart, index));
        // `{a}` alone is literal, as in the shell.
        if (parts.length > 1) return { start, end: index, parts };
        break;
      } else if (char === ',' && depth === 1) {
        parts.push(glob.slice(partStart, index));
        partStart = index + 1;
      }
    }
  }
  return undefined;
}

function tokenize(segment: string): GlobToken[] {
  const tokens: GlobToken[] = [];
  for (let index = 0; index < segment.length; index++) {
    const char = segment[index] as string;
    if (char === '*') {
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (char === '?') tokens.push({ kind: 'any' });
    else if (char === '[') {
      const close = segment.indexOf(']', index + 2);
      if (close === -1) tokens.push({ kind: 'literal', text: '[' });
      else {
        let body = segment.slice(index + 1, close);
        const negated = body.startsWith('!') || body.startsWith('^');
        if (negated) body = body.slice(1);
        const ranges: [number, number][] = [];
        for (let at = 0; at < body.length; at++) {
          const low = body.charCodeAt(at);
          if (body[at + 1] === '-' && at + 2 < body.length) {
            ranges.push([low, body.charCodeAt(at + 2)]);
            at += 2;
          } else ranges.push([low, low]);
        }
        tokens.push({ kind: 'class', negated, ranges });
        index = close;
      }
    } else {
      const text =
        char === '\\' && index + 1 < segment.length ? (segment[++index] as string) : char;
      tokens.push({ kind: 'literal', text });
    }
  }
  return tokens;
}

function tokenMatches(token: GlobToken, code: number): boolean {
  if (token.kind === 'any') return true;
  if (token.kind === 'literal') return token.text.charCodeAt(0) === code;
  if (token.kind === 'class') {
    const inside = token.ranges.some(([low, high]) => code >= low && code <= high);
    return inside !== token.negated;
  }
  return false;
}

/** One name against one segment's tokens: greedy `*` with one backtrack point, O(n·m). */
function matchName(tokens: readonly GlobToken[], name: string): boolean {
  chargeActive(((name.length * (tokens.length + 1)) >>> 5) + 1);
  let token = 0;
  let char = 0;
  let starToken = -1;
  let starChar = 0;
  while (char < name.length) {
    const current = tokens[token];
    if (current !== undefined && current.kind === 'star') {
      starToken = token++;
      starChar = char;
    } else if (current !== undefined && tokenMatches(current, name.charCodeAt(char))) {
      token++;
      char++;
    } else if (starToken !== -1) {
      token = starToken + 1;
      char = ++starChar;
    } else return false;
  }
  while (tokens[token]?.kind === 'star') token++;
  return token === tokens.length;
}

/** Segments against a glob's segments, `**` matching any run of segments: O(p·s) table. */
function matchSegments(glob: readonly GlobSegment[], segments: readonly string[]): boolean {
  chargeActive(((glob.length + 1) * (segments.length + 1)) >>> 2);
  // reachable[j]: the glob's first i segments can match the path's first j.
  let reachable = new Uint8Array(segments.length + 1);
  reachable[0] = 1;
  for (const part of glob) {
    const next = new Uint8Array(segments.length + 1);
    if (part === '**') {
      let any = 0;
      for (let index = 0; index <= segments.length; index++) {
        any |= reachable[index] as number;
        next[index] = any;
      }
    } else {
      for (let index = 0; index < segments.length; index++) {
        if (reachable[index] === 1 && matchName(part, segments[index] as string))
          next[index + 1] = 1;
      }
    }
    reachable = next;
  }
  return reachable[segments.length] === 1;
}
