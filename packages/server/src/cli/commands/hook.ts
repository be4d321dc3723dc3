import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { HookOptions } from '../../hooks/claude-code/hook';
import { parse, text } from '../args';
import { type CliIo, UsageError } from '../io';

/** The exit code Claude Code and Codex read as "block this call". */
const blockExitCode = 2;

const help = `Usage:
  arden hook claude-code [--on-held wait|ask] [--on-allow defer|allow]
                         [--on-unavailable block|allow] [--max-wait SECONDS]
  arden hook install claude-code [--project | --user] [--command CMD]
                                 [--http URL [--usage local|off]] [options above]
  arden hook uninstall claude-code [--project | --user]
  arden hook codex [--on-unavailable block|allow] [--max-wait SECONDS]
  arden hook install codex [--user | --project] [--command CMD] [--on-unavailable ...] [--max-wait ...]
  arden hook uninstall codex [--user | --project]

hook claude-code is the command Claude Code runs for its hooks (the event as JSON on stdin): it
checks each tool call with Arden (claude_code.<Tool>, mcp.<server>.<tool>) and answers allow,
deny or ask; reports outcomes; and at Stop and SessionEnd records the session's token usage,
read from the transcript on this machine (its content is never sent).
  --on-held wait        a held call waits for an approver (default), up to --max-wait (300 s)
  --on-held ask         a held call is put to the developer at the keyboard instead
  --on-allow defer      Claude Code's own permission rules still apply to allowed calls (default)
  --on-allow allow      an allowed call runs without Claude Code's prompt
  --on-unavailable      block (default): Arden unreachable denies the call; allow: runs unchecked
It needs ARDEN_API_KEY (the agent's key) and ARDEN_API_URL in its environment.

install writes the hooks into .claude/settings.json of this directory (--project, default) or
~/.claude/settings.json (--user), merged with what is there, after a backup (.arden-backup), and
prints the diff. --command names the arden command to run (default "arden"); --http URL installs
Claude Code http hooks to the server at URL instead (POST /v1/hooks/claude-code, onFailure: block),
plus, with --usage local (default), a command hook at Stop and SessionEnd that reads the
transcript on this machine and sends only token counts (arden hook claude-code --usage-only
--api-url URL, run with --command); --usage off leaves it out, and usage is then not recorded.
uninstall removes Arden's hooks and nothing else.

hook codex is the command Codex runs for its PreToolUse hook (see docs/integrations/codex.md):
it checks Bash, apply_patch and MCP calls (codex.<Tool>, mcp.<server>.<tool>); exit 0 lets the
call run, exit 2 blocks it with Arden's reason. Every error blocks, because Codex runs the tool
when a hook fails.

install codex adds that hook to Codex's config.toml: ~/.codex/config.toml (or
$CODEX_HOME/config.toml) with --user (default), .codex/config.toml of this directory with
--project. The rest of the file is kept as written; a backup (.arden-backup) is made and the diff
printed. The hook's timeout is --max-wait + 30 s. uninstall removes that hook and nothing else.
Codex runs a new hook only once you trust it (/hooks in Codex).
`;

const choices = {
  'on-held': ['wait', 'ask'],
  'on-allow': ['defer', 'allow'],
  'on-unavailable': ['block', 'allow'],
} as const;

function hookOptions(parsed: ReturnType<typeof parse>, defaults: HookOptions): HookOptions {
  const options = { ...defaults };
  for (const [name, allowed] of Object.entries(choices)) {
    const value = text(parsed, name);
    if (value === undefined) continue;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new UsageError(`--${name} must be ${allowed.join(' or ')}; got "${value}".`);
    }
    if (name === 'on-held') options.onHeld = value as HookOptions['onHeld'];
    if (name === 'on-allow') options.onAllow = value as HookOptions['onAllow'];
    if (name === 'on-unavailable') options.onUnavailable = value as HookOptions['onUnavailable'];
  }
  const wait = text(parsed, 'max-wait');
  if (wait !== undefined) {
    const seconds = Number(wait);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
      throw new UsageError(
        `--max-wait must be a whole number of seconds from 1 to 3600; got "${wait}".`,
      );
    }
    options.maxWaitSeconds = seconds;
  }
  return options;
}

