import type { Node } from 'web-tree-sitter';
import { chargeActive } from './budget';
import { ShellParseError, setShellReaderWarmUp, withParsedShell } from './shell-parser';

/**
 * `shell.commands(line)`: the simple commands of a shell command line, each with its argv, for
 * conditions such as `shell.commands(args.command).exists(c, c.name == "rm")`. See
 * docs/policies.md ("Shell commands") for what is and is not seen.
 */

/** Characters of a command line `shell.commands` parses; a longer one is an evaluation error. */
export const MAX_SHELL_LENGTH = 16_384;
/** Nested `bash -c '…'`, `eval '…'` and wrappers (`sudo env nice …`) read into, at most. */
export const MAX_SHELL_NESTING = 4;
/** Commands one line may yield (a list longer than this is an evaluation error). */
export const MAX_SHELL_COMMANDS = 1_000;

// Measured (web-tree-sitter 0.27, Node 24, a loaded machine): 20–40 µs a parse, up to 0.15 µs a
// character (one long word; 0.03 µs in a heredoc's text), and the parser's own operations, which
// are charged as it reports them (`PARSE_PROGRESS_COST`); a work unit is 15–35 ns of evaluation
// (2 a node). The base was 400 units when a unit was taken for 0.1 µs: 8000 lines of `ls 1` then
// took 4.7 ms of CPU for 100 000 units.
const PARSE_BASE_COST = 1500;
const PARSE_COST_PER_CHARACTER = 6;

/** One redirection of a command: `{op: ">", target: ".env"}`. */
export interface ShellRedirect {
  op: string;
  target: string;
}

/** One simple command as a condition sees it (a CEL map). */
export interface ShellCommand {
  /** The program's base name without a leading backslash: `rm` for `/bin/rm` and `\rm`. */
  name: string;
  /** The program as written. */
  path: string;
  /** The arguments after the program, quotes removed, expansions (`$HOME`, `$(…)`) as written. */
  args: string[];
  /** The program and its arguments. */
  argv: string[];
  /** Assignments before the program (`FOO=1 make`). */
  env: Record<string, string>;
  /** Redirections of the command, and of the group or subshell around it. */
  redirects: ShellRedirect[];
  /** What ran it: `""` for the line itself, else `sudo`, `bash -c`, `eval`, `find -exec`, `xargs`, … */
  via: string;
}

const SHELLS = new Set(['bash', 'sh', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'busybox', 'fish']);

/** Programs whose `-c COMMAND` (or `--command`) option runs a shell command line. */
const COMMAND_OPTION = new Set(['su', 'runuser', 'script', 'flock']);

/**
 * Wrappers that run their arguments as a command, with their options that take a value (the
 * inner command starts at the first argument that is not an option or an option's value).
 */
const WRAPPERS: Record<
  string,
  { values: Set<string>; positional?: number; assignments?: boolean }
> = {
  sudo: { values: new Set(['-u', '-g', '-C', '-D', '-h', '-p', '-r', '-t', '-U', '-T', '-R']) },
  doas: { values: new Set(['-u', '-C']) },
  env: { values: new Set(['-u', '-C', '-S', '--unset', '--chdir']), assignments: true },
  nohup: { values: new Set() },
  time: { values: new Set(['-f', '-o']) },
  nice: { values: new Set(['-n']) },
  ionice: { values: new Set(['-c', '-n', '-p']) },
  timeout: { values: new Set(['-s', '-k', '--signal', '--kill-after']), positional: 1 },
  command: { values: new Set() },
  builtin: { values: new Set() },
  exec: { values: new Set(['-a']) },
  stdbuf: { values: new Set(['-i', '-o', '-e']) },
  xargs: { values: new Set(['-I', '-n', '-P', '-L', '-d', '-E', '-s', '-a']) },
  nsenter: { values: new Set(['-t']) },
  chrt: { values: new Set(), positional: 1 },
  taskset: { values: new Set(), positional: 1 },
  watch: { values: new Set(['-n', '-d']) },
  coproc: { values: new Set() },
  setsid: { values: new Set() },
  chroot: { values: new Set(['--userspec', '--groups']), positional: 1 },
  flock: { values: new Set(['-w', '-E', '--timeout', '--conflict-exit-code']), positional: 1 },
  runuser: { values: new Set(['-u', '-g', '-G', '--user', '--group', '--supp-group']) },
};

