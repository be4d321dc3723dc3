/**
 * `arden hook install|uninstall codex`: Arden's `PreToolUse` hook in a Codex `config.toml`
 * (`~/.codex/config.toml`, `$CODEX_HOME/config.toml`, or a repository's `.codex/config.toml`), as
 * Codex reads inline hooks: one `[[hooks.PreToolUse]]` matcher group without a matcher (every
 * tool Codex runs the event for) holding one command hook.
 *
 * The file is edited as text, so that everything else in it (comments, order, layout) stays as
 * written: Arden's block is appended between two marker comments, and uninstall removes exactly
 * that block. The result is parsed again and must hold the old settings plus Arden's hook and
 * nothing else, or nothing is written.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'smol-toml';
import { lineDiff, writeWithBackup } from '../config-file';

const beginMarker =
  '# >>> arden hook codex: added by `arden hook install codex`, removed by `arden hook uninstall codex`';
const endMarker = '# <<< arden hook codex';

/** Matches a hook command that runs Arden's Codex hook (`arden hook codex`, `arden.js hook codex`). */
const ardenCommand = /(^|[\s/])arden(\.js)?\s+hook\s+codex(\s|$)/;

/** The hook Arden installs, as Codex reads it. */
export interface CodexHookEntry {
  type: 'command';
  command: string;
  /** Seconds; Codex counts a hook that runs longer as failed and runs the tool. */
  timeout: number;
  statusMessage: string;
}

/** Arden's hook for a command line and a timeout. */
export function codexHookEntry(command: string, timeoutSeconds: number): CodexHookEntry {
  return {
    type: 'command',
    command,
    timeout: timeoutSeconds,
    statusMessage: 'Checking with Arden',
  };
}

function block(entry: CodexHookEntry): string {
  return [
    beginMarker,
    '[[hooks.PreToolUse]]',
    '[[hooks.PreToolUse.hooks]]',
    'type = "command"',
    // A JSON string is a TOML basic string (the same escapes).
    `command = ${JSON.stringify(entry.command)}`,
    `timeout = ${entry.timeout}`,
    `statusMessage = ${JSON.stringify(entry.statusMessage)}`,
    endMarker,
  ].join('\n');
}

type Toml = Record<string, unknown>;

/** Plain objects and arrays (the parser's tables have no prototype), for comparing. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
type Group = { matcher?: unknown; hooks?: unknown };

function parseToml(text: string, path: string): Toml {
  try {
    return parse(text) as Toml;
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new Error(
      `${path} is not valid TOML (${reason}); nothing was written. Fix it or move it away, then run this again.`,
    );
  }
}

/** The `[[hooks.PreToolUse]]` groups of a parsed config (`[]` when it has none). */
function preToolUseGroups(config: Toml): Group[] {
  const hooks = config.hooks as Toml | undefined;
  const groups = hooks?.PreToolUse;
  return Array.isArray(groups) ? (groups as Group[]) : [];
}

function isArdenGroup(group: Group): boolean {
  return (
    Array.isArray(group.hooks) &&
    group.hooks.some(
      (hook) =>
        typeof (hook as { command?: unknown }).command === 'string' &&
        ardenCommand.test((hook as { command: string }).command),
    )
  );
}

/** The config without `entry` as the last `PreToolUse` group, for comparing. */
function withoutLastGroup(config: Toml): Toml {
  const hooks = { ...(config.hooks as Toml) };
  const groups = preToolUseGroups(config).slice(0, -1);
  if (groups.length > 0) hooks.PreToolUse = groups;
  else delete hooks.PreToolUse;
  const result: Toml = { ...config, hooks };
  if (Object.keys(hooks).length === 0) delete result.hooks;
  return result;
}

