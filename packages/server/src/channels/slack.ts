import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCode, LogLevel, WebClient } from '@slack/web-api';
import type { ActionRecord } from '../store';

// Slack: the messages of a held call (with Approve / Deny buttons and a note field), their
// update once decided, and the check of an interactivity request's signature exactly as Slack
// documents it (https://api.slack.com/authentication/verifying-requests-from-slack): `v0=` and
// the hex HMAC-SHA256, keyed with the app's signing secret, of `v0:{timestamp}:{raw body}`; a
// timestamp more than five minutes from now is refused.

/** How far a request's timestamp may be from now (Slack's own advice: five minutes). */
export const slackToleranceSeconds = 300;

/** Why a Slack request's signature is refused, or undefined when it is good. */
export function slackSignatureProblem(
  signingSecret: string,
  body: string,
  timestamp: string | undefined,
  signature: string | undefined,
  nowSeconds: number,
): string | undefined {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) {
    return 'the X-Slack-Request-Timestamp header is missing or not a unix time';
  }
  if (Math.abs(nowSeconds - Number(timestamp)) > slackToleranceSeconds) {
    return 'the request is more than five minutes old (or from the future); Slack requests are accepted within five minutes of their timestamp';
  }
  if (!signature?.startsWith('v0=')) return 'the X-Slack-Signature header is missing';
  const expected = Buffer.from(
    `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`,
  );
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return 'the X-Slack-Signature does not match this channel’s signing secret';
  }
  return undefined;
}

/** What a send to Slack came to. */
export interface SlackOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  retryAfterMs?: number;
  /** `channel/ts` of the message posted. */
  ref?: string;
}

/** A Web API client bound to a bot token and the (configurable) API base URL. */
export function slackClient(token: string, slackApiUrl: string | undefined, timeoutMs: number) {
  return new WebClient(token, {
    slackApiUrl,
    timeout: timeoutMs,
    // Retries belong to the durable outbox (and survive a restart); a 429 comes back to it with
    // its Retry-After.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: LogLevel.ERROR,
    logger: {
      debug() {},
      info() {},
      warn() {},
      error() {},
      setLevel() {},
      getLevel: () => LogLevel.ERROR,
      setName() {},
    },
  });
}

