/**
 * Putting one configured MCP server behind the gateway, and taking it out again: the server's
 * command and arguments move after `--` in the gateway's arguments, everything else of the entry
 * stays as it was.
 */
import { isValidMcpServerName } from '@arden/core';

/** How the gateway is started from a client's configuration. */
export interface GatewayCommand {
  command: string;
  /** The arguments before `run` (for `npx`: `-y @arden/mcp@VERSION`). */
  args: string[];
}

/** A server entry as the clients write it (only what the gateway reads; the rest is kept). */
export interface ServerEntry {
  command?: unknown;
  args?: unknown;
  type?: unknown;
  url?: unknown;
  [key: string]: unknown;
}

/** The outcome for one configured server. */
export type WrapOutcome =
  | { kind: 'wrapped'; entry: ServerEntry; ardenName: string }
  | { kind: 'skipped'; reason: string };

/** The gateway command for this version: `npx -y @arden/mcp@VERSION` (unpinned for a development build). */
export function defaultGatewayCommand(version: string): GatewayCommand {
  const pinned =
    /^\d+\.\d+\.\d+/.test(version) && version !== '0.0.0' ? `@arden/mcp@${version}` : '@arden/mcp';
  return { command: 'npx', args: ['-y', pinned] };
}

/** The server's name in Arden: its configured name, with anything but letters, digits, `_` and `-` made `-`. */
export function ardenServerName(configured: string): string {
  const name = configured.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'server';
  return isValidMcpServerName(name) ? name : 'server';
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
    ? value
    : undefined;
}

/** Whether an entry already runs behind the gateway. */
export function isWrapped(entry: ServerEntry): boolean {
  const args = stringList(entry.args) ?? [];
  const viaGateway =
    entry.command === 'arden-mcp' ||
    args.some((arg) => arg === '@arden/mcp' || arg.startsWith('@arden/mcp@'));
  return viaGateway && args.includes('run') && args.includes('--');
}

/** `entry` behind the gateway, or why it is left as it is (not a stdio server, already wrapped). */
export function wrapEntry(name: string, entry: ServerEntry, gateway: GatewayCommand): WrapOutcome {
  if (typeof entry !== 'object' || entry === null)
    return { kind: 'skipped', reason: 'not an object' };
  if (isWrapped(entry)) return { kind: 'skipped', reason: 'already behind the Arden gateway' };
  if (typeof entry.command !== 'string' || entry.command === '') {
    return {
      kind: 'skipped',
      reason:
        entry.url !== undefined
          ? 'a remote (HTTP) server: the stdio gateway cannot front it'
          : 'no command (not a stdio server)',
    };
  }
  if (entry.type !== undefined && entry.type !== 'stdio') {
    return {
      kind: 'skipped',
      reason: `type ${String(entry.type)}: only stdio servers run behind the gateway`,
    };
  }
  const args = entry.args === undefined ? [] : stringList(entry.args);
  if (!args) return { kind: 'skipped', reason: 'args is not a list of strings' };
  const ardenName = ardenServerName(name);
  return {
    kind: 'wrapped',
    ardenName,
    entry: {
      ...entry,
      command: gateway.command,
      args: [...gateway.args, 'run', '--name', ardenName, '--', entry.command, ...args],
    },
  };
}

/**
 * `entry` without the gateway: the command and arguments after `--`. `original` is the entry as it
 * was before install (from the backup), used as is when its command and arguments are those.
 */
export function unwrapEntry(
  entry: ServerEntry,
  original: ServerEntry | undefined,
): ServerEntry | undefined {
  if (!isWrapped(entry)) return undefined;
  const args = stringList(entry.args) ?? [];
  const separator = args.indexOf('--');
  const [command, ...rest] = args.slice(separator + 1);
  if (command === undefined) return undefined;
  if (
    original &&
    original.command === command &&
    JSON.stringify(stringList(original.args) ?? []) === JSON.stringify(rest)
  ) {
    return { ...entry, command, args: original.args, ...pickEnv(original) };
  }
  const unwrapped: ServerEntry = { ...entry, command, args: rest };
  const env = unwrapped.env as Record<string, unknown> | undefined;
  if (env && typeof env === 'object') {
    const { ARDEN_API_KEY: _key, ARDEN_API_URL: _url, ...kept } = env;
    if (Object.keys(kept).length === 0) delete unwrapped.env;
    else unwrapped.env = kept;
  }
  return unwrapped;
}

function pickEnv(original: ServerEntry): ServerEntry {
  return 'env' in original ? { env: original.env } : { env: undefined };
}
