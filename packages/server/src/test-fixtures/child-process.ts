import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The built server in a child process (child-server.mjs), for crash tests: kill -9 it, start it
// again on the same data.

const childScript = fileURLToPath(new URL('./child-server.mjs', import.meta.url));
const builtEntry = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/**
 * Starts the built server on `dataDir` (with more `createServer()` options in `config`, e.g.
 * `databaseUrl` and `channels`); resolves with the process and its URL once it listens.
 */
export function startChildServer(
  dataDir: string,
  config: object = {},
): Promise<{ child: ChildProcess; url: string }> {
  if (!existsSync(builtEntry)) {
    throw new Error(
      'The crash test runs the built server: run `pnpm --filter @arden/server build` first.',
    );
  }
  const child = spawn(process.execPath, [childScript, dataDir, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      const line = output.split('\n')[0];
      if (output.includes('\n') && line) resolve({ child, url: JSON.parse(line).url });
    });
    child.once('exit', (code) => reject(new Error(`the server child exited early (${code})`)));
  });
}

/** Sends SIGKILL (kill -9) and waits for the process to be gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
