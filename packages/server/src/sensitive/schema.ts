import * as z from 'zod';

// Sensitive arguments on the admin API.

/** The body of a full read: why (kept in the read log). */
export const revealBody = z
  .object({
    reason: z
      .string()
      .max(500)
      .optional()
      .meta({ description: 'Why the arguments are read in full; kept in the read log.' }),
  })
  .meta({ id: 'SensitiveRevealRequest' });

/** One full read of an action's sensitive arguments. */
export const sensitiveRead = z
  .object({
    id: z.string(),
    user_id: z.string().nullable(),
    user_email: z.string().nullable(),
    reason: z.string().nullable(),
    read_at: z.string(),
  })
  .meta({ id: 'SensitiveRead' });

/** The verbatim arguments of an action with sensitive paths. */
export const revealed = z
  .object({
    action_id: z.string(),
    paths: z.array(z.string()).meta({ description: 'The sensitive paths present in the call.' }),
    args_json: z.string().meta({ description: "The positional arguments' JSON text, verbatim." }),
    kwargs_json: z.string().meta({ description: "The keyword arguments' JSON text, verbatim." }),
    read_at: z.string(),
  })
  .meta({ id: 'SensitiveArguments' });

/** Who read an action's sensitive arguments. */
export const readList = z
  .object({ items: z.array(sensitiveRead) })
  .meta({ id: 'SensitiveReadList' });
