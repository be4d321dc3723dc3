/**
 * `POST /v1/hooks/claude-code`: the receiver of Claude Code's `http` hooks (installed by
 * `arden hook install claude-code --http URL`, with `onFailure: "block"`). The body is the hook
 * event Claude Code sends; the answer is what the command hook would print. The agent key comes
 * in `X-API-Key` (or `Authorization: Bearer`). The call is checked through this server's own
 * agent API on its loopback address, so it is authenticated, rate limited, logged and held
 * exactly like a `POST /policy/check`. Stop and SessionEnd record nothing here: the transcript
 * is on the developer's machine (the command hook reads it there).
 */
import { join } from 'node:path';
import type { ServerContext } from '../context';
import { AuthenticationError } from '../errors';
import { readJsonText, sendJson } from '../http/respond';
import type { RequestContext } from '../http/router';
import { defaultHookOptions, type HookOptions, handleClaudeCodeHook } from './claude-code/hook';

function presentedKey(context: RequestContext): string | undefined {
  const header = context.request.headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key?.trim()) return key.trim();
  const authorization = context.request.headers.authorization;
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  return undefined;
}

function optionsOf(query: URLSearchParams): HookOptions {
  const options: HookOptions = { ...defaultHookOptions, readTranscript: false };
  if (query.get('on_held') === 'ask') options.onHeld = 'ask';
  if (query.get('on_allow') === 'allow') options.onAllow = 'allow';
  const wait = Number(query.get('max_wait'));
  if (Number.isInteger(wait) && wait >= 1 && wait <= 3600) options.maxWaitSeconds = wait;
  return options;
}

/** Registers `POST /v1/hooks/claude-code`. */
export function registerClaudeCodeHookRoutes(server: ServerContext): void {
  server.router.add('POST', '/v1/hooks/claude-code', async (context) => {
    const key = presentedKey(context);
    if (!key) {
      throw new AuthenticationError(
        'Missing API key. Claude Code sends it from the hook\'s headers: {"X-API-Key": "$ARDEN_API_KEY"} with "allowedEnvVars": ["ARDEN_API_KEY"] (arden hook install claude-code --http URL writes both).',
      );
    }
    const body = await readJsonText(context.request, server.config.bodyLimit);
    const socket = context.request.socket;
    const host = socket.localAddress?.includes(':')
      ? `[${socket.localAddress}]`
      : socket.localAddress;
    const answer = await handleClaudeCodeHook(body, optionsOf(context.query), {
      ARDEN_API_KEY: key,
      ARDEN_API_URL: `http://${host ?? '127.0.0.1'}:${socket.localPort}`,
      ARDEN_HOOK_STATE_DIR: join(server.config.dataDir ?? '.', 'claude-code-hooks'),
    });
    if (answer.exitCode !== 0) {
      sendJson(context.response, 400, {
        error: answer.stderr.trim() || 'The hook event was refused.',
      });
      return;
    }
    sendJson(context.response, 200, answer.stdout ? JSON.parse(answer.stdout) : {});
  });
}
