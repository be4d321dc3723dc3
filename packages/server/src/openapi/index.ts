import * as z from 'zod';
import { errorBody } from '../admin/schemas';
import type { AdminRoute } from '../admin/table';
import { agentApiRoutes } from './agent-api';
import type { DescribedRoute } from './described-route';

export type { DescribedRoute } from './described-route';

type JsonSchema = Record<string, unknown>;

/** An OpenAPI 3.1 document (as plain JSON). */
export type OpenApiDocument = Record<string, unknown> & {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema> } & Record<string, unknown>;
};

const errorStatuses: Record<string, string> = {
  '400': 'The request is malformed; `error` names the field and what to send.',
  '401': 'No credential, or an unknown, revoked or expired one.',
  '403':
    "The caller's role may not do this, an agent key was used, or a cross-site request was refused.",
  '404': 'The thing does not exist.',
  '409': 'The request conflicts with the current state (for example, an action already decided).',
  '413':
    'The body is larger than the limit (256 KiB for a check, ARDEN_CHECK_BODY_LIMIT; 1 MiB for other routes, ARDEN_BODY_LIMIT), or a check holds more JSON values than ARDEN_CHECK_VALUE_LIMIT (8,192 by default). A refused check was not decided: the tool must not run.',
  '429': 'Too many attempts; retry after the `Retry-After` seconds.',
};

class SchemaCollector {
  readonly components: Record<string, JsonSchema> = {};

  /** Converts a zod schema; named schemas (`.meta({ id })`) become components and `$ref`s. */
  convert(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const converted = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'any',
    }) as JsonSchema;
    const rewritten = JSON.parse(
      JSON.stringify(converted).replaceAll('"#/$defs/', '"#/components/schemas/'),
    ) as JsonSchema;
    const definitions = (rewritten.$defs ?? {}) as Record<string, JsonSchema>;
    delete rewritten.$defs;
    delete rewritten.$schema;
    for (const [name, definition] of Object.entries(definitions)) this.add(name, definition);
    const id = z.globalRegistry.get(schema)?.id;
    if (typeof id === 'string') {
      delete rewritten.id;
      this.add(id, rewritten);
      return { $ref: `#/components/schemas/${id}` };
    }
    return rewritten;
  }

  private add(name: string, schema: JsonSchema): void {
    delete schema.id;
    this.components[name] ??= schema;
  }
}

function openApiPath(path: string): { path: string; parameters: string[] } {
  const parameters: string[] = [];
  const converted = path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment;
      parameters.push(segment.slice(1));
      return `{${segment.slice(1)}}`;
    })
    .join('/');
  return { path: converted, parameters };
}

function operationId(route: DescribedRoute): string {
  const words = route.path
    .replace(/^\/api\/(v1\/)?/, '')
    .split('/')
    .filter((segment) => !segment.startsWith(':'))
    .flatMap((segment) => segment.split(/[_.-]/))
    .filter((word) => word !== '');
  return [route.method.toLowerCase(), ...words]
    .map((word, index) => (index === 0 ? word : word[0]?.toUpperCase() + word.slice(1)))
    .join('');
}

const cache = new WeakMap<readonly AdminRoute[], OpenApiDocument>();

/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table: every path, its
 * parameters, request and response bodies (from their zod schemas), who may call it
 * (`x-arden-role`) and its error answers.
 */
