import { createReadStream, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RequestContext } from '../http/router';
import type { Logger } from '../logger';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Headers of every dashboard page: no framing, no inline scripts, talk only to this server. */
export const dashboardSecurityHeaders: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

function moduleDirectory(): string {
  // In the CommonJS build `import.meta.url` is empty and `__dirname` is the answer.
  return typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
}

/**
 * Where the dashboard's built files are: `configured` when given; else the `@arden/dashboard`
 * package's `dist` when it is installed, or the sibling `packages/dashboard/dist` of a checkout.
 * Undefined when there is none (the server then shows a page saying so).
 */
export function findDashboard(configured: string | false | undefined): string | undefined {
  if (configured === false) return undefined;
  if (configured !== undefined) return resolve(configured);
  const candidates: string[] = [];
  try {
    const require = createRequire(join(moduleDirectory(), 'index.js'));
    candidates.push(join(dirname(require.resolve('@arden/dashboard/package.json')), 'dist'));
  } catch {
    // Not installed.
  }
  let directory = moduleDirectory();
  for (let depth = 0; depth < 4; depth++) {
    if (existsSync(join(directory, 'package.json'))) {
      candidates.push(join(directory, '..', 'dashboard', 'dist'));
      break;
    }
    directory = dirname(directory);
  }
  return candidates.find((candidate) => existsSync(join(candidate, 'index.html')));
}

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Arden</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2328}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}</style>
</head><body>
<h1>Arden is running</h1>
<p>The dashboard isn't built, so there is nothing to show here yet. Build it with
<code>pnpm --filter @arden/dashboard build</code> (or install <code>@arden/dashboard</code>), or
point <code>ARDEN_DASHBOARD_DIR</code> at its <code>dist</code> directory, and restart the server.</p>
<p>Meanwhile the admin API works: it is described at <a href="/api/openapi.json">/api/openapi.json</a>,
and the <code>arden</code> CLI uses it (<code>arden approvals list</code>).</p>
</body></html>
`;

/**
 * Serves the dashboard: its files, and `index.html` for the dashboard's own routes (browser
 * navigations, which accept `text/html`), or a page saying it isn't built. API clients asking
 * for an unknown path get JSON 404s, never a page.
 */
export class DashboardFiles {
  readonly directory: string | undefined;

  constructor(configured: string | false | undefined, logger: Logger) {
    this.directory = findDashboard(configured);
    if (configured && !this.directory) {
      logger.warn('The dashboard directory has no index.html; serving a placeholder page', {
        dashboardDir: configured,
      });
    }
  }

  /** Answers `context` when it is a dashboard request; false to let the caller answer 404. */
  serve(context: RequestContext): boolean {
    if (context.method !== 'GET' && context.method !== 'HEAD') return false;
    const path = context.path;
    const accept = String(context.request.headers.accept ?? '');
    const page = path === '/' || path === '/index.html' || accept.includes('text/html');
    if (!this.directory) {
      if (!page) return false;
      this.send(context, 200, 'text/html; charset=utf-8', Buffer.from(placeholder));
      return true;
    }
    const file = this.file(path);
    if (file) {
      this.stream(context, file, path.startsWith('/assets/'));
      return true;
    }
    // A dashboard route such as /approvals/123: the app's index.html routes it in the browser.
    if (page && extname(path) === '') {
      this.stream(context, join(this.directory, 'index.html'), false);
      return true;
    }
    return false;
  }

  private file(path: string): string | undefined {
    if (!this.directory || path === '/' || path.includes('\0')) return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    const candidate = normalize(join(this.directory, decoded));
    if (!candidate.startsWith(this.directory + sep)) return undefined;
    try {
      return statSync(candidate).isFile() ? candidate : undefined;
    } catch {
      return undefined;
    }
  }

  private headers(type: string, immutable: boolean, size: number): Record<string, string | number> {
    return {
      'content-type': type,
      'content-length': size,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...dashboardSecurityHeaders,
    };
  }

  private send(context: RequestContext, status: number, type: string, body: Buffer): void {
    context.response.writeHead(status, this.headers(type, false, body.length));
    context.response.end(context.method === 'HEAD' ? undefined : body);
  }

  private stream(context: RequestContext, file: string, immutable: boolean): void {
    const { response } = context;
    const stats = statSync(file);
    const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
    if (context.request.headers['if-none-match'] === etag) {
      response.writeHead(304, { etag });
      response.end();
      return;
    }
    const type = contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream';
    response.writeHead(200, { ...this.headers(type, immutable, stats.size), etag });
    if (context.method === 'HEAD') {
      response.end();
      return;
    }
    createReadStream(file)
      .on('error', () => response.destroy())
      .pipe(response);
  }
}
