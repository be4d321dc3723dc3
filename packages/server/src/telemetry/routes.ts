import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminAuthenticator } from '../auth/authenticate';
import type { ServerContext } from '../context';
import { AuthenticationError } from '../errors';
import type { RequestContext } from '../http/router';

const minimumTokenLength = 32;

/** The scrape token from `ARDEN_METRICS_TOKEN`, checked for length; undefined when unset. */
export function metricsTokenFrom(env: NodeJS.ProcessEnv): string | undefined {
  const token = env.ARDEN_METRICS_TOKEN;
  if (token === undefined || token === '') return undefined;
  if (token.length < minimumTokenLength) {
    throw new Error(
      `ARDEN_METRICS_TOKEN is ${token.length} characters long; use at least ${minimumTokenLength} random characters (for example \`openssl rand -hex 32\`), or unset it and scrape /metrics with an admin token.`,
    );
  }
  return token;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * `GET /metrics`: the Prometheus metrics. The scraper authenticates with `Authorization: Bearer`
 * and either the dedicated scrape token (`ARDEN_METRICS_TOKEN`, which grants nothing else) or an
 * admin token (`arden_admin_…`, any role; a logged-in dashboard session works too). Anything else
 * is 401: the figures name models and show the traffic of the agents.
 */
export function registerMetricsRoute(
  server: ServerContext,
  auth: AdminAuthenticator | undefined,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const scrapeToken = metricsTokenFrom(env);
  // Compared as SHA-256 digests in constant time: same length, no early exit.
  const scrapeDigest = scrapeToken === undefined ? undefined : digest(scrapeToken);

  const authorised = async (context: RequestContext): Promise<boolean> => {
    const header = context.request.headers.authorization;
    const bearer = header ? /^bearer\s+(.+)$/i.exec(header.trim())?.[1]?.trim() : undefined;
    if (scrapeDigest && bearer !== undefined && timingSafeEqual(digest(bearer), scrapeDigest)) {
      return true;
    }
    if (!auth) return false;
    if (bearer !== undefined && !bearer.startsWith('arden_admin_')) return false;
    return (await auth.authenticate(context)) !== undefined;
  };

  server.router.add('GET', '/metrics', async (context) => {
    if (!(await authorised(context))) {
      throw new AuthenticationError(
        'GET /metrics needs Authorization: Bearer with the scrape token (ARDEN_METRICS_TOKEN) or an admin token (arden_admin_…, create one with `arden tokens create`).',
      );
    }
    const { body, contentType } = await server.telemetry.metrics.text();
    context.response.writeHead(200, {
      'content-type': contentType,
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
    });
    context.response.end(body);
  });
}
