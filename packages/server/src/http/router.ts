import type { IncomingMessage, ServerResponse } from 'node:http';
import { ValidationError } from '../errors';
import type { Logger } from '../logger';

/** One request as a handler sees it. */
export interface RequestContext {
  request: IncomingMessage;
  response: ServerResponse;
  method: string;
  /** The path without the query string. */
  path: string;
  /** Path parameters (`:name` segments), decoded. */
  params: Record<string, string>;
  /** The query string, parsed. */
  query: URLSearchParams;
  /** Aborted when the client goes away (for long-poll waits). */
  signal: AbortSignal;
  logger: Logger;
  requestId: string;
}

/** A route handler: sends its answer with `sendJson` (or throws an `ArdenServerError`). */
export type Handler = (context: RequestContext) => Promise<void> | void;

interface ParamRoute {
  method: string;
  pattern: string;
  segments: string[];
  handler: Handler;
}

/** What a path matched. */
export type RouteMatch =
  | { kind: 'found'; handler: Handler; params: Record<string, string>; pattern: string }
  | { kind: 'method'; allowed: string[] }
  | { kind: 'none' };

/**
 * A tiny router: static paths in a map, `:param` segments matched segment by segment. Other
 * packages (the admin API) add their routes with `add()`.
 */
export class Router {
  private readonly exact = new Map<string, Map<string, Handler>>();
  private readonly parameterised: ParamRoute[] = [];

  /** Adds a route; `pattern` is a path whose `:name` segments are parameters. */
  add(method: string, pattern: string, handler: Handler): this {
    if (!pattern.includes('/:')) {
      let methods = this.exact.get(pattern);
      if (!methods) {
        methods = new Map();
        this.exact.set(pattern, methods);
      }
      methods.set(method, handler);
    } else {
      this.parameterised.push({ method, pattern, segments: pattern.split('/'), handler });
    }
    return this;
  }

  /** Finds the handler of a request. Throws `ValidationError` for a badly encoded path. */
  match(method: string, path: string): RouteMatch {
    const methods = this.exact.get(path);
    if (methods) {
      const handler = methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined);
      return handler
        ? { kind: 'found', handler, params: {}, pattern: path }
        : { kind: 'method', allowed: [...methods.keys()] };
    }
    const segments = path.split('/');
    const allowed: string[] = [];
    for (const route of this.parameterised) {
      if (route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let matched = true;
      for (let index = 0; index < segments.length; index++) {
        const expected = route.segments[index] as string;
        const actual = segments[index] as string;
        if (expected.startsWith(':')) {
          if (actual === '') {
            matched = false;
            break;
          }
          try {
            params[expected.slice(1)] = decodeURIComponent(actual);
          } catch {
            throw new ValidationError(
              `The path segment "${actual.slice(0, 100)}" is not validly URL-encoded.`,
            );
          }
        } else if (expected !== actual) {
          matched = false;
          break;
        }
      }
      if (!matched) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return { kind: 'found', handler: route.handler, params, pattern: route.pattern };
      }
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
  }
}
