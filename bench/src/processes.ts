import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A server started in a child process. */
export interface ServerProcess<T> {
  info: T;
  child: ChildProcess;
  /** Resident memory of the process, in MiB (Linux). */
  rssMiB(): number;
  stop(): Promise<void>;
}

/** Starts `fixtures/<script>` in a child process and waits for the JSON line it prints. */
export async function startProcess<T extends { pid: number }>(
  script: string,
  args: string[] = [],
): Promise<ServerProcess<T>> {
  const path = fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url));
  const child = spawn(process.execPath, ['--no-warnings', path, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<T>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${script} exited with ${code} before it was ready`)),
    );
    lines.once('line', (line) => resolve(JSON.parse(line) as T));
  });
  return {
    info,
    child,
    rssMiB() {
      const status = readFileSync(`/proc/${info.pid}/status`, 'utf8');
      const kilobytes = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      return Math.round(kilobytes / 102.4) / 10;
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}

/**
 * An Arden server in a child process, on a fresh data directory removed when it stops — or on
 * PostgreSQL when `databaseUrl` is given.
 */
export async function startArden(policyCount = 50, databaseUrl?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'arden-bench-'));
  const server = await startProcess<{ url: string; key: string; agentId: string; pid: number }>(
    'arden-server.ts',
    [dataDir, String(policyCount), ...(databaseUrl ? [databaseUrl] : [])],
  );
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return server;
}

/** The bare node:http baseline server in a child process. */
export function startBare() {
  return startProcess<{ url: string; pid: number }>('bare-server.ts');
}