const FIND_EXEC = new Set(['-exec', '-execdir', '-ok', '-okdir']);

/** The value of `-c X` (`-qc X`, `--command X`, `--command=X`) anywhere in `args`, if any. */
function commandOption(args: string[]): string | undefined {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string;
    if (arg === '--') return undefined;
    if (arg.startsWith('--command=')) return arg.slice('--command='.length);
    if (arg === '--command' || /^-[A-Za-z]*c$/.test(arg)) return args[index + 1];
  }
  return undefined;
}

/** Long options of the shells that take the next word as their value. */
const SHELL_LONG_VALUES = new Set(['--rcfile', '--init-file']);

/**
 * `env -S 'rm -rf /'` (`-S…`, `--split-string=…`): env splits the string into the command and
 * its arguments, much as a shell would, so it is read as a script (with the words after it).
 */
function envSplitString(args: string[]): string | undefined {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string;
    if (arg === '--' || !arg.startsWith('-')) return undefined;
    let value: string | undefined;
    if (arg === '-S' || arg === '--split-string') value = args[index + 1];
    else if (arg.startsWith('--split-string=')) value = arg.slice('--split-string='.length);
    else if (/^-[iv0]*S./.test(arg)) value = arg.slice(arg.indexOf('S') + 1);
    else if (/^-[iv0]*S$/.test(arg)) value = args[index + 1];
    if (value !== undefined) {
      const rest = args.slice(index + (arg.includes('=') || /S./.test(arg) ? 1 : 2));
      return [value, ...rest].join(' ');
    }
    if (arg === '-u' || arg === '-C' || arg === '--unset' || arg === '--chdir') index++;
  }
  return undefined;
}

// A small cache: several rules of one policy usually read the same command line.
const cache = new Map<string, readonly ShellCommand[]>();
const MAX_CACHED = 32;

/**
 * The simple commands of `line`, in source order: those of pipelines, `&&`/`||`/`;` lists,
 * subshells, groups, `if`/`for`/`while`/`case` bodies and functions, command and process
 * substitutions; for `bash -c '…'` (and `sh`, `zsh`, …), `eval '…'`, `find -exec … ;` and wrappers
 * such as `sudo`, `env`, `xargs`, `timeout`, also the command they run. Charges the active budget;
 * throws (an evaluation error) when the line is too long or is not valid shell syntax.
 */
export function shellCommands(line: string): readonly ShellCommand[] {
  const cached = cache.get(line);
  if (cached !== undefined) {
    chargeActive(cached.length + 1);
    return cached;
  }
  const commands: ShellCommand[] = [];
  collect(line, '', 0, commands);
  const frozen = Object.freeze(commands);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(line, frozen);
  return frozen;
}

setShellReaderWarmUp((line) => collect(line, '', 0, []));

function collect(line: string, via: string, depth: number, out: ShellCommand[]): void {
  if (line.length > MAX_SHELL_LENGTH) {
    throw new ShellParseError(
      `shell.commands: the command line is longer than ${MAX_SHELL_LENGTH} characters`,
    );
  }
  chargeActive(PARSE_BASE_COST + line.length * PARSE_COST_PER_CHARACTER);
  // Collected inside the parse (nodes live only as long as their tree), expanded after it.
  const found: ShellCommand[] = [];
  withParsedShell(line, (root) => walk(root, via, found));
  for (const command of found) expand(command, depth, out);
}

interface Pending {
  node: Node;
  redirects: ShellRedirect[];
}

