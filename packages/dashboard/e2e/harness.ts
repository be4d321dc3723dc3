import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

// End-to-end harness: a real `arden start` (the built CLI of packages/server) on a fresh
// embedded store, and Debian's Chromium driven by playwright-core. Nothing here skips: a missing
// browser or build fails the suite with what to do.

const packageDirectory = fileURLToPath(new URL('..', import.meta.url));
const repositoryDirectory = join(packageDirectory, '..', '..');
/** Where the screenshots go (gitignored; the key ones are copied to docs/images/). */
export const screenshotDirectory = join(packageDirectory, 'test-results', 'screenshots');
export const chromiumPath = '/usr/bin/chromium';
const serverCli = join(repositoryDirectory, 'packages', 'server', 'dist', 'cli.js');
const dashboardDist = join(packageDirectory, 'dist');

/** Fails with instructions when something the browser tests need is missing. */
export function assertPrerequisites(): void {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is missing at ${chromiumPath}, so the dashboard's browser tests cannot run (they are never skipped). Install it with: bash scripts/ensure-chromium.sh (apt-get update && apt-get install -y chromium).`,
    );
  }
  if (!existsSync(serverCli)) {
    throw new Error(
      `The Arden server is not built (${serverCli} is missing). Build it first: pnpm turbo run build.`,
    );
  }
  if (!existsSync(join(dashboardDist, 'index.html'))) {
    throw new Error(
      'The dashboard is not built (dist/index.html is missing). Build it first: pnpm --filter @arden/dashboard build.',
    );
  }
}

/** A running `arden start`. */
export interface ArdenProcess {
  url: string;
  admin: { email: string; password: string };
  dataDirectory: string;
  output: () => string;
  /** Stops the server and starts it again on the same port and store (sessions survive). */
  restart: (pauseMs?: number) => Promise<void>;
  stop: () => Promise<void>;
}

interface Launched {
  child: ChildProcess;
  url: string;
}

async function launch(
  dataDirectory: string,
  admin: { email: string; password: string },
  port: number,
  log: (text: string) => void,
): Promise<Launched> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      serverCli,
      'start',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDirectory,
      '--dashboard-dir',
      dashboardDist,
      '--log-level',
      'warn',
    ],
    {
      env: {
        ...process.env,
        ARDEN_ADMIN_EMAIL: admin.email,
        ARDEN_ADMIN_PASSWORD: admin.password,
        // The test's webhook receiver listens on loopback, which the server refuses by default
        // (SSRF protection); an operator allows it explicitly, as here.
        ARDEN_WEBHOOK_ALLOW_PRIVATE: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    log(chunk.toString());
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`arden start did not come up within 30 s. Its output:\n${output}`)),
      30_000,
    );
    const check = () => {
      const match = /Arden is running at (http:\/\/[^\s]+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        child.off('exit', exited);
        resolve(match[1]);
      }
    };
    const exited = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`arden start exited with ${code}. Its output:\n${output}`));
    };
    child.stdout?.on('data', check);
    child.once('exit', exited);
  });
  return { child, url };
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Starts `arden start` on a free port with a new data directory and a known first admin. */
export async function startArden(): Promise<ArdenProcess> {
  const dataDirectory = await mkdtemp(join(tmpdir(), 'arden-dashboard-e2e-'));
  const admin = { email: 'admin@example.com', password: 'correct horse battery staple' };
  let output = '';
  const log = (text: string) => {
    output += text;
  };
  let current = await launch(dataDirectory, admin, 0, log);
  const url = current.url;
  const port = Number(new URL(url).port);
  return {
    url,
    admin,
    dataDirectory,
    output: () => output,
    async restart(pauseMs = 0) {
      await terminate(current.child);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      current = await launch(dataDirectory, admin, port, log);
    },
    async stop() {
      await terminate(current.child);
      await rm(dataDirectory, { recursive: true, force: true });
    },
  };
}

/** A browser with its own fresh profile (`--user-data-dir`), so its cookies are its own. */
export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  close: () => Promise<void>;
}

/** Launches Debian's Chromium headless with a fresh profile, at 1280×800. */
export async function openBrowser(): Promise<BrowserSession> {
  const profile = await mkdtemp(join(tmpdir(), 'arden-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as test-results/screenshots/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(screenshotDirectory, { recursive: true });
  // A scrolled page would show the sticky header in the middle of a full-page shot.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(screenshotDirectory, `${name}.png`), fullPage: true });
}

/** The admin API, from the test (not the browser), signed in as one user. */
export class AdminClient {
  private cookie = '';
  constructor(private readonly url: string) {}

  async login(email: string, password: string): Promise<void> {
    const response = await fetch(`${this.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    if (!response.ok) throw new Error(`login failed: ${response.status} ${await response.text()}`);
    this.cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  }

  /** Sends a request; returns the status and the parsed body. */
  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }> {
    const response = await fetch(`${this.url}/api/v1/${path}`, {
      method,
      headers: {
        Cookie: this.cookie,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** As `request`, but throws unless the answer is a success. */
  async ok(method: string, path: string, body?: unknown): Promise<any> {
    const answer = await this.request(method, path, body);
    if (answer.status >= 300) {
      throw new Error(
        `${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
      );
    }
    return answer.body;
  }
}
