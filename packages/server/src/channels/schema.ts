import * as z from 'zod';
import { nullableTimestamp, timestamp } from '../admin/schemas';

// The admin API of notification channels (`/api/v1/channels`), parsed and documented
// (`/api/openapi.json`) with these schemas.

/** A notification target: `slack:#payments`, `email:finance@example.com`, `webhook:pager`. */
export const target = z
  .string()
  .max(300)
  .regex(
    /^(slack|email|webhook)(@[A-Za-z0-9_.-]{1,100})?:\S+$/,
    'a target is kind[@channel]:destination, such as slack:#payments-approvals, email:finance@example.com or webhook:pager',
  );

const slackConfig = z.strictObject({
  channel: z
    .string()
    .max(200)
    .optional()
    .meta({ description: 'The Slack channel used when a target names none (`#approvals`).' }),
});
const slackSecrets = z.strictObject({
  bot_token: z
    .string()
    .regex(/^xox[a-z]-/, 'a Slack bot token starts with xoxb-')
    .max(300),
  signing_secret: z.string().min(8).max(300),
});
const emailConfig = z.strictObject({
  host: z.string().min(1).max(300),
  port: z.number().int().min(1).max(65_535),
  secure: z.boolean().optional().meta({ description: 'TLS from the start (port 465).' }),
  user: z.string().max(300).optional(),
  from: z.string().min(3).max(300),
  to: z
    .string()
    .max(300)
    .optional()
    .meta({ description: 'The address used when a target names none.' }),
  require_tls: z.boolean().optional().meta({ description: 'Refuse to send without STARTTLS.' }),
  digest_minutes: z.number().int().min(1).max(1_440).optional().meta({
    description:
      'Send one digest per recipient every N minutes (at multiples of N since 00:00 UTC) of the calls held since the last one and still waiting, each with its own single-use links, instead of a message per call.',
  }),
});
const emailSecrets = z.strictObject({ password: z.string().max(1_000).optional() });
const webhookConfig = z.strictObject({ url: z.url().max(2_000) });
const webhookSecrets = z.strictObject({
  signing_key: z
    .string()
    .min(16)
    .max(300)
    .optional()
    .meta({ description: 'HMAC key of the requests; generated (and shown once) when absent.' }),
});

/** The body that creates a channel. */
export const createChannel = z.discriminatedUnion('kind', [
  z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/),
    kind: z.literal('slack'),
    config: slackConfig.default({}),
    secrets: slackSecrets,
  }),
  z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/),
    kind: z.literal('email'),
    config: emailConfig,
    secrets: emailSecrets.default({}),
  }),
  z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/),
    kind: z.literal('webhook'),
    config: webhookConfig,
    secrets: webhookSecrets.default({}),
  }),
]);

/** The body that changes a channel: its settings, its secrets (replaced when given), enabled. */
export const updateChannel = z.strictObject({
  config: z.record(z.string(), z.unknown()).optional(),
  secrets: z.record(z.string(), z.string()).optional(),
  enabled: z.boolean().optional(),
});

/** A channel; secrets are never shown, only which are set. */
export const channel = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(['slack', 'email', 'webhook']),
    config: z.record(z.string(), z.unknown()),
    secrets_set: z.array(z.string()),
    enabled: z.boolean(),
    failing: z.boolean(),
    failing_since: nullableTimestamp,
    last_error: z.string().nullable(),
    interactivity_url: z
      .string()
      .nullable()
      .meta({ description: "Slack: the Request URL of the app's Interactivity settings." }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Channel' });

/** A channel as created: its secrets are shown this once (a generated webhook key). */
export const createdChannel = channel
  .extend({ secrets: z.record(z.string(), z.string()).optional() })
  .meta({ id: 'CreatedChannel' });

export const channelList = z.object({ items: z.array(channel) }).meta({ id: 'ChannelList' });

/** An agent's default targets, used by held calls whose policy names none. */
export const channelDefaults = z
  .object({ notify: z.array(target).max(20) })
  .meta({ id: 'ChannelDefaults' });

/** One attempt to send a channel message. */
export const channelAttempt = z.object({
  attempt: z.number().int(),
  status_code: z.number().int().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number(),
  at: timestamp,
});

/** One channel message of an action: a notification, reminder, escalation or update. */
export const channelMessage = z
  .object({
    id: z.string(),
    action_id: z.string(),
    channel_id: z.string(),
    channel_name: z.string().nullable(),
    job: z.enum(['notify', 'remind', 'escalate', 'update']),
    target: z.string(),
    status: z.enum(['pending', 'delivered', 'failed', 'cancelled']),
    attempts: z.number().int(),
    next_attempt_at: timestamp,
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: timestamp,
    delivered_at: nullableTimestamp,
    attempt_log: z.array(channelAttempt),
  })
  .meta({ id: 'ChannelMessage' });

export const channelMessageList = z
  .object({ items: z.array(channelMessage) })
  .meta({ id: 'ChannelMessageList' });