/** Depth-first over the tree with an explicit stack (trees may be thousands of levels deep). */
function walk(root: Node, via: string, found: ShellCommand[]): void {
  const stack: Pending[] = [{ node: root, redirects: [] }];
  while (stack.length > 0) {
    const { node, redirects } = stack.pop() as Pending;
    chargeActive(1);
    let inherited = redirects;
    const type = node.type;
    if (type === 'command' || type === 'declaration_command' || type === 'unset_command') {
      const command = readCommand(node, redirects, via);
      if (command !== undefined) found.push(command);
    } else if (type === 'redirected_statement') {
      inherited = [...redirects];
      for (const redirect of node.childrenForFieldName('redirect')) {
        if (redirect !== null) inherited.push(readRedirect(redirect));
      }
    }
    const children = node.namedChildren;
    for (let index = children.length - 1; index >= 0; index--) {
      const child = children[index];
      if (child === null || child === undefined) continue;
      // A command inside a redirection (`cat <<EOF … $(cmd) …`) is not redirected by it.
      const own = child.type.endsWith('_redirect') ? redirects : inherited;
      stack.push({ node: child, redirects: own });
    }
  }
}

function readCommand(
  node: Node,
  redirects: ShellRedirect[],
  via: string,
): ShellCommand | undefined {
  const argv: string[] = [];
  const env: Record<string, string> = {};
  const own: ShellRedirect[] = [...redirects];
  for (const child of node.namedChildren) {
    if (child === null) continue;
    switch (child.type) {
      case 'variable_assignment': {
        const name = child.childForFieldName('name')?.text ?? '';
        const value = child.childForFieldName('value');
        if (node.type === 'command') env[name] = value === null ? '' : wordValue(value);
        else argv.push(child.text);
        break;
      }
      case 'file_redirect':
      case 'herestring_redirect':
      case 'heredoc_redirect':
        own.push(readRedirect(child));
        break;
      case 'command_name':
        argv.push(wordValue(child.firstNamedChild ?? child));
        break;
      default:
        argv.push(wordValue(child));
    }
  }
  // `declaration_command` (export, local, …) and `unset` keep their keyword unnamed.
  if (node.type !== 'command') argv.unshift(node.firstChild?.text ?? node.type);
  if (argv.length === 0) return undefined;
  return makeCommand(argv, env, own, via);
}

function makeCommand(
  argv: string[],
  env: Record<string, string>,
  redirects: ShellRedirect[],
  via: string,
): ShellCommand {
  const path = argv[0] as string;
  const unescaped = path.startsWith('\\') ? path.slice(1) : path;
  const slash = unescaped.lastIndexOf('/');
  return {
    name: slash === -1 ? unescaped : unescaped.slice(slash + 1),
    path,
    args: argv.slice(1),
    argv,
    env,
    redirects,
    via,
  };
}

function readRedirect(node: Node): ShellRedirect {
  let op = '';
  for (const child of node.children) {
    if (child !== null && !child.isNamed) {
      op = child.text;
      break;
    }
  }
  const destination =
    node.childForFieldName('destination') ?? node.lastNamedChild ?? node.firstNamedChild;
  return { op, target: destination === null ? '' : wordValue(destination) };
}

