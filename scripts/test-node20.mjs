// Runs the test suites of core, the adapters that claim Node 20 and the policy engine again on
// Node 20: the machine's /usr/bin/node, or ARDEN_NODE20. Each package writes its own report,
// test-results/vitest-node20.json, which summarize-tests.mjs counts (and requires).
//
// Test files that start an Arden server (@arden/server/testing) run too: the server needs
// node:sqlite (Node >= 22.13), so on Node 20 startTestServer() runs it in a child process on this
// script's own Node (ARDEN_SERVER_NODE), while the test, the adapter and core run on Node 20.
// Only files that start Node 20 processes themselves are left out; they are printed, so the
// count is honest.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const node20 = process.env.ARDEN_NODE20 ?? '/usr/bin/node';
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');

/**
 * The packages whose suites run on Node 20 too: core, the adapters and the MCP gateway whose engines claim Node 20,
 * and the policy engine. Not the server and @arden/ai-sdk (they claim Node >= 22), nor the
 * dashboard (its suite drives a browser against a server).
 */
export const node20PackageNames = [
  // The longest first (their times in CI on two cores, 2026-12-07), so that the two at a time end
  // together instead of one running the longest alone at the end.
  'mcp', // 91 s
  'claude-agent-sdk', // 71 s
  'langchain', // 60 s
  'openai-agents', // 55 s
  'core', // 26 s
  'policy', // 26 s
  'openai', // 18 s
];

/** Whether `packages/<name>` has a Node 20 report to count. */
export function runsOnNode20(name) {
  return node20PackageNames.includes(name.replace(/^packages\//, ''));
}

function node20Packages() {
  return node20PackageNames.map((name) => join(root, 'packages', name));
}

/**
 * The Node that the suites' test servers run on (startTestServer() starts them in a child
 * process, since Node 20 has no node:sqlite): ARDEN_SERVER_NODE when set, else this script's
 * own Node when it has node:sqlite, else none (the helper then looks for one and says what to
 * install when it finds none).
 */
function serverNode() {
  if (process.env.ARDEN_SERVER_NODE) return {};
  return process.getBuiltinModule?.('node:sqlite')?.DatabaseSync
    ? { ARDEN_SERVER_NODE: process.execPath }
    : {};
}

function testFiles(directory) {
  const found = [];
  const walk = (folder) => {
    for (const entry of readdirSync(folder)) {
      const path = join(folder, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.test\.ts$/.test(entry)) found.push(path);
    }
  };
  walk(join(directory, 'src'));
  return found;
}

function runSuite(directory, version) {
  const name = relative(root, directory);
  const files = testFiles(directory).map((file) => [file, readFileSync(file, 'utf8')]);
  const startsServer = files
    .filter(([, text]) => text.includes("'@arden/server/testing'"))
    .map(([file]) => file);
  // A file that starts Node 20 processes itself (it reads ARDEN_NODE20) already ran them from
  // the Node 24 run: running it again here would repeat the same processes.
  const spawnsNode20 = files
    .filter(([, text]) => text.includes('ARDEN_NODE20'))
    .map(([file]) => file);
  const args = [
    vitest,
    'run',
    '--typecheck.enabled=false',
    '--passWithNoTests',
    '--outputFile.json=test-results/vitest-node20.json',
    ...spawnsNode20.flatMap((file) => ['--exclude', relative(directory, file)]),
  ];
  const started = Date.now();
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(node20, args, {
      cwd: directory,
      env: { ...process.env, ARDEN_NODE20: node20, FORCE_COLOR: '0', ...serverNode() },
    });
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('close', (code) => {
      console.log(`\n--- ${name} on Node ${version}`);
      for (const file of startsServer) {
        console.log(
          `    its Arden server runs in a child process on ${serverNode().ARDEN_SERVER_NODE ?? process.env.ARDEN_SERVER_NODE ?? 'a Node that startTestServer() finds'}: ${relative(directory, file)}`,
        );
      }
      for (const file of spawnsNode20) {
        console.log(
          `    ran its Node 20 processes from the Node 24 run: ${relative(directory, file)}`,
        );
      }
      process.stdout.write(output);
      console.log(`    ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolve(code === 0);
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const version = spawnSync(node20, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0 || !/^v20\./.test(version.stdout)) {
    console.error(
      `Node 20 is needed at ${node20} (found ${version.stdout?.trim() || 'nothing'}): install it (apt-get install nodejs on Debian 13) or set ARDEN_NODE20.`,
    );
    process.exit(1);
  }
  // Two suites at a time (CI has two cores); each one's output is printed when it ends.
  const queue = node20Packages();
  const suites = [];
  const runNext = async () => {
    for (let directory = queue.shift(); directory; directory = queue.shift()) {
      suites.push(await runSuite(directory, version.stdout.trim()));
    }
  };
  const started = Date.now();
  await Promise.all([runNext(), runNext()]);
  console.log(`\nNode 20 suites: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
  const status = suites.every((ok) => ok) ? 0 : 1;
  process.exit(status);
}
