import type { ServerResponse } from 'node:http';
import * as z from 'zod';
import { v1 } from '../admin/route-helpers';
import { okBody } from '../admin/schemas';
import { type AdminRoute, route } from '../admin/table';
import type { ServerContext } from '../context';
import { ArdenServerError } from '../errors';
import { readBody, sendJson } from '../http/respond';
import { escapeHtml } from './email';
import type { ChannelAttemptRecord, ChannelMessageRecord, ChannelRecord } from './repository';
import * as schemas from './schema';

// The channels' admin API (`/api/v1/channels`, an agent's default targets, an action's channel
// messages and their resending), and the public endpoints approvers reach from their channel:
// Slack's interactivity URL, the email confirmation page, the approver webhook's callback.

const iso = (time: number) => new Date(time).toISOString();
const isoOrNull = (time: number | null) => (time === null ? null : iso(time));

function channelView(context: ServerContext, channel: ChannelRecord) {
  return {
    id: channel.id,
    name: channel.name,
    kind: channel.kind,
    config: channel.config,
    secrets_set: context.channels.secretNames(channel),
    enabled: channel.enabled,
    failing: channel.failingSince !== null,
    failing_since: isoOrNull(channel.failingSince),
    last_error: channel.lastError,
    interactivity_url:
      channel.kind === 'slack'
        ? `${context.channels.publicUrl}/channels/slack/${channel.id}/interactions`
        : null,
    created_at: iso(channel.createdAt),
    updated_at: iso(channel.updatedAt),
  };
}

function messageView(
  message: ChannelMessageRecord,
  channelName: string | null,
  attempts: ChannelAttemptRecord[],
) {
  return {
    id: message.id,
    action_id: message.actionId,
    channel_id: message.channelId,
    channel_name: channelName,
    job: message.job,
    target: message.target,
    status: message.status,
    attempts: message.attempts,
    next_attempt_at: iso(message.nextAttemptAt),
    last_status: message.lastStatus,
    last_error: message.lastError,
    created_at: iso(message.createdAt),
    delivered_at: isoOrNull(message.deliveredAt),
    attempt_log: attempts.map((attempt) => ({
      attempt: attempt.attempt,
      status_code: attempt.statusCode,
      error: attempt.error,
      duration_ms: attempt.durationMs,
      at: iso(attempt.at),
    })),
  };
}

const channelParam = { channel_id: 'Channel id or name.' };

/** The admin API of channels. */
export const channelRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/channels`,
    access: 'viewer',
    tag: 'channels',
    summary: 'List notification channels (failing ones say so)',
    response: schemas.channelList,
    async handler(call) {
      const server = call.services.server;
      const channels = await server.store.channels.list();
      return { items: channels.map((channel) => channelView(server, channel)) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/channels`,
    access: 'admin',
    tag: 'channels',
    summary: 'Create a channel (Slack, email or approver webhook); a generated key is shown once',
    body: z.unknown(),
    response: schemas.createdChannel,
    status: 201,
    async handler(call) {
      const server = call.services.server;
      const { channel, shown } = await server.channels.create(call.body);
      return { ...channelView(server, channel), ...(shown ? { secrets: shown } : {}) };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/channels/:channel_id`,
    access: 'viewer',
    tag: 'channels',
    summary: 'A channel',
    params: channelParam,
    response: schemas.channel,
    async handler(call) {
      const server = call.services.server;
      return channelView(server, await server.channels.get(call.params.channel_id as string));
    },
  }),
  route({
    method: 'PATCH',
    path: `${v1}/channels/:channel_id`,
    access: 'admin',
    tag: 'channels',
    summary: 'Change a channel: settings, secrets (replaced, never shown), enabled',
    params: channelParam,
    body: schemas.updateChannel,
    response: schemas.channel,
    async handler(call) {
      const server = call.services.server;
      return channelView(
        server,
        await server.channels.update(call.params.channel_id as string, call.body),
      );
    },
  }),
  route({
    method: 'DELETE',
    path: `${v1}/channels/:channel_id`,
    access: 'admin',
    tag: 'channels',
    summary: 'Delete a channel',
    params: channelParam,
    response: okBody,
    async handler(call) {
      await call.services.server.channels.remove(call.params.channel_id as string);
      return { ok: true as const };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id/channel-defaults`,
    access: 'viewer',
    tag: 'channels',
    summary: "An agent's default notification targets",
    params: { agent_id: 'Agent id or name.' },
    response: schemas.channelDefaults,
    async handler(call) {
      const server = call.services.server;
      const agent = await server.agents.getAgent(call.params.agent_id as string);
      return { notify: await server.channels.defaults(agent.id) };
    },
  }),
  route({
    method: 'PUT',
    path: `${v1}/agents/:agent_id/channel-defaults`,
    access: 'admin',
    tag: 'channels',
    summary: "Set an agent's default notification targets (used when a policy names none)",
    params: { agent_id: 'Agent id or name.' },
    body: schemas.channelDefaults,
    response: schemas.channelDefaults,
    async handler(call) {
      const server = call.services.server;
      const agent = await server.agents.getAgent(call.params.agent_id as string);
      await server.channels.setDefaults(agent.id, call.body.notify);
      return { notify: call.body.notify };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/actions/:action_id/channel-messages`,
    access: 'viewer',
    tag: 'channels',
    summary: "An action's channel messages (notifications, reminders, escalations, updates)",
    params: { action_id: 'Action id.' },
    response: schemas.channelMessageList,
    async handler(call) {
      const store = call.services.server.store;
      const messages = await store.channels.messagesOf(call.params.action_id as string);
      const names = new Map((await store.channels.list()).map((c) => [c.id, c.name]));
      const items = [];
      for (const message of messages) {
        items.push(
          messageView(
            message,
            names.get(message.channelId) ?? null,
            await store.channels.attempts(message.id),
          ),
        );
      }
      return { items };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/channel-messages/:message_id/resend`,
    access: 'approver',
    tag: 'channels',
    summary: 'Send a channel message again now',
    params: { message_id: 'Channel message id.' },
    response: schemas.channelMessage,
    async handler(call) {
      const server = call.services.server;
      const message = await server.channels.resend(call.params.message_id as string);
      server.channelWorker.nudge();
      const channel = await server.store.channels.get(message.channelId);
      return messageView(
        message,
        channel?.name ?? null,
        await server.store.channels.attempts(message.id),
      );
    },
  }),
];