export function openApiDocument(routes: readonly AdminRoute[]): OpenApiDocument {
  const cached = cache.get(routes);
  if (cached) return cached;
  const collector = new SchemaCollector();
  const errorReference = collector.convert(errorBody, 'output');
  const paths: OpenApiDocument['paths'] = {};
  const seen = new Set<string>();
  const described: readonly DescribedRoute[] = [...routes, ...agentApiRoutes];
  for (const route of described) {
    const { path, parameters } = openApiPath(route.path);
    let id = operationId(route);
    while (seen.has(id)) id += '_';
    seen.add(id);
    const operation: Record<string, unknown> = {
      operationId: id,
      tags: [route.tag],
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      ...(route.access === 'agent' ? {} : { 'x-arden-role': route.access }),
      security:
        route.access === 'public'
          ? []
          : route.access === 'agent'
            ? [{ agentKey: [] }]
            : [{ cookieAuth: [] }, { bearerAuth: [] }],
    };
    const parameterList: Record<string, unknown>[] = parameters.map((name) => ({
      name,
      in: 'path',
      required: true,
      ...(route.params?.[name] ? { description: route.params[name] } : {}),
      schema: { type: 'string' },
    }));
    if (route.query instanceof z.ZodObject) {
      for (const [name, schema] of Object.entries(route.query.shape as Record<string, z.ZodType>)) {
        const converted = collector.convert(schema, 'input');
        const description = converted.description;
        delete converted.description;
        parameterList.push({
          name,
          in: 'query',
          required: !schema.safeParse(undefined).success,
          ...(typeof description === 'string' ? { description } : {}),
          schema: converted,
        });
      }
    }
    if (parameterList.length > 0) operation.parameters = parameterList;
    if (route.body) {
      operation.requestBody = {
        required: route.bodyOptional !== true,
        content: { 'application/json': { schema: collector.convert(route.body, 'input') } },
      };
    }
    const success = String(route.status ?? 200);
    const responses: Record<string, unknown> = {};
    if (route.stream === 'ndjson') {
      const schema = route.response ? collector.convert(route.response, 'output') : {};
      responses[success] = {
        description:
          'One JSON object; or, asked with `Accept: application/x-ndjson`, the same as lines of JSON (see the description).',
        content: {
          'application/json': { schema },
          'application/x-ndjson': { schema: { type: 'string' } },
        },
      };
    } else if (route.stream) {
      responses[success] = {
        description:
          'A stream of Server-Sent Events; the `data:` of each event is the JSON of `x-event-data` (a LiveEvent).',
        content: {
          'text/event-stream': {
            schema: { type: 'string' },
            ...(route.response
              ? { 'x-event-data': collector.convert(route.response, 'output') }
              : {}),
          },
        },
      };
    } else {
      responses[success] = {
        description: 'Success.',
        content: {
          'application/json': {
            schema: route.response ? collector.convert(route.response, 'output') : {},
          },
        },
      };
    }
    const errors = ['400'];
    if (route.access !== 'public') errors.push('401', '403');
    if (route.access === 'agent') errors.push('413', '429');
    if (parameters.length > 0) errors.push('404');
    if (/approve|deny|users|agents|rotate/.test(route.path) && route.method !== 'GET')
      errors.push('409');
    if (route.path.endsWith('/auth/login')) errors.push('401', '429');
    for (const status of new Set(errors)) {
      responses[status] = {
        description: errorStatuses[status],
        content: { 'application/json': { schema: errorReference } },
      };
    }
    operation.responses = responses;
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = operation;
  }
  const document: OpenApiDocument = {
    openapi: '3.1.0',
    info: {
      title: 'Arden API',
      version: '1.0.0',
      description:
        'The APIs of an Arden server. The admin API (`/api/v1/`): agents and keys, policies, the action log, approvals, sessions, usage, webhook deliveries, users and admin tokens, and live events; authenticate with the session cookie of POST /api/v1/auth/login (browsers) or `Authorization: Bearer arden_admin_…` (the CLI, automation); `x-arden-role` is the least role that may call an operation. The agent API (`/policy/check`, `/status/{action_id}`, `/token-usage`, `/v1/actions/…`), wire-compatible with ardenpy 0.5.x: authenticate with the agent key in `X-API-Key`.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set(described.map((route) => route.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: collector.components,
      securitySchemes: {
        cookieAuth: { type: 'apiKey', in: 'cookie', name: 'arden_session' },
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'An admin token: arden_admin_…',
        },
        agentKey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-API-Key',
          description:
            'An agent API key: arden_test_… or arden_live_… (also accepted as a bearer token).',
        },
      },
    },
  };
  cache.set(routes, document);
  return document;
}
