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

/** CPU time (user + system, every thread) a process has used so far, in ms (Linux; 0 elsewhere). */
export function processCpuMs(pid: number): number {
  try {
    // Fields 14 and 15 of /proc/PID/stat, in clock ticks (100 a second); the name (field 2) is
    // in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

let settling = true;

/** Smoke runs judge no time: servers are used as soon as they are ready (see `settle`). */
export function skipSettling(): void {
  settling = false;
}

/**
 * Waits until a started server is idle: less than 10 % of a core used over 200 ms (at most
 * 15 s). A process is ready before it is idle — Arden's server compiles the shell parser's
 * WebAssembly with V8's optimising compiler on a background thread for about 2.5 s after it
 * starts (one of this machine's two cores) — and a benchmark measures the steady state, not
 * that one-time start-up work. Returns the time waited, in ms.
 */
export async function settle(pid: number): Promise<number> {
  const started = performance.now();
  if (!settling) return 0;
  let before = processCpuMs(pid);
  while (performance.now() - started < 15_000) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = processCpuMs(pid);
    if (now - before < 20) break;
    before = now;
  }
  return Math.round(performance.now() - started);
}

/**
 * Starts `fixtures/<script>` in a child process, waits for the JSON line it prints, then until
 * the process is idle (`settle`).
 */
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
  await settle(info.pid);
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
 * An Arden server in a child process, on a fresh data directory (`dataDir`, removed when it
 * stops) — or on PostgreSQL when `databaseUrl` is given.
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
  return Object.assign(server, { dataDir });
}

/** The bare node:http baseline server in a child process. */
export function startBare() {
  return startProcess<{ url: string; pid: number }>('bare-server.ts');
}
