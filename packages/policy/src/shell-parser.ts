import type { Node, Parser, Tree } from 'web-tree-sitter';
import { chargeActiveQuietly, throwIfActiveExceeded } from './budget';
import { MAX_WALL_FACTOR, POLICY_LIMITS } from './limits';

/**
 * The Bash parser behind `shell.commands`: tree-sitter-bash (the grammar GitHub and editors use)
 * run by web-tree-sitter, both WebAssembly. Parsing is synchronous once loaded; loading is not
 * (WebAssembly compiles asynchronously), so it starts on the first compile of a condition that
 * uses `shell.` and `loadShellParser()` waits for it. Until it is loaded, `shell.commands` is an
 * evaluation error, which never lets a call through.
 */

let parser: Parser | undefined;
let loading: Promise<void> | undefined;
let loadError: string | undefined;
let readerWarmUp: ((line: string) => void) | undefined;

/** Sets what reads a parsed line, run on a few lines once the parser loads (to warm it up). */
export function setShellReaderWarmUp(warmUp: (line: string) => void): void {
  readerWarmUp = warmUp;
}

/**
 * Wall-clock milliseconds one parse may take before it is cancelled: an evaluation's whole time
 * budget on the wall clock (20 ms; the parse is one step, so it gets the wall bound, not the
 * counted 5 ms — a cold parse on a busy machine took more than 5 ms). Parsing is about linear for command lines people write, but tree-sitter's error
 * recovery is not for some adversarial ones (10 000 nested parentheses: ~300 ms uncancelled).
 */
export const MAX_PARSE_MS = POLICY_LIMITS.maxEvaluationMs * MAX_WALL_FACTOR;

/**
 * Work units charged each time the parser reports progress. tree-sitter calls back after every
 * 100 of its operations (a count, not a clock: the same line gives the same calls on any machine),
 * and its time is in those operations, not in the characters: 16 000 characters of `a | a | …`
 * took 48 ms (681 calls back, 70 µs each on a loaded machine), 16 000 of one word 2 ms (none).
 * 1000 characters of it 4 ms for about 40 calls back (70–100 µs each, loaded). Priced as the
 * evaluator's nodes are, a little above (4000 units), the parse is stopped where the budget runs out, decided by
 * the units and well before the clock; a line of ordinary commands calls back about 12 times a
 * 1000 characters, a heredoc's text not at all.
 */
export const PARSE_PROGRESS_COST = 4000;

const WARM_UP_LINES = [
  'cd /tmp && FOO=1 sudo rm -rf "$HOME/x" || echo $(id -u) `date`; ls | wc -l > out 2>&1',
  'bash -c \'for f in *.txt; do if [ -f "$f" ]; then cat <<EOF\n$f\nEOF\n; fi; done\' &',
  'git push --force origin +main:refs/heads/main; find . -exec rm {} \\; ( echo a; { b; } )',
];

/** The module that resolves package files, for ESM and CJS builds alike. */
async function resolver(): Promise<(id: string) => string> {
  const { createRequire } = await import('node:module');
  const base = typeof __filename === 'string' ? __filename : (import.meta as { url?: string }).url;
  return createRequire(base ?? `${process.cwd()}/`).resolve;
}

/**
 * Loads the shell parser used by `shell.commands` (about 1.5 MB of WebAssembly, 30–60 ms).
 * Idempotent; the engine calls it on its own when a condition that uses `shell.` is compiled,
 * so call it at start-up (and `await` it) when conditions must work from the first call, as in
 * tests and one-shot tools. Rejects when the parser cannot be loaded.
 */
export function loadShellParser(): Promise<void> {
  loading ??= (async () => {
    try {
      const { Parser: ParserClass, Language } = await import('web-tree-sitter');
      const resolve = await resolver();
      await ParserClass.init();
      const bash = await Language.load(resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
      const created = new ParserClass();
      created.setLanguage(bash);
      // The first parses run cold WebAssembly (10–30 ms on a busy machine): warm it up here, so
      // that no call's evaluation budget pays for it.
      for (let round = 0; round < 8; round++) {
        for (const line of WARM_UP_LINES) created.parse(line)?.delete();
      }
      // And a long line's path, which the short ones never take: progress reports, and a parse
      // cancelled by them as the budget cancels one (cold, the first such parse of a process
      // took 6 ms of CPU; warm, 2 ms).
      const long = `${'a | '.repeat(250)}b`;
      for (let round = 0; round < 8; round++) {
        let reports = 0;
        created
          .parse(long, null, { progressCallback: (() => ++reports >= 20) as () => void })
          ?.delete();
        created.reset();
      }
      parser = created;
      // And the code that reads the trees (outside any evaluation, so charged to nothing kept).
      for (let round = 0; round < 8; round++) {
        for (const line of WARM_UP_LINES) {
          try {
            readerWarmUp?.(line);
          } catch {
            // A warm-up line that the reader refuses changes nothing.
          }
        }
      }
    } catch (error) {
      loadError = error instanceof Error ? error.message : String(error);
      throw error;
    }
  })();
  return loading;
}

/**
 * Resolves once the shell parser is loaded or failed to load, if loading has started (compiling
 * a condition that mentions `shell` starts it); at once otherwise. Never rejects. Await it after
 * compiling policies and before evaluating them, so that the first call sees the parser.
 */
export function shellParserSettled(): Promise<void> {
  return loading === undefined ? Promise.resolve() : loading.catch(() => undefined);
}

/** Starts loading in the background (errors surface when `shell.commands` runs). */
export function preloadShellParser(): void {
  loadShellParser().catch(() => undefined);
}

/** Why a shell command line cannot be parsed (never quotes the command). */
export class ShellParseError extends Error {
  override name = 'ShellParseError';
}

/**
 * Parses `text` and hands the root node to `read`, then frees the tree. Throws
 * `ShellParseError` when the parser is not loaded, the text has a syntax error, or parsing
 * takes longer than `MAX_PARSE_MS`.
 */
export function withParsedShell<T>(text: string, read: (root: Node) => T): T {
  if (parser === undefined) {
    throw new ShellParseError(
      loadError === undefined
        ? 'shell.commands: the shell parser is still loading (call and await loadShellParser() at start-up)'
        : 'shell.commands: the shell parser could not be loaded',
    );
  }
  const deadline = performance.now() + MAX_PARSE_MS;
  let tree: Tree | null;
  try {
    tree = parser.parse(text, null, {
      // Returning true cancels the parse.
      progressCallback: (() =>
        !chargeActiveQuietly(PARSE_PROGRESS_COST) || performance.now() > deadline) as () => void,
    });
  } catch {
    parser.reset();
    throw new ShellParseError('shell.commands: the command line could not be parsed');
  }
  if (tree === null) {
    parser.reset();
    // Stopped by the units: the budget's error, which says so.
    throwIfActiveExceeded();
    throw new ShellParseError(
      `shell.commands: parsing took longer than ${MAX_PARSE_MS} ms; the command line is too complex`,
    );
  }
  try {
    const root = tree.rootNode;
    if (root.hasError) {
      throw new ShellParseError(
        `shell.commands: the command line is not valid shell syntax (near character ${firstErrorOffset(root)})`,
      );
    }
    return read(root);
  } finally {
    tree.delete();
  }
}

/** The offset of the first ERROR or MISSING node (iterative: trees may be deep). */
function firstErrorOffset(root: Node): number {
  const cursor = root.walk();
  try {
    for (;;) {
      const node = cursor.currentNode;
      if (node.isError || node.isMissing) return node.startIndex;
      if (node.hasError && cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) return 0;
      }
    }
  } finally {
    cursor.delete();
  }
}
