import { EFFECTS } from '@arden/policy';
import * as z from 'zod';

// The request and response bodies of the admin API. Requests are parsed with these schemas;
// responses are built by `serialize.ts` to match them; `/api/openapi.json` is generated from
// both. Field names are snake_case, like the agent API's.

export const timestamp = z
  .string()
  .meta({ format: 'date-time', description: 'ISO 8601 time (UTC).' });

export const nullableTimestamp = timestamp.nullable();

/** An effect: what a policy (or an agent's default) decides. */
export const effect = z.enum(EFFECTS);

/** `test` or `live`. */
export const environment = z.enum(['test', 'live']);

/** A user's role. */
export const role = z.enum(['admin', 'approver', 'viewer']);

export const actionStatus = z.enum([
  'pending',
  'approved',
  'denied',
  'completed',
  'expired',
  'cancelled',
]);

/** The error body of every failed request. */
export const errorBody = z
  .object({
    error: z.string().meta({ description: 'What went wrong and what to do about it.' }),
    field: z.string().optional().meta({ description: 'The request field at fault, when known.' }),
    issues: z
      .array(
        z.object({
          policy: z.string().optional(),
          path: z.array(z.union([z.string(), z.number()])),
          message: z.string(),
          line: z.number().int().optional(),
          column: z.number().int().optional(),
        }),
      )
      .optional()
      .meta({ description: 'Policy problems, with line and column inside a CEL condition.' }),
  })
  .meta({ id: 'Error' });

/** `{ ok: true }`. */
export const okBody = z.object({ ok: z.literal(true) }).meta({ id: 'Ok' });

export function page<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      next_cursor: z
        .string()
        .nullable()
        .meta({ description: 'Pass as `cursor` for the next page; null on the last page.' }),
    })
    .meta({ id });
}

export const limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(500)
  .optional()
  .meta({ description: 'Items per page (1–500, default 50).' });

export const cursor = z.string().max(200).optional().meta({ description: 'From `next_cursor`.' });

export const time = z
  .string()
  .max(40)
  .optional()
  .meta({ description: 'ISO 8601 time or milliseconds since the epoch.' });

export const agentParameter = z
  .string()
  .max(200)
  .optional()
  .meta({ description: 'Agent id or name.' });