/** `text` without Arden's block (and the blank line the install put before it). */
function removeBlock(text: string, path: string): { text: string; found: boolean } {
  const lines = text.split('\n');
  const start = lines.indexOf(beginMarker);
  if (start < 0) return { text, found: false };
  const end = lines.indexOf(endMarker, start);
  if (end < 0) {
    throw new Error(
      `${path} has the line "${beginMarker}" but not "${endMarker}" after it; nothing was written. Remove Arden's hook from it by hand.`,
    );
  }
  const from = start > 0 && lines[start - 1] === '' ? start - 1 : start;
  const to = end < lines.length - 1 && lines[end + 1] === '' && from === start ? end + 2 : end + 1;
  return { text: [...lines.slice(0, from), ...lines.slice(to)].join('\n'), found: true };
}

/** The new text of a Codex config with Arden's hook (replacing an earlier one of Arden's). */
export function withArdenCodexHook(text: string, path: string, entry: CodexHookEntry): string {
  parseToml(text, path);
  const base = removeBlock(text, path).text;
  const before = parseToml(base, path);
  if (preToolUseGroups(before).some(isArdenGroup)) {
    throw new Error(
      `${path} already runs \`arden hook codex\` in a hook that \`arden hook install codex\` did not write; nothing was written. Remove that hook, or keep it and skip the install.`,
    );
  }
  const trimmed = base.replace(/\s+$/, '');
  const after = `${trimmed === '' ? '' : `${trimmed}\n\n`}${block(entry)}\n`;
  let parsed: Toml;
  try {
    parsed = parse(after) as Toml;
  } catch (error) {
    throw new Error(
      `${path} keeps its hooks in a form Arden cannot add to (${(error as Error).message.split('\n')[0]}); nothing was written. Add the hook by hand (docs/integrations/codex.md).`,
    );
  }
  const groups = preToolUseGroups(parsed);
  const added = groups[groups.length - 1];
  if (
    !isDeepStrictEqual(plain(added), { hooks: [entry] }) ||
    !isDeepStrictEqual(plain(withoutLastGroup(parsed)), plain(before))
  ) {
    throw new Error(
      `Could not add Arden's hook to ${path} safely; nothing was written. Add it by hand (docs/integrations/codex.md).`,
    );
  }
  return after;
}

/** The text of a Codex config without the hook `arden hook install codex` added. */
export function withoutArdenCodexHook(text: string, path: string): string {
  const { text: after, found } = removeBlock(text, path);
  if (!found) return text;
  parseToml(after, path);
  return after;
}

/** What an install or uninstall did. */
export interface CodexConfigChange {
  path: string;
  /** The backup of the file as it was, when there was one and it changed. */
  backup: string | undefined;
  changed: boolean;
  diff: string;
}

/**
 * Applies `change` to the Codex config at `path`: refuses a file that is not valid TOML (nothing
 * written), keeps a backup `<path>.arden-backup`, and removes a file that the uninstall leaves
 * empty. Also refuses to install next to a `hooks.json` of the same folder that already runs
 * `arden hook codex` (Codex loads both, so each call would be checked twice).
 */
export async function updateCodexConfig(
  path: string,
  change: (text: string) => string,
  installing: boolean,
): Promise<CodexConfigChange> {
  let before = '';
  try {
    before = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (installing) {
    const hooksJson = join(dirname(path), 'hooks.json');
    const json = await readFile(hooksJson, 'utf8').catch(() => '');
    // A command string in JSON: `"arden hook codex"`, `"… arden hook codex --max-wait 60"`.
    if (/["\s/]arden(\.js)?\s+hook\s+codex[\s"]/.test(json)) {
      throw new Error(
        `${hooksJson} already runs \`arden hook codex\`; nothing was written. Codex loads both files, so keep one: remove the hook from hooks.json, or skip the install.`,
      );
    }
  }
  const after = change(before);
  if (after === before) return { path, backup: undefined, changed: false, diff: '' };
  const empty = after.trim() === '';
  const backup = await writeWithBackup(path, before, empty ? null : after);
  return {
    path,
    backup,
    changed: true,
    diff: lineDiff(before.replace(/\n$/, ''), after.replace(/\n$/, '')),
  };
}
