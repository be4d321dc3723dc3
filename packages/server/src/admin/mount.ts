import type * as z from 'zod';
import { AdminAuthenticator, type AdminPrincipal } from '../auth/authenticate';
import { type AdminOptions, resolveAdminOptions } from '../auth/options';
import { roleAllows } from '../auth/roles';
import type { ServerContext } from '../context';
import { ArdenServerError, AuthenticationError, ForbiddenError, ValidationError } from '../errors';
import { parseJsonBody, readJsonText, sendError, sendJson, setBodyTimeout } from '../http/respond';
import type { RequestContext } from '../http/router';
import type { UserRecord } from '../store';
import { UserAdministration } from '../users/service';

export type { AdminOptions } from '../auth/options';

import { LiveStream } from '../events/stream';
import { AdminReader } from '../reads/reader';
import { adminQueries } from './queries';
import { adminRoutes } from './routes';
import { DashboardFiles } from './static';
import type { AdminCall, AdminRoute, AdminServices } from './table';

/** The admin side once mounted on a server. */
export interface MountedAdmin {
  /** The admin services (undefined when the admin API is disabled). */
  services: AdminServices | undefined;
  /** The dashboard's directory, when one is served. */
  dashboardDirectory: string | undefined;
  /**
   * Answers a request no route matched, when it is the admin side's: an unknown `/api/` path
   * (JSON 404), a dashboard file or page. False when the caller should answer.
   */
  fallback(context: RequestContext): boolean;
  /** Ends the live event streams. */
  close(): void;
  /** Stops the admin reader (its threads or pool), once requests have drained. */
  closeReads(): Promise<void>;
}

/** Turns zod's issues into one `ValidationError` that names the fields. */
export function validationErrorOf(error: z.ZodError, where: 'body' | 'query'): ValidationError {
  const issues = error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const first = error.issues[0]?.path.map(String).join('.');
  return new ValidationError(
    `The request ${where === 'body' ? 'body' : 'query string'} is not valid: ${issues.join('; ')}. The expected shape is in /api/openapi.json.`,
    first || undefined,
  );
}

function parse(schema: z.ZodType, value: unknown, where: 'body' | 'query'): unknown {
  const result = schema.safeParse(value);
  if (!result.success) throw validationErrorOf(result.error, where);
  return result.data;
}

function hasBody(context: RequestContext): boolean {
  const { headers } = context.request;
  const length = headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return headers['transfer-encoding'] !== undefined;
}

function queryObject(query: URLSearchParams): Record<string, string> {
  const object: Record<string, string> = {};
  for (const [name, value] of query) if (!(name in object)) object[name] = value;
  return object;
}

/** Builds the router handler of one admin route: authentication, role, CSRF, parsing. */
function handlerOf(route: AdminRoute, services: AdminServices) {
  const { auth, server } = services;
  return async (context: RequestContext) => {
    let principal: AdminPrincipal | undefined;
    try {
      principal = await auth.authenticate(context);
    } catch (error) {
      // A stale cookie must not stand in the way of logging in again.
      if (
        route.access !== 'public' ||
        !ArdenServerError.isInstance(error) ||
        error.status !== 401
      ) {
        throw error;
      }
    }
    if (route.access !== 'public') {
      if (!principal) {
        throw new AuthenticationError(
          'Log in first (POST /api/v1/auth/login, or the dashboard), or send an admin token as Authorization: Bearer arden_admin_… (create one with `arden tokens create`).',
        );
      }
      if (!roleAllows(principal.user.role, route.access)) {
        throw new ForbiddenError(
          `${route.method} ${route.path} needs the ${route.access} role; ${principal.user.email} is ${principal.user.role === 'approver' ? 'an' : 'a'} ${principal.user.role}. Ask an admin to change your role.`,
        );
      }
    }
    auth.checkSameOrigin(context, principal);
    if (principal) setBodyTimeout(context.request, server.config.bodyTimeoutMs);
    const query = route.query ? parse(route.query, queryObject(context.query), 'query') : {};
    let body: unknown;
    let bodyText: string | undefined;
    if (route.body) {
      if (!route.bodyOptional || hasBody(context)) {
        bodyText = await readJsonText(context.request, server.config.bodyLimit);
      }
      body = parse(route.body, bodyText === undefined ? {} : parseJsonBody(bodyText), 'body');
    }
    const headers: Record<string, string> = {};
    const call: AdminCall<unknown, unknown> = {
      services,
      context,
      principal,
      get user(): UserRecord {
        if (!principal) throw new AuthenticationError('Log in first (POST /api/v1/auth/login).');
        return principal.user;
      },
      params: context.params,
      query,
      body,
      bodyText,
      header(name, value) {
        headers[name] = value;
      },
    };
    const result = await route.handler(call);
    if (!route.stream) sendJson(context.response, route.status ?? 200, result, headers);
  };
}

/**
 * Mounts the admin side on a server: the admin API routes (from the declarative table in
 * `routes.ts`), the live event stream, and the dashboard's static files.
 */
export function mountAdmin(server: ServerContext, options: AdminOptions = {}): MountedAdmin {
  const resolved = resolveAdminOptions(options);
  const dashboard = new DashboardFiles(resolved.dashboardDir, server.logger);
  let services: AdminServices | undefined;
  if (resolved.insecureTestPasswordHashing) {
    server.logger.warn(
      'insecureTestPasswordHashing is on: passwords are hashed at a test-only cost. Remove the option outside test suites.',
    );
  }
  if (resolved.enabled) {
    services = {
      server,
      options: resolved,
      auth: new AdminAuthenticator(server.store, resolved, server.logger, server.clock),
      users: new UserAdministration(server.store, server.clock, {
        insecureTestPasswordHashing: resolved.insecureTestPasswordHashing,
      }),
      queries: adminQueries(server.store.database),
      reader: new AdminReader(server, { budgetMs: options.readBudgetMs }),
      live: new LiveStream(
        server.events,
        server.logger,
        { bufferSize: resolved.eventBufferSize, heartbeatMs: resolved.eventHeartbeatMs },
        server.clock,
      ),
    };
    services.live.start();
    for (const route of adminRoutes) {
      server.router.add(route.method, route.path, handlerOf(route, services));
    }
  }
  return {
    services,
    dashboardDirectory: dashboard.directory,
    fallback(context) {
      if (context.path.startsWith('/api/')) {
        sendError(
          context.response,
          404,
          `No admin API route ${context.method} ${context.path.slice(0, 200)}. Every route is listed in /api/openapi.json.`,
        );
        return true;
      }
      return dashboard.serve(context);
    },
    close() {
      services?.live.close();
    },
    async closeReads() {
      await services?.reader.close();
    },
  };
}
