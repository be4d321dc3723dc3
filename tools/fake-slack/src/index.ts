import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One recorded call of the fake Slack Web API. */
export interface SlackCall {
  /** The Web API method (`chat.postMessage`). */
  method: string;
  /** The bot token of the `Authorization: Bearer` header. */
  token: string | undefined;
  /** The arguments, parsed from form or JSON (form values that hold JSON are parsed too). */
  args: Record<string, unknown>;
  /** What the fake answered. */
  status: number;
}

/** A message as posted and then updated, by `channel` and `ts`. */
export interface SlackMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  /** How many times `chat.update` replaced it. */
  updates: number;
}

/** A local fake of the Slack Web API. */
export interface FakeSlack {
  /** Base URL for `@slack/web-api`'s `slackApiUrl` (ends with `/api/`). */
  readonly apiUrl: string;
  readonly calls: SlackCall[];
  /** Messages by `${channel}/${ts}`. */
  readonly messages: Map<string, SlackMessage>;
  /** Registers a Slack user (`users.info` answers with this email). */
  addUser(id: string, email: string): void;
  /** The next `count` calls answer 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit(count: number, retryAfterSeconds: number): void;
  /** The next `count` calls answer 500 (or hang up when `hangUp`). */
  fail(count: number, options?: { hangUp?: boolean }): void;
  /** The next `count` calls are recorded but never answered (a sender that dies mid-send). */
  hold(count: number): void;
  /** Resolves once `count` calls of `method` were recorded. */
  waitFor(method: string, count?: number, timeoutMs?: number): Promise<SlackCall[]>;
  close(): Promise<void>;
}

function parseArgs(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.includes('application/json')) return raw ? JSON.parse(raw) : {};
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    try {
      args[key] = /^[[{]/.test(value) ? JSON.parse(value) : value;
    } catch {
      args[key] = value;
    }
  }
  return args;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Starts the fake on a free port of 127.0.0.1. */
export async function startFakeSlack(): Promise<FakeSlack> {
  const calls: SlackCall[] = [];
  const messages = new Map<string, SlackMessage>();
  const users = new Map<string, string>();
  let limited = 0;
  let retryAfter = 1;
  let failing = 0;
  let hangUp = false;
  let counter = 0;
  let holding = 0;
  const waiters = new Set<() => void>();

  const server: Server = createServer(async (request, response) => {
    const raw = await readBody(request);
    const method = (request.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
    const token = request.headers.authorization?.replace(/^Bearer /, '');
    const args = parseArgs(raw, request.headers['content-type']);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      calls.push({ method, token, args, status });
      for (const wake of waiters) wake();
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    if (holding > 0) {
      holding--;
      calls.push({ method, token, args, status: 0 });
      for (const wake of waiters) wake();
      return;
    }
    if (failing > 0) {
      failing--;
      if (hangUp) {
        calls.push({ method, token, args, status: 0 });
        for (const wake of waiters) wake();
        request.socket.destroy();
        return;
      }
      answer(500, { ok: false, error: 'internal_error' });
      return;
    }
    if (limited > 0) {
      limited--;
      answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
      return;
    }
    if (!token?.startsWith('xoxb-')) {
      answer(200, { ok: false, error: 'not_authed' });
      return;
    }
    switch (method) {
      case 'auth.test':
        answer(200, { ok: true, team: 'Fake', user: 'arden', bot_id: 'B1' });
        return;
      case 'chat.postMessage': {
        const channel = String(args.channel ?? '');
        const ts = `${Math.floor(Date.now() / 1000)}.${String(++counter).padStart(6, '0')}`;
        messages.set(`${channel}/${ts}`, {
          channel,
          ts,
          text: String(args.text ?? ''),
          blocks: Array.isArray(args.blocks) ? args.blocks : [],
          updates: 0,
        });
        answer(200, { ok: true, channel, ts, message: { text: args.text } });
        return;
      }
      case 'chat.update': {
        const key = `${String(args.channel)}/${String(args.ts)}`;
        const message = messages.get(key);
        if (!message) {
          answer(200, { ok: false, error: 'message_not_found' });
          return;
        }
        message.text = String(args.text ?? message.text);
        message.blocks = Array.isArray(args.blocks) ? args.blocks : message.blocks;
        message.updates++;
        answer(200, { ok: true, channel: message.channel, ts: message.ts });
        return;
      }
      case 'chat.postEphemeral':
        // Shown to one user only, and never stored as a message of the channel.
        answer(200, { ok: true, message_ts: `${Math.floor(Date.now() / 1000)}.000000` });
        return;
      case 'users.info': {
        const id = String(args.user ?? '');
        const email = users.get(id);
        if (!email) answer(200, { ok: false, error: 'user_not_found' });
        else answer(200, { ok: true, user: { id, profile: { email } } });
        return;
      }
      default:
        answer(200, { ok: false, error: 'unknown_method' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    messages,
    addUser(id, email) {
      users.set(id, email);
    },
    rateLimit(count, seconds) {
      limited = count;
      retryAfter = seconds;
    },
    fail(count, options = {}) {
      failing = count;
      hangUp = options.hangUp === true;
    },
    hold(count) {
      holding = count;
    },
    waitFor(method, count = 1, timeoutMs = 30_000) {
      const matching = () => calls.filter((call) => call.method === method);
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = matching();
          if (found.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fake Slack: ${matching().length} of ${count} ${method} calls`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Signs an interactivity request as Slack does: `v0=` and the hex HMAC-SHA256, keyed with the
 * app's signing secret, of `v0:{timestamp}:{raw body}`. Returns the two headers Slack sends.
 */
export function signSlackRequest(
  signingSecret: string,
  body: string,
  timestamp: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = createHmac('sha256', signingSecret)
    .update(`v0:${timestamp}:${body}`)
    .digest('hex');
  return {
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': `v0=${signature}`,
    'content-type': 'application/x-www-form-urlencoded',
  };
}

/**
 * The form body of a `block_actions` interaction: a click on a button of `message` by `userId`,
 * as Slack POSTs it (`payload=` and the JSON, form-encoded).
 */
export function blockActionBody(options: {
  userId: string;
  actionId: string;
  value: string;
  channel: string;
  ts: string;
  note?: string;
}): string {
  const payload = {
    type: 'block_actions',
    user: { id: options.userId, username: options.userId },
    api_app_id: 'A1',
    container: { type: 'message', channel_id: options.channel, message_ts: options.ts },
    channel: { id: options.channel },
    message: { ts: options.ts },
    state: {
      values: options.note
        ? { note: { note: { type: 'plain_text_input', value: options.note } } }
        : {},
    },
    actions: [
      { action_id: options.actionId, block_id: 'decide', value: options.value, type: 'button' },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