function hookFlags(options: HookOptions, defaults: HookOptions): string {
  const flags: string[] = [];
  if (options.onHeld !== defaults.onHeld) flags.push(`--on-held ${options.onHeld}`);
  if (options.onAllow !== defaults.onAllow) flags.push(`--on-allow ${options.onAllow}`);
  if (options.onUnavailable !== defaults.onUnavailable)
    flags.push(`--on-unavailable ${options.onUnavailable}`);
  if (options.maxWaitSeconds !== defaults.maxWaitSeconds)
    flags.push(`--max-wait ${options.maxWaitSeconds}`);
  return flags.map((flag) => ` ${flag}`).join('');
}

function httpHookUrl(base: string, options: HookOptions, defaults: HookOptions): string {
  const query = new URLSearchParams();
  if (options.onHeld !== defaults.onHeld) query.set('on_held', options.onHeld);
  if (options.onAllow !== defaults.onAllow) query.set('on_allow', options.onAllow);
  if (options.maxWaitSeconds !== defaults.maxWaitSeconds) {
    query.set('max_wait', String(options.maxWaitSeconds));
  }
  const url = `${base.replace(/\/+$/, '')}/v1/hooks/claude-code`;
  return query.size > 0 ? `${url}?${query}` : url;
}

/** An http(s) base URL that can stand unquoted in a hook's command line. */
function isServerUrl(value: string): boolean {
  if (!/^[A-Za-z0-9:/._~%+-]+$/.test(value)) return false;
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** `arden hook …` */
export async function hookCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(
    argv,
    {
      'on-held': { type: 'string' },
      'on-allow': { type: 'string' },
      'on-unavailable': { type: 'string' },
      'max-wait': { type: 'string' },
      project: { type: 'boolean' },
      user: { type: 'boolean' },
      command: { type: 'string' },
      http: { type: 'string' },
      usage: { type: 'string' },
      'usage-only': { type: 'boolean' },
      'api-url': { type: 'string' },
    },
    'hook',
  );
  const [sub, agent] = parsed.positionals;
  if (parsed.values.help || sub === undefined) {
    io.stdout(help);
    return parsed.values.help ? 0 : 2;
  }
  // Loaded only now: the hook runs on every tool call and must start fast.
  const { defaultHookOptions, handleClaudeCodeHook } = await import('../../hooks/claude-code/hook');
  const options = hookOptions(parsed, defaultHookOptions);
  if (sub === 'claude-code' || sub === 'codex') {
    try {
      if (sub === 'claude-code') {
        const stdin = io.readStdin ? await io.readStdin() : '';
        const apiUrl = text(parsed, 'api-url');
        const answer = await handleClaudeCodeHook(
          stdin,
          { ...options, usageOnly: parsed.values['usage-only'] === true },
          apiUrl ? { ...io.env, ARDEN_API_URL: apiUrl } : io.env,
        );
        if (answer.stdout) io.stdout(answer.stdout);
        if (answer.stderr) io.stderr(answer.stderr);
        return answer.exitCode;
      }
      const { handleCodexHook } = await import('../../hooks/codex/hook');
      const stdin = io.readStdin ? await io.readStdin() : '';
      const answer = await handleCodexHook(
        stdin,
        { onUnavailable: options.onUnavailable, maxWaitSeconds: options.maxWaitSeconds },
        io.env,
      );
      if (answer.stderr) io.stderr(answer.stderr);
      return answer.exitCode;
    } catch (error) {
      // Claude Code and Codex run the tool after a hook fails with any exit code but 2
      // (stdin too large to read, a failing shutdown): an unexpected error blocks the call.
      io.stderr(
        `arden hook ${sub}: the call did not run, because the hook failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return blockExitCode;
    }
  }
  if (sub !== 'install' && sub !== 'uninstall') {
    throw new UsageError(`Unknown hook command "${sub}". See \`arden hook --help\`.`);
  }
  if (agent !== 'claude-code' && agent !== 'codex') {
    throw new UsageError(
      `arden hook ${sub} needs the agent: claude-code or codex. See \`arden hook --help\`.`,
    );
  }
  if (parsed.values.project && parsed.values.user) {
    throw new UsageError('Give --project or --user, not both.');
  }
  if (agent === 'codex') return installCodex(sub, parsed, options, io);
  const path = parsed.values.user
    ? join(io.env.HOME || homedir(), '.claude', 'settings.json')
    : join(resolve(io.cwd), '.claude', 'settings.json');
  const { updateSettings, withArdenHooks, withoutArdenHooks } = await import(
    '../../hooks/claude-code/settings'
  );
  let change: Awaited<ReturnType<typeof updateSettings>>;
  try {
    if (sub === 'uninstall') {
      change = await updateSettings(path, withoutArdenHooks);
    } else {
      const http = text(parsed, 'http');
      const usage = text(parsed, 'usage') ?? 'local';
      if (usage !== 'local' && usage !== 'off') {
        throw new UsageError(`--usage must be local or off; got "${usage}".`);
      }
      if (http !== undefined && !isServerUrl(http)) {
        throw new UsageError(
          `--http must be the Arden server's base URL, like https://arden.example.com; got "${http}".`,
        );
      }
      const arden = text(parsed, 'command') ?? 'arden';
      const timeoutSeconds = options.maxWaitSeconds + 30;
      const transport = http
        ? {
            type: 'http' as const,
            url: httpHookUrl(http, options, defaultHookOptions),
            timeoutSeconds,
            ...(usage === 'local'
              ? {
                  usageCommand: `${arden} hook claude-code --usage-only --api-url ${http.replace(/\/+$/, '')}`,
                }
              : {}),
          }
        : {
            type: 'command' as const,
            command: `${arden} hook claude-code${hookFlags(options, defaultHookOptions)}`,
            timeoutSeconds,
          };
      change = await updateSettings(path, (settings) => withArdenHooks(settings, transport));
    }
  } catch (error) {
    io.stderr(`error: ${(error as Error).message}\n`);
    return 1;
  }
  if (!change.changed) {
    io.stdout(`${path}: nothing to change.\n`);
    return 0;
  }
  io.stdout(`${change.diff}\n`);
  io.stdout(
    `${sub === 'install' ? 'Installed Arden hooks in' : 'Removed Arden hooks from'} ${path}${change.backup ? ` (backup: ${change.backup})` : ''}.\n`,
  );
  if (sub === 'install') {
    io.stdout('Claude Code needs ARDEN_API_KEY and ARDEN_API_URL in its environment.\n');
  }
  return 0;
}

/** `arden hook install|uninstall codex`. */
async function installCodex(
  sub: 'install' | 'uninstall',
  parsed: ReturnType<typeof parse>,
  options: HookOptions,
  io: CliIo,
): Promise<number> {
  for (const flag of ['on-held', 'on-allow', 'http', 'usage'] as const) {
    if (parsed.values[flag] !== undefined) {
      throw new UsageError(
        `--${flag} is for Claude Code; Codex's hook cannot ask the developer, allow outright or use http (docs/integrations/codex.md).`,
      );
    }
  }
  const home = io.env.CODEX_HOME || join(io.env.HOME || homedir(), '.codex');
  const path = parsed.values.project
    ? join(resolve(io.cwd), '.codex', 'config.toml')
    : join(home, 'config.toml');
  const { codexHookEntry, updateCodexConfig, withArdenCodexHook, withoutArdenCodexHook } =
    await import('../../hooks/codex/config');
  let change: Awaited<ReturnType<typeof updateCodexConfig>>;
  try {
    if (sub === 'uninstall') {
      change = await updateCodexConfig(path, (text) => withoutArdenCodexHook(text, path), false);
    } else {
      const flags: string[] = [];
      if (options.onUnavailable !== 'block')
        flags.push(`--on-unavailable ${options.onUnavailable}`);
      if (options.maxWaitSeconds !== 300) flags.push(`--max-wait ${options.maxWaitSeconds}`);
      const command = [`${text(parsed, 'command') ?? 'arden'} hook codex`, ...flags].join(' ');
      const entry = codexHookEntry(command, options.maxWaitSeconds + 30);
      change = await updateCodexConfig(path, (text) => withArdenCodexHook(text, path, entry), true);
    }
  } catch (error) {
    io.stderr(`error: ${(error as Error).message}\n`);
    return 1;
  }
  if (!change.changed) {
    io.stdout(`${path}: nothing to change.\n`);
    return 0;
  }
  io.stdout(`${change.diff}\n`);
  io.stdout(
    `${sub === 'install' ? "Installed Arden's hook in" : "Removed Arden's hook from"} ${path}${change.backup ? ` (backup: ${change.backup})` : ''}.\n`,
  );
  if (sub === 'install') {
    io.stdout(
      [
        'Codex runs a new hook only after you trust it: open /hooks in Codex and trust "arden hook codex"',
        '(until then Codex skips it). Codex needs ARDEN_API_KEY and ARDEN_API_URL in its environment.',
        'MCP servers: `arden mcp install --client codex` puts them behind the Arden gateway too.',
        '',
      ].join('\n'),
    );
  }
  return 0;
}
