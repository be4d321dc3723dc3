import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArdenServerError } from '../errors';
import { embeddedStoreNodeVersion, hasSqlite } from '../store/sqlite-module';

/** The environment variable that names the Node.js to run a test server's child process on. */
export const serverNodeVariable = 'ARDEN_SERVER_NODE';

/**
 * No Node.js with `node:sqlite` was found to run the test server's child process on. `tried`
 * lists every candidate and why it did not do.
 */
export class ServerNodeNotFoundError extends ArdenServerError {
  constructor(
    message: string,
    readonly tried: readonly string[],
  ) {
    super(500, 'server_node_not_found', message);
  }
}

/** What a candidate `node` said about itself. */
interface Probe {
  version?: string;
  sqlite: boolean;
  /** Why it cannot run the server, when it cannot. */
  problem?: string;
}

// Run by each candidate: its version, and whether node:sqlite loads without a flag (on 22.5 to
// 22.12 it needs --experimental-sqlite).
const probeScript =
  "let sqlite=false;try{sqlite=!!process.getBuiltinModule?.('node:sqlite')?.DatabaseSync}catch{}process.stdout.write(JSON.stringify({version:process.version,sqlite}))";

function probe(node: string): Probe {
  const result = spawnSync(node, ['-e', probeScript], { encoding: 'utf8', timeout: 15_000 });
  if (result.error) return { sqlite: false, problem: `cannot be run (${result.error.message})` };
  try {
    const { version, sqlite } = JSON.parse(result.stdout) as { version: string; sqlite: boolean };
    return sqlite
      ? { version, sqlite }
      : { version, sqlite, problem: `is Node.js ${version}, without node:sqlite` };
  } catch {
    return { sqlite: false, problem: `did not answer like Node.js (exit code ${result.status})` };
  }
}

/** The folder of this module: `dist/` when built, `src/testing/` under this package's tests. */
export function moduleDirectory(): string {
  // In the CommonJS build `import.meta.url` is empty and `__dirname` is the answer. Not the
  // other way round: `node -e` defines a global `__dirname` ('.') that an ES module would see.
  const url: string | undefined = import.meta.url;
  return typeof url === 'string' ? dirname(fileURLToPath(url)) : __dirname;
}

/** `.tools/node_modules/.bin/node` in `from` or a folder above it: the Arden checkout's Node. */
function projectNodes(from: string[]): string[] {
  const found: string[] = [];
  for (const start of from) {
    for (let folder = start; ; folder = dirname(folder)) {
      const node = join(folder, '.tools', 'node_modules', '.bin', 'node');
      if (existsSync(node) && !found.includes(node)) found.push(node);
      if (dirname(folder) === folder) break;
    }
  }
  return found;
}

function pathNodes(): string[] {
  const name = process.platform === 'win32' ? 'node.exe' : 'node';
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((folder) => folder !== '')
    .map((folder) => join(folder, name))
    .filter((node) => existsSync(node));
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

let found: { variable: string | undefined; node: string } | undefined;

const installHint = `Install Node.js ${embeddedStoreNodeVersion} or later (for example \`nvm install 24\`, or from https://nodejs.org/en/download; in an Arden checkout \`bash scripts/setup.sh\` puts one in .tools/) and set ${serverNodeVariable} to its \`node\`, or put it on PATH.`;

/**
 * The Node.js to run the test server on in a child process: `ARDEN_SERVER_NODE` when set (it must
 * have `node:sqlite`: a wrong one is an error, not skipped); else this process's own when it has
 * `node:sqlite`; else the nearest `.tools/node_modules/.bin/node` above this package or the
 * working directory (the Arden checkout's Node 24); else the first `node` on `PATH` with
 * `node:sqlite`. Throws `ServerNodeNotFoundError`, saying what to install, when there is none.
 * The answer is kept for the rest of the process.
 */
export function findServerNode(): string {
  const variable = process.env[serverNodeVariable] || undefined;
  if (found !== undefined && found.variable === variable) return found.node;
  const keep = (node: string) => {
    found = { variable, node };
    return node;
  };
  if (variable !== undefined) {
    const { problem } = probe(variable);
    if (problem !== undefined) {
      throw new ServerNodeNotFoundError(
        `${serverNodeVariable} is ${variable}, which ${problem}: the Arden test server needs Node.js ${embeddedStoreNodeVersion} or later. Point ${serverNodeVariable} at a Node.js that has node:sqlite, or unset it.`,
        [`${variable}: ${problem}`],
      );
    }
    return keep(variable);
  }
  if (hasSqlite()) return keep(process.execPath);
  const self = realPath(process.execPath);
  const tried: string[] = [];
  const seen = new Set<string>([self]);
  for (const node of [...projectNodes([moduleDirectory(), process.cwd()]), ...pathNodes()]) {
    const real = realPath(node);
    if (seen.has(real)) continue;
    seen.add(real);
    const { problem } = probe(node);
    if (problem === undefined) return keep(node);
    tried.push(`${node}: ${problem}`);
  }
  throw new ServerNodeNotFoundError(
    `The Arden test server needs node:sqlite (Node.js ${embeddedStoreNodeVersion} or later) and this is Node.js ${process.version}, so it runs in a child process on another Node.js — but none was found (${[`${process.execPath}: this process`, ...tried].join('; ')}). ${installHint}`,
    tried,
  );
}
