import type * as z from 'zod';
import type { AdminAuthenticator, AdminPrincipal } from '../auth/authenticate';
import type { ResolvedAdminOptions } from '../auth/options';
import type { RouteAccess } from '../auth/roles';
import type { ServerContext } from '../context';
import type { LiveStream } from '../events/stream';
import type { RequestContext } from '../http/router';
import type { AdminReader } from '../reads/reader';
import type { UserRecord } from '../store';
import type { UserAdministration } from '../users/service';
import type { AdminQueries } from './queries';

/** What the admin routes work with. */
export interface AdminServices {
  server: ServerContext;
  options: ResolvedAdminOptions;
  auth: AdminAuthenticator;
  users: UserAdministration;
  queries: AdminQueries;
  /** Reads of the log, sessions, usage and simulation, off the check path, with a budget. */
  reader: AdminReader;
  live: LiveStream;
}

/** One call of an admin route, with its parsed parameters, query and body. */
export interface AdminCall<Body, Query> {
  services: AdminServices;
  context: RequestContext;
  /** The caller; undefined only on public routes. */
  principal: AdminPrincipal | undefined;
  /** The calling user (throws on a public route without a login). */
  readonly user: UserRecord;
  params: Record<string, string>;
  query: Query;
  body: Body;
  /** The body's JSON text as sent (undefined when there was none), for values kept exactly. */
  bodyText: string | undefined;
  /** Adds a response header (for example `Set-Cookie`). */
  header(name: string, value: string): void;
}

/** The HTTP methods of admin routes. */
export type AdminMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * One admin API route: method, path, who may call it, the zod schemas of its query, body and
 * answer (parsed and documented in `/api/openapi.json`), and its handler. The table of these is
 * the single source of the router, the role checks and the OpenAPI document.
 */
export interface AdminRoute {
  method: AdminMethod;
  /** Path with `:name` parameters, such as `/api/v1/agents/:agent_id`. */
  path: string;
  /** The least role that may call it, or `public`. */
  access: RouteAccess;
  /** Group in the OpenAPI document. */
  tag: string;
  summary: string;
  description?: string;
  /** Descriptions of the path parameters. */
  params?: Record<string, string>;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The body may be left out (it then parses as `{}`). */
  bodyOptional?: boolean;
  response?: z.ZodType;
  /** Success status (default 200). */
  status?: number;
  /**
   * The handler writes its answer itself: `true` a `text/event-stream`; `'ndjson'` NDJSON lines
   * when asked with `Accept: application/x-ndjson`, else the JSON of `response`.
   */
  stream?: boolean | 'ndjson';
  handler(call: AdminCall<any, any>): Promise<unknown>;
}

/** Declares a route with its handler typed by its schemas. */
export function route<
  Query extends z.ZodType = z.ZodUndefined,
  Body extends z.ZodType = z.ZodUndefined,
  Response extends z.ZodType = z.ZodUnknown,
>(
  definition: Omit<AdminRoute, 'handler' | 'query' | 'body' | 'response'> & {
    query?: Query;
    body?: Body;
    response?: Response;
    handler(call: AdminCall<z.output<Body>, z.output<Query>>): Promise<z.input<Response>>;
  },
): AdminRoute {
  return definition as AdminRoute;
}