function sendPage(response: ServerResponse, status: number, title: string, body: string): void {
  if (response.headersSent || response.destroyed) return;
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.5rem;overflow:auto}button{font-size:1rem;margin-right:.5rem;padding:.4rem 1rem}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  });
  response.end(html);
}

const formLimit = 64 * 1024;

/** The public endpoints of channels (each checks its own credential: a signature or a link). */
export function registerChannelRoutes(server: ServerContext): void {
  const { router } = server;

  router.add('POST', '/channels/slack/:channelId/interactions', async (context) => {
    const body = (await readBody(context.request, formLimit)).toString('utf8');
    const header = (name: string) => {
      const value = context.request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const outcome = await server.channelWorker.slackInteraction(
      context.params.channelId as string,
      body,
      { timestamp: header('x-slack-request-timestamp'), signature: header('x-slack-signature') },
    );
    sendJson(context.response, 200, {
      ok: true,
      ...(outcome.decided ? { action_id: outcome.decided.id, status: outcome.decided.status } : {}),
      ...(outcome.ignored ? { ignored: outcome.ignored } : {}),
      ...(outcome.refused ? { refused: outcome.refused } : {}),
    });
  });

  // The link of an email opens this page; nothing is decided until its form is POSTed.
  router.add('GET', '/channels/email/confirm', async (context) => {
    const token = context.query.get('token') ?? '';
    try {
      const { action, recipient } = await server.channels.openLink(token);
      sendPage(
        context.response,
        200,
        'Approve or deny this call?',
        `<p>Tool <code>${escapeHtml(action.toolName)}</code> (${action.environment}), held for ${escapeHtml(recipient)} to decide.</p>
<pre>args ${escapeHtml(action.argsJson)}
kwargs ${escapeHtml(action.kwargsJson)}</pre>
<p>Expires ${action.expiresAt ? new Date(action.expiresAt).toISOString() : 'never'} (then ${action.onTimeout ?? 'deny'}).</p>
<form method="post" action="/channels/email/confirm">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<p><label>Note <input type="text" name="note" maxlength="4000"></label></p>
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
      );
    } catch (error) {
      linkProblem(context.response, error);
    }
  });

  router.add('POST', '/channels/email/confirm', async (context) => {
    const form = new URLSearchParams((await readBody(context.request, formLimit)).toString('utf8'));
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'deny') {
      sendPage(context.response, 400, 'Nothing decided', '<p>Choose Approve or Deny.</p>');
      return;
    }
    try {
      const action = await server.channels.decideByLink(
        form.get('token') ?? '',
        decision,
        form.get('note') || null,
      );
      sendPage(
        context.response,
        200,
        action.status === 'approved' ? 'Approved' : 'Denied',
        `<p>The call to <code>${escapeHtml(action.toolName)}</code> is ${action.status}. You can close this page.</p>`,
      );
    } catch (error) {
      linkProblem(context.response, error);
    }
  });

  router.add('POST', '/channels/webhook/decide/:token', async (context) => {
    const body = (await readBody(context.request, formLimit)).toString('utf8');
    const header = (name: string) => {
      const value = context.request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const action = await server.channelWorker.webhookDecision(
      context.params.token as string,
      body,
      { timestamp: header('x-arden-timestamp'), signature: header('x-arden-signature') },
    );
    sendJson(context.response, 200, { action_id: action.id, status: action.status });
  });
}

function linkProblem(response: ServerResponse, error: unknown): void {
  if (ArdenServerError.isInstance(error) && error.status < 500) {
    sendPage(response, error.status, 'Nothing decided', `<p>${escapeHtml(error.message)}</p>`);
    return;
  }
  throw error;
}