/** Runs one Web API call and judges the outcome. */
export async function slackCall(
  run: () => Promise<{ ok?: boolean; channel?: string; ts?: string; error?: string }>,
): Promise<SlackOutcome> {
  try {
    const answer = await run();
    return {
      ok: true,
      statusCode: 200,
      error: null,
      ref: answer.channel && answer.ts ? `${answer.channel}/${answer.ts}` : undefined,
    };
  } catch (error) {
    const failure = error as {
      code?: string;
      retryAfter?: number;
      statusCode?: number;
      data?: { error?: string };
      message?: string;
    };
    if (failure.code === ErrorCode.RateLimitedError) {
      return {
        ok: false,
        statusCode: 429,
        error: `Slack rate limit; retry after ${failure.retryAfter ?? 1} s`,
        retryAfterMs: (failure.retryAfter ?? 1) * 1000,
      };
    }
    if (failure.code === ErrorCode.PlatformError) {
      return { ok: false, statusCode: 200, error: `Slack refused: ${failure.data?.error ?? '?'}` };
    }
    if (failure.code === ErrorCode.HTTPError) {
      return {
        ok: false,
        statusCode: failure.statusCode ?? null,
        error: `Slack answered HTTP ${failure.statusCode}`,
      };
    }
    return {
      ok: false,
      statusCode: null,
      error: `Slack could not be reached: ${(failure.message ?? String(error)).slice(0, 300)}`,
    };
  }
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** What a message says about the held call. */
export interface HeldCallSummary {
  action: ActionRecord;
  agentName: string;
  /** `remind` and `escalate` say so at the top. */
  job: 'notify' | 'remind' | 'escalate';
  now: number;
  /** When decided: the sentence that replaces the buttons. */
  decided?: string;
  /** While more approvals are needed: "1 of 2 — approved by …", shown above the buttons. */
  progress?: string;
}

/** The text and blocks of a Slack message about a held call. */
export function slackMessage(summary: HeldCallSummary): { text: string; blocks: unknown[] } {
  const { action } = summary;
  const policy = action.policy?.policy;
  const lead =
    summary.job === 'remind'
      ? 'Reminder: still waiting for approval'
      : summary.job === 'escalate'
        ? 'Escalated: nobody has decided yet'
        : 'Approval needed';
  const text = `${lead}: ${action.toolName} (agent ${summary.agentName})`;
  const waited = Math.max(0, Math.round((summary.now - action.createdAt) / 60_000));
  const facts = [
    `*Agent:* ${summary.agentName} (${action.environment})`,
    `*Policy:* ${policy ? `${policy.name}${action.policy?.ruleIndex != null && action.policy.ruleIndex >= 0 ? `, rule ${action.policy.ruleIndex + 1}` : ''}` : 'none (agent default)'}`,
    `*Session:* ${action.sessionId ?? '—'}`,
    `*Waiting:* ${waited} min`,
    `*Expires:* ${action.expiresAt ? new Date(action.expiresAt).toISOString() : '—'} (then ${action.onTimeout ?? 'deny'})`,
  ];
  const blocks: unknown[] = [
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `*${lead}*: \`${clip(action.toolName, 200)}\`` },
    },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        // The arguments as the agent sent them, byte for byte (clipped for Slack's 3 000).
        text: `\`\`\`${clip(`args ${action.argsJson}\nkwargs ${action.kwargsJson}`, 2_800)}\`\`\``,
      },
    },
    { type: 'section', fields: facts.map((fact) => ({ type: 'mrkdwn', text: fact })) },
  ];
  if (summary.decided) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: summary.decided } });
    return { text: `${text} — ${summary.decided.replace(/[*_]/g, '')}`, blocks };
  }
  if (summary.progress) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: summary.progress } });
  }
  blocks.push(
    {
      type: 'input',
      block_id: 'note',
      optional: true,
      label: { type: 'plain_text', text: 'Note' },
      element: { type: 'plain_text_input', action_id: 'note' },
    },
    {
      type: 'actions',
      block_id: 'decide',
      elements: [
        {
          type: 'button',
          action_id: 'approve',
          style: 'primary',
          text: { type: 'plain_text', text: 'Approve' },
          value: action.id,
        },
        {
          type: 'button',
          action_id: 'deny',
          style: 'danger',
          text: { type: 'plain_text', text: 'Deny' },
          value: action.id,
        },
      ],
    },
  );
  return { text, blocks };
}

/** A click parsed from an interactivity request, or undefined when it is not one of ours. */
export interface SlackClick {
  slackUserId: string;
  decision: 'approve' | 'deny';
  actionId: string;
  note: string | null;
  /** The Slack channel the click came from (for an ephemeral answer to the clicker). */
  slackChannelId: string | undefined;
}

/** Reads a `block_actions` payload (form field `payload`). */
export function parseSlackClick(body: string): SlackClick | undefined {
  const payloadText = new URLSearchParams(body).get('payload');
  if (!payloadText) return undefined;
  let payload: any;
  try {
    payload = JSON.parse(payloadText);
  } catch {
    return undefined;
  }
  if (payload?.type !== 'block_actions' || !Array.isArray(payload.actions)) return undefined;
  const click = payload.actions.find(
    (item: any) => item?.action_id === 'approve' || item?.action_id === 'deny',
  );
  if (!click || typeof click.value !== 'string' || typeof payload.user?.id !== 'string') {
    return undefined;
  }
  const note = payload.state?.values?.note?.note?.value;
  return {
    slackUserId: payload.user.id,
    decision: click.action_id,
    actionId: click.value,
    note: typeof note === 'string' && note.trim() ? note.slice(0, 4_000) : null,
    slackChannelId:
      typeof payload.channel?.id === 'string'
        ? payload.channel.id
        : typeof payload.container?.channel_id === 'string'
          ? payload.container.channel_id
          : undefined,
  };
}
