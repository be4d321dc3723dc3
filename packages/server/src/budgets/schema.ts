import * as z from 'zod';
import { agentParameter, environment, timestamp } from '../admin/schemas';

// Budgets: the admin API's bodies, and the agent API's POST /v1/model-calls/check (validated by
// hand in routes.ts for speed and precise messages; described here for the OpenAPI document).

export const budgetScope = z
  .enum(['session', 'agent_day', 'environment_day', 'environment_month'])
  .meta({
    description:
      'session: each session of the agent (calls without a session are not counted); agent_day: the agent per UTC day; environment_day / environment_month: every agent of the environment per UTC day / month.',
  });

export const onExceeded = z.enum(['block', 'requires_approval']).meta({
  description:
    'What happens to tool calls once spent + reserved reaches the limit: blocked, or held for approval. Model calls over the limit are always refused.',
});

const limitUsd = z.number().min(0).max(1_000_000).nullable().optional().meta({
  description: 'Limit in US dollars (priced with the server pricing table), at most 1 000 000.',
});
const limitTokens = z
  .number()
  .int()
  .min(0)
  .max(1e15)
  .nullable()
  .optional()
  .meta({ description: 'Limit in tokens (input + output).' });

/** Body of `POST /api/v1/budgets`. */
export const createBudget = z
  .object({
    agent: z.string().max(200).nullable().optional().meta({
      description: 'Agent id or name; leave out for a budget of every agent (environment scopes).',
    }),
    environment,
    scope: budgetScope,
    name: z.string().max(200).nullable().optional(),
    limit_usd: limitUsd,
    limit_tokens: limitTokens,
    on_exceeded: onExceeded.optional(),
  })
  .meta({ id: 'BudgetCreate' });

/** Body of `PATCH /api/v1/budgets/{id}`. */
export const updateBudget = z
  .object({
    name: z.string().max(200).nullable().optional(),
    limit_usd: limitUsd,
    limit_tokens: limitTokens,
    on_exceeded: onExceeded.optional(),
  })
  .meta({ id: 'BudgetUpdate' });

/** A budget's counter in one window. */
export const budgetWindow = z.object({
  window: z
    .string()
    .meta({ description: 'agent/session, agent/YYYY-MM-DD, YYYY-MM-DD or YYYY-MM.' }),
  spent_usd: z.number(),
  spent_tokens: z.number().int(),
  reserved_usd: z.number(),
  reserved_tokens: z.number().int(),
  over: z.boolean().meta({ description: 'spent + reserved has reached a limit.' }),
});

export const budget = z
  .object({
    id: z.string(),
    agent_id: z.string().nullable(),
    environment,
    scope: budgetScope,
    name: z.string().nullable(),
    limit_usd: z.number().nullable(),
    limit_tokens: z.number().int().nullable(),
    on_exceeded: onExceeded,
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Budget' });

export const budgetList = z.object({ items: z.array(budget) }).meta({ id: 'BudgetList' });

export const budgetListQuery = z.object({
  agent: agentParameter,
  environment: environment.optional(),
});

/** A budget with its counter in the window a session (or now) falls in. */
export const budgetStanding = budget.extend(budgetWindow.shape).meta({ id: 'BudgetStanding' });

export const reservation = z
  .object({
    id: z.string(),
    session_id: z.string().nullable(),
    kind: z.enum(['model', 'tool']),
    subject: z.string().meta({ description: 'The model or tool.' }),
    reserved_usd: z.number(),
    reserved_tokens: z.number().int(),
    status: z.enum(['reserved', 'settled', 'expired']),
    created_at: timestamp,
    expires_at: timestamp,
    settled_at: timestamp.nullable(),
    usage_id: z.string().nullable(),
    actual_usd: z.number().nullable(),
    actual_tokens: z.number().int().nullable(),
  })
  .meta({ id: 'BudgetReservation' });

/** `GET /api/v1/agents/{id}/budgets/{environment}`: standings and recent reservations. */
export const budgetOverview = z
  .object({
    session: z.string().nullable(),
    budgets: z.array(budgetStanding),
    reservations: z.array(reservation),
    reserved_usd: z.number().meta({ description: 'Held and not yet settled.' }),
    reserved_tokens: z.number().int(),
  })
  .meta({ id: 'BudgetOverview' });

export const budgetOverviewQuery = z.object({
  session: z
    .string()
    .max(256)
    .optional()
    .meta({ description: 'A session id: its session budgets.' }),
});

// ---- agent API --------------------------------------------------------------------------

export const modelCallCheckRequest = z
  .object({
    model: z.string().min(1).max(200).meta({ description: 'The model, as priced by the server.' }),
    estimated_input_tokens: z.number().int().min(0),
    max_output_tokens: z.number().int().min(0),
    session_id: z
      .union([z.string().max(256), z.number()])
      .nullable()
      .optional(),
    ttl_seconds: z.number().int().min(1).max(3600).optional().meta({
      description: 'How long the reservation is held if no usage settles it (default 600).',
    }),
  })
  .meta({ id: 'ModelCallCheckRequest' });

const standingWire = z.object({
  id: z.string(),
  name: z.string().nullable(),
  scope: budgetScope,
  window: z.string(),
  limit_usd: z.number().nullable(),
  limit_tokens: z.number().int().nullable(),
  spent_usd: z.number(),
  spent_tokens: z.number().int(),
  reserved_usd: z.number(),
  reserved_tokens: z.number().int(),
});

export const modelCallCheckResponse = z
  .object({
    decision: z.enum(['allow', 'refuse']),
    reason: z.enum(['reserved', 'no_budget', 'budget_exceeded', 'unpriced_model']),
    reservation_id: z.string().nullable().meta({
      description: 'Send it as reservation_id with the usage record to settle the reservation.',
    }),
    expires_at: timestamp.nullable(),
    estimated_cost_usd: z.number(),
    estimated_tokens: z.number().int(),
    message: z.string().optional(),
    budget: standingWire.optional().meta({ description: 'The budget that refused the call.' }),
    budgets: z
      .array(standingWire)
      .meta({ description: 'Every budget the call was reserved against.' }),
  })
  .meta({ id: 'ModelCallCheckResponse' });