/** A word's value: quotes removed and escapes undone; expansions kept as written. */
function wordValue(node: Node): string {
  switch (node.type) {
    case 'word':
      return node.text.replace(/\\(.)/gs, '$1');
    case 'raw_string':
      return node.text.slice(1, -1);
    case 'string':
      return node.text.slice(1, -1).replace(/\\([$`"\\\n])/g, '$1');
    case 'translated_string':
      return node.text.slice(2, -1).replace(/\\([$`"\\\n])/g, '$1');
    case 'ansi_c_string':
      return ansiC(node.text.slice(2, -1));
    case 'concatenation': {
      let value = '';
      for (const child of node.children) if (child !== null) value += wordValue(child);
      return value;
    }
    default:
      return node.text;
  }
}

const ANSI_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

function ansiC(text: string): string {
  return text.replace(
    /\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)/gs,
    (whole, sequence: string) =>
      ANSI_ESCAPES[sequence] ??
      (sequence[0] === 'x'
        ? String.fromCharCode(Number.parseInt(sequence.slice(1), 16))
        : /^[0-7]+$/.test(sequence)
          ? String.fromCharCode(Number.parseInt(sequence, 8))
          : whole),
  );
}

/** Adds `command`, and the commands it runs (`bash -c`, `eval`, wrappers, `find -exec`). */
function expand(command: ShellCommand, depth: number, out: ShellCommand[]): void {
  if (out.length >= MAX_SHELL_COMMANDS) {
    throw new ShellParseError(
      `shell.commands: the command line has more than ${MAX_SHELL_COMMANDS} commands`,
    );
  }
  out.push(command);
  const inner = innerCommand(command);
  if (inner === undefined) return;
  if (depth + 1 > MAX_SHELL_NESTING) {
    throw new ShellParseError(
      `shell.commands: commands nested more than ${MAX_SHELL_NESTING} deep (bash -c, eval, sudo, …)`,
    );
  }
  chargeActive(inner.argv.length + 1);
  if ('script' in inner) collect(inner.script, inner.via, depth + 1, out);
  else expand(makeCommand(inner.argv, {}, command.redirects, inner.via), depth + 1, out);
}

type Inner = { script: string; via: string; argv: string[] } | { argv: string[]; via: string };

function innerCommand(command: ShellCommand): Inner | undefined {
  const { name, args } = command;
  if (name === 'eval' && args.length > 0) {
    return { script: args.join(' '), via: 'eval', argv: args };
  }
  if (SHELLS.has(name)) {
    // `bash -c SCRIPT`, `bash -lc SCRIPT`, `bash -e -c SCRIPT`: the first operand after a
    // short-option cluster with `c` is the script.
    if (name === 'busybox' && args[0] !== undefined && !SHELLS.has(args[0])) {
      // `busybox rm -rf /`: busybox runs its applet like a wrapper runs its command.
      return { argv: args, via: 'busybox' };
    }
    const start = name === 'busybox' ? 1 : 0;
    let sawC = false;
    for (let index = start; index < args.length; index++) {
      const arg = args[index] as string;
      if (arg === '--') continue;
      if (/^[-+][A-Za-z]+$/.test(arg)) {
        if (arg[0] === '-' && arg.includes('c')) sawC = true;
        // `-o errexit`, `+o posix`, `-O extglob`, `-eo pipefail`: the next word is the option's.
        if (/[oO]$/.test(arg)) index++;
        continue;
      }
      if (SHELL_LONG_VALUES.has(arg)) {
        index++;
        continue;
      }
      if (arg.startsWith('-') || arg.startsWith('+')) continue;
      if (sawC) return { script: arg, via: `${name} -c`, argv: args };
      return undefined;
    }
    return undefined;
  }
  if (name === 'find') {
    const at = args.findIndex((arg) => FIND_EXEC.has(arg));
    if (at === -1) return undefined;
    let end = at + 1;
    while (end < args.length && args[end] !== ';' && args[end] !== '+') end++;
    const argv = args.slice(at + 1, end);
    return argv.length === 0 ? undefined : { argv, via: `find ${args[at]}` };
  }
  if (COMMAND_OPTION.has(name)) {
    const script = commandOption(args);
    if (script !== undefined) return { script, via: `${name} -c`, argv: args };
  }
  if (name === 'env') {
    const split = envSplitString(args);
    if (split !== undefined) return { script: split, via: 'env -S', argv: args };
  }
  const wrapper = WRAPPERS[name];
  if (wrapper === undefined) return undefined;
  let index = 0;
  let positional = wrapper.positional ?? 0;
  while (index < args.length) {
    const arg = args[index] as string;
    if (arg === '--') {
      index++;
      break;
    }
    if (wrapper.values.has(arg)) index += 2;
    else if (arg.startsWith('-') && arg.length > 1) index++;
    else if (wrapper.assignments === true && /^[A-Za-z_][A-Za-z0-9_]*=/.test(arg)) index++;
    else if (positional > 0) {
      positional--;
      index++;
    } else break;
  }
  const argv = args.slice(index);
  return argv.length === 0 ? undefined : { argv, via: name };
}
