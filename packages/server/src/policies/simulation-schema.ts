import * as z from 'zod';
import { effect, timestamp } from '../admin/schemas';
import { policyDefinition } from './schema';
import { flipKinds } from './simulation';

// The simulation over real history: its body, and its answer (one JSON object, or NDJSON lines).

/** Body of `POST .../simulate/history`. */
export const historySimulationBody = z.object({
  policies: z.array(policyDefinition).max(1000),
  since: z.string().max(40).optional().meta({
    description:
      'Start of the window: a duration before now (`30d`, `12h`, `90m`, `2w`), an ISO 8601 time, or `all` (default `30d`). `from` wins when both are given.',
  }),
  from: z.string().max(40).optional().meta({ description: 'Start of the window (ISO 8601).' }),
  to: z
    .string()
    .max(40)
    .optional()
    .meta({ description: 'End of the window (ISO 8601; default now).' }),
  tool: z
    .string()
    .max(200)
    .optional()
    .meta({ description: 'Only calls of this tool, or of a prefix ending in `*` (`stripe.*`).' }),
  sample: z.number().int().min(1).max(10_000_000).optional().meta({
    description:
      'Decide about at most this many calls, spread evenly over the window (default: every call).',
  }),
  max_flips: z.number().int().min(0).max(10_000).optional().meta({
    description: 'How many changed calls to list (default 1 000); the summary counts them all.',
  }),
  default_action: effect.optional().meta({
    description: "The agent's default action to assume for the draft (default: the current one).",
  }),
});

const flipKind = z.enum(flipKinds as unknown as [string, ...string[]]);

export const flipSummary = z.object({
  changed: z.number().int(),
  kinds: z
    .record(z.string(), z.number().int())
    .meta({ description: 'Flips by kind, `before->after` (`allow->requires_approval`).' }),
});

const decision = z.object({
  decision: effect,
  reason: z.string().nullable(),
  policy: z.string().nullable(),
  rule_index: z.number().int().nullable(),
  explanation: z.string().nullable(),
});

export const historyFlip = z.object({
  action_id: z.string(),
  tool_name: z.string(),
  session_id: z.string().nullable(),
  created_at: timestamp,
  logged: effect.meta({ description: 'The decision logged at the time.' }),
  current: decision.meta({ description: 'What the saved (current) set decides today.' }),
  draft: decision.meta({ description: 'What the draft decides.' }),
  vs_current: flipKind
    .nullable()
    .meta({ description: 'The flip against the current set, if any.' }),
  vs_logged: flipKind
    .nullable()
    .meta({ description: 'The flip against the logged decision, if any.' }),
});

export const historySummary = z.object({
  agent_id: z.string(),
  environment: z.enum(['test', 'live']),
  from: timestamp.nullable(),
  to: timestamp,
  tool: z.string().nullable(),
  total: z.number().int().meta({ description: 'Calls in the window.' }),
  scanned: z.number().int(),
  evaluated: z.number().int().meta({ description: 'Calls decided (all, or the sample).' }),
  sampled: z.boolean(),
  vs_current: flipSummary.meta({
    description: 'Draft against the current set: the change itself.',
  }),
  vs_logged: flipSummary.meta({ description: 'Draft against what was logged at the time.' }),
});

/** The answer as one JSON object (without `Accept: application/x-ndjson`). */
export const historySimulationResponse = historySummary
  .extend({
    flips: z.array(historyFlip),
    flips_truncated: z.boolean(),
  })
  .meta({ id: 'PolicyHistorySimulation' });
