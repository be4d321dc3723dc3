import type { Environment } from '@marcbachmann/cel-js';
import { pathMatches, pathWithin } from './path';
import { shellCommands } from './shell';
import { preloadShellParser } from './shell-parser';

/**
 * The functions for coding agents' tools: `shell.commands(string)`, `path.within(string,
 * string)` and `path.matches(string, string)`. CEL has no namespaces of its own, so `shell` and
 * `path` are constants of types whose methods these are. Each charges the evaluation budget.
 */

/** The type of the `shell` constant. */
class ShellFunctions {}
/** The type of the `path` constant. */
class PathFunctions {}

/** Registers `shell.*` and `path.*` on `environment`. */
export function registerCodingFunctions(environment: Environment): void {
  environment
    .registerType('ShellFunctions', ShellFunctions)
    .registerType('PathFunctions', PathFunctions)
    .registerConstant('shell', 'ShellFunctions', new ShellFunctions())
    .registerConstant('path', 'PathFunctions', new PathFunctions())
    .registerFunction(
      'ShellFunctions.commands(string): list<map<string, dyn>>',
      (_shell: ShellFunctions, line: string) => shellCommands(line),
      {
        description:
          'The simple commands of a shell command line, each {name, path, args, argv, env, redirects, via}.',
      },
    )
    .registerFunction(
      'PathFunctions.within(string, string): bool',
      (_path: PathFunctions, path: string, root: string) => pathWithin(path, root),
      { description: 'The path is the root or inside it, after normalising both.' },
    )
    .registerFunction(
      'PathFunctions.matches(string, string): bool',
      (_path: PathFunctions, path: string, glob: string) => pathMatches(path, glob),
      { description: 'The normalised path matches the glob (*, **, ?, [..], {a,b}).' },
    );
}

/** Starts loading the shell parser when a condition may call `shell.commands`. */
export function prepareCodingFunctions(source: string): void {
  if (source.includes('shell')) preloadShellParser();
}
