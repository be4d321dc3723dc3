/**
 * `@arden/contract`: the wire contract of the Arden server's APIs (the admin API under
 * `/api/v1/` and the agent API), as TypeScript types generated from the OpenAPI document that the
 * server's zod schemas produce (`/api/openapi.json`). Types only: nothing here runs.
 *
 * ```ts
 * import type { Schemas } from '@arden/contract';
 * type Agent = Schemas['Agent'];
 * ```
 */
import type { components, operations, paths } from './openapi.gen';

export type { components, operations, paths };

/** The named schemas of the document (`components.schemas`): `Schemas['Agent']`, … */
export type Schemas = components['schemas'];

/** A policy decision, as the server sends it: `allow`, `block` or `requires_approval`. */
export type Effect = Schemas['Agent']['default_action'];

/** The JSON body an operation accepts (`RequestBody<'postAgents'>`), by its `operationId`. */
export type RequestBody<Name extends keyof operations> = operations[Name] extends {
  requestBody?: { content: { 'application/json': infer Body } };
}
  ? Body
  : never;
