/**
 * `arden hook install|uninstall claude-code`: writes Arden's hooks into a Claude Code settings
 * file (`.claude/settings.json` of the project, or `~/.claude/settings.json`), merged with what
 * is there, after a backup, and returns the diff to print.
 */
import { readFile } from 'node:fs/promises';
import { lineDiff, writeWithBackup } from '../config-file';

export { lineDiff };

/** The events Arden hooks into. */
export const hookEvents = [
  'PreToolUse',
  'PostToolUse',
  'PostToolUseFailure',
  'Stop',
  'SessionEnd',
] as const;

/** How Claude Code reaches Arden: the `arden` command hook, or the server's HTTP endpoint. */
export type HookTransport =
  | { type: 'command'; command: string; timeoutSeconds: number }
  | {
      type: 'http';
      url: string;
      timeoutSeconds: number;
      /**
       * The command hook that records usage at Stop and SessionEnd next to the http hooks
       * (`arden hook claude-code --usage-only …`): the transcript is on the developer's machine,
       * where only a command hook can read it. Absent: usage is not recorded.
       */
      usageCommand?: string;
    };

type Settings = Record<string, unknown> & { hooks?: Record<string, unknown[]> };

/** Whether a hook entry (one of a matcher's `hooks`) is Arden's. */
function isArdenHook(hook: unknown): boolean {
  const entry = hook as { type?: unknown; command?: unknown; url?: unknown } | null;
  if (!entry || typeof entry !== 'object') return false;
  if (entry.type === 'command' && typeof entry.command === 'string') {
    return /(^|[\s/])arden(\.js)?\s+hook\s+claude-code(\s|$)/.test(entry.command);
  }
  return (
    entry.type === 'http' &&
    typeof entry.url === 'string' &&
    /\/v1\/hooks\/claude-code(\?|$)/.test(entry.url)
  );
}

function hookEntry(transport: HookTransport, event: string): Record<string, unknown> {
  // Only PreToolUse waits for approvers; the others report and return.
  const timeout = event === 'PreToolUse' ? transport.timeoutSeconds : 30;
  if (transport.type === 'command') {
    return { type: 'command', command: transport.command, timeout };
  }
  return {
    type: 'http',
    url: transport.url,
    headers: { 'X-API-Key': '$ARDEN_API_KEY' },
    allowedEnvVars: ['ARDEN_API_KEY'],
    timeout,
    // The default, "continue", lets the call through when Arden cannot be reached.
    onFailure: 'block',
  };
}

/** The settings without Arden's hooks (matchers left empty are removed). */
export function withoutArdenHooks(settings: Settings): Settings {
  if (!settings.hooks || typeof settings.hooks !== 'object') return settings;
  const hooks: Record<string, unknown[]> = {};
  for (const [event, matchers] of Object.entries(settings.hooks)) {
    if (!Array.isArray(matchers)) {
      hooks[event] = matchers;
      continue;
    }
    const kept = matchers
      .map((matcher) => {
        const entry = matcher as { hooks?: unknown };
        if (!entry || !Array.isArray(entry.hooks)) return matcher;
        return { ...entry, hooks: entry.hooks.filter((hook) => !isArdenHook(hook)) };
      })
      .filter(
        (matcher) =>
          !Array.isArray((matcher as { hooks?: unknown[] }).hooks) ||
          (matcher as { hooks: unknown[] }).hooks.length > 0,
      );
    if (kept.length > 0) hooks[event] = kept;
  }
  const result: Settings = { ...settings, hooks };
  if (Object.keys(hooks).length === 0) delete result.hooks;
  return result;
}

/** The settings with Arden's hooks (replacing Arden's earlier ones, keeping everything else). */
export function withArdenHooks(settings: Settings, transport: HookTransport): Settings {
  const base = withoutArdenHooks(settings);
  const hooks: Record<string, unknown[]> = { ...(base.hooks ?? {}) };
  for (const event of hookEvents) {
    const entries = [hookEntry(transport, event)];
    if (transport.type === 'http' && transport.usageCommand && !event.startsWith('P')) {
      entries.push({ type: 'command', command: transport.usageCommand, timeout: 30 });
    }
    const matcher: Record<string, unknown> = { hooks: entries };
    if (event.startsWith('P')) matcher.matcher = '*';
    hooks[event] = [...(Array.isArray(hooks[event]) ? hooks[event] : []), matcher];
  }
  return { ...base, hooks };
}

/** What an install or uninstall did. */
export interface SettingsChange {
  path: string;
  /** The backup of the file as it was, when there was one and it changed. */
  backup: string | undefined;
  changed: boolean;
  diff: string;
}

/**
 * Rewrites the settings file at `path` with `change` applied: a backup `<path>.arden-backup`
 * of the old file first, then the new file written whole (by rename). Refuses a file that is
 * not a JSON object rather than overwrite it.
 */
export async function updateSettings(
  path: string,
  change: (settings: Settings) => Settings,
): Promise<SettingsChange> {
  let before = '';
  let settings: Settings = {};
  try {
    before = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (before.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(before);
    } catch (error) {
      throw new Error(
        `${path} is not valid JSON (${(error as Error).message}); fix it or move it away, then run this again.`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(
        `${path} does not hold a JSON object; fix it or move it away, then run this again.`,
      );
    }
    settings = parsed as Settings;
  }
  const after = `${JSON.stringify(change(settings), null, 2)}\n`;
  const beforeNormalised = before.trim() === '' ? '' : `${JSON.stringify(settings, null, 2)}\n`;
  if (after === beforeNormalised || (before === '' && after === '{}\n')) {
    return { path, backup: undefined, changed: false, diff: '' };
  }
  const backup = await writeWithBackup(path, before, after);
  return {
    path,
    backup,
    changed: true,
    // The diff of the settings as JSON (not of their layout in the old file).
    diff: lineDiff(beforeNormalised.trimEnd(), after.trimEnd()),
  };
}
