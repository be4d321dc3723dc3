// Server replicas as child processes running the built CLI (`arden start --db …`), a webhook
// receiver on 127.0.0.1, and PostgreSQL's own controls, for the scale-out and fault tests.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';

export const builtCli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A server process. */
export interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  /** What it wrote to stderr (its log lines at warn and above). */
  log(): string;
  /** Sends SIGKILL and waits for the process to be gone. */
  kill(): Promise<void>;
  /** Sends SIGTERM and waits for a graceful stop. */
  stop(): Promise<void>;
}

export const adminEmail = 'ops@example.com';
export const adminPassword = 'scale-out test password';

/** Starts `arden start` on a free port against `databaseUrl`; resolves once it listens. */
export function startReplica(
  name: string,
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<Replica> {
  if (!existsSync(builtCli)) {
    throw new Error(
      'These tests run the built CLI: run `pnpm --filter @arden/server build` first.',
    );
  }
  const child = spawn(
    process.execPath,
    [
      builtCli,
      'start',
      '--db',
      databaseUrl,
      '--port',
      '0',
      '--log-level',
      'warn',
      '--no-dashboard',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ARDEN_DATABASE_URL: '',
        DATABASE_URL: '',
        ARDEN_WEBHOOK_ALLOW_PRIVATE: '1',
        ARDEN_ADMIN_EMAIL: adminEmail,
        ARDEN_ADMIN_PASSWORD: adminPassword,
        ...env,
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`replica ${name} did not start within 20 s:\n${stdout}\n${stderr}`));
    }, 20_000);
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const match = /Arden is running at (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({
          name,
          child,
          url: match[1] as string,
          log: () => stderr,
          async kill() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `replica ${name} exited (${code ?? signal}) before listening:\n${stdout}\n${stderr}`,
        ),
      );
    });
  });
}

/** One request a receiver got. */
export interface Received {
  eventId: string;
  body: string;
  headers: IncomingHttpHeaders;
  at: number;
}

/** A webhook receiver on 127.0.0.1 that answers 200 after `delayMs`. */
export interface Receiver {
  url: string;
  received: Received[];
  delayMs: number;
  close(): Promise<void>;
}

export async function startReceiver(delayMs = 0): Promise<Receiver> {
  const received: Received[] = [];
  const state = { delayMs };
  const server: Server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        eventId: String(request.headers['x-arden-event-id']),
        body: Buffer.concat(chunks).toString(),
        headers: request.headers,
        at: Date.now(),
      });
      setTimeout(() => {
        if (!response.destroyed) response.writeHead(200).end('{}');
      }, state.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(value: number) {
      state.delayMs = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The local PostgreSQL cluster (Debian's pg_ctlcluster), when this machine has one. */
export function localCluster(): { version: string } | undefined {
  try {
    if (!existsSync('/etc/postgresql')) return undefined;
    const versions = readdirSync('/etc/postgresql');
    execFileSync('sh', ['-c', 'command -v pg_ctlcluster'], { stdio: 'ignore' });
    return versions[0] ? { version: versions[0] } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops or starts the local cluster. A cluster started here would inherit this process's
 * scheduling priority (a suite run under `nice` would leave the machine's PostgreSQL at the
 * lowest one, slowing everything that uses it afterwards): it is put back to the default where
 * this process may do so.
 */
export function controlCluster(cluster: { version: string }, action: 'stop' | 'start'): void {
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', cluster.version, 'main', action], {
    stdio: 'pipe',
    timeout: 60_000,
  });
  if (action !== 'start') return;
  try {
    const pidFile = `/var/run/postgresql/${cluster.version}-main.pid`;
    const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (Number.isInteger(postmaster) && postmaster > 0) setPriority(postmaster, 0);
  } catch {
    // Not allowed (not root) or not found: the cluster runs at this process's priority.
  }
}

/** Whether the cluster is running. */
export function clusterRunning(cluster: { version: string }): boolean {
  try {
    execFileSync('pg_ctlcluster', [cluster.version, 'main', 'status'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
