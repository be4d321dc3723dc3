/**
 * `arden mcp install` and `arden mcp uninstall`: rewrite an MCP client's configuration so that
 * each of its stdio servers runs behind the gateway, keeping a backup and printing the diff; and
 * take them out again.
 */
import { existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import {
  type ClientConfig,
  type ClientName,
  clientConfig,
  clientScopes,
  type Scope,
  type Whereabouts,
} from './clients';
import { setTomlServerCommand, tomlServers } from './toml';
import { type GatewayCommand, isWrapped, type ServerEntry, unwrapEntry, wrapEntry } from './wrap';

/** Options of {@link installGateway} and {@link uninstallGateway}. */
export interface InstallOptions {
  client: ClientName;
  scope?: Scope;
  where: Whereabouts;
  gateway: GatewayCommand;
  /** Also write `ARDEN_API_KEY` (from `where.env`) into each server's `env`. Default false. */
  withKey?: boolean;
  /** Print what would change without writing. */
  dryRun?: boolean;
}

/** What an install or uninstall did. */
export interface InstallReport {
  config: ClientConfig;
  /** Servers changed, by configured name. */
  changed: string[];
  /** Servers left as they were, with the reason. */
  skipped: Array<{ name: string; reason: string }>;
  /** A line diff of the file (Arden keys redacted); empty when nothing changed. */
  diff: string;
  /** Where the original was kept (install) or what was restored from (uninstall). */
  backup: string | undefined;
  written: boolean;
}

/** The backup an install keeps beside the configuration: the file as it was before Arden. */
export function backupPath(config: ClientConfig): string {
  return `${config.path}.arden-backup`;
}

function readConfig(config: ClientConfig): string {
  if (!existsSync(config.path)) {
    throw new Error(
      `${config.path} does not exist: ${config.client} has no MCP servers configured there (${config.scope} scope).`,
    );
  }
  return readFileSync(config.path, 'utf8');
}

function parseJson(config: ClientConfig, text: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      `${config.path} is not plain JSON (${(error as Error).message}); files with comments are not rewritten — put the gateway in front of each server by hand (docs/integrations/mcp.md).`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The servers of `config` in a parsed JSON document (under its `within` keys), if any. */
function jsonServers(
  config: ClientConfig,
  document: Record<string, unknown> | undefined,
): Record<string, ServerEntry> | undefined {
  let holder: unknown = document;
  for (const key of config.within) holder = isObject(holder) ? holder[key] : undefined;
  const servers = isObject(holder) ? holder[config.serversKey] : undefined;
  return isObject(servers) ? (servers as Record<string, ServerEntry>) : undefined;
}

/** The servers configured in `config`'s file (none when it is missing or unreadable). */
function configuredServers(config: ClientConfig): Record<string, ServerEntry> {
  if (!existsSync(config.path)) return {};
  try {
    const text = readFileSync(config.path, 'utf8');
    if (config.format === 'toml') return tomlServers(text);
    return jsonServers(config, safeJson(text)) ?? {};
  } catch {
    return {};
  }
}

/**
 * The scopes `install` and `uninstall` rewrite: `scope` when given; else, for Claude Code, the
 * project's `.mcp.json` and the folder's local servers in `~/.claude.json` (`claude mcp add`'s
 * default), those of them that have servers (the project's when neither has); else the client's
 * usual scope.
 */
export function scopesToRewrite(
  client: ClientName,
  scope: Scope | undefined,
  where: Whereabouts,
): Scope[] {
  if (scope) return [scope];
  if (client !== 'claude-code') return [clientConfig(client, undefined, where).scope];
  const configured = (['project', 'local'] as const).filter(
    (candidate) =>
      Object.keys(configuredServers(clientConfig(client, candidate, where))).length > 0,
  );
  return configured.length > 0 ? configured : ['project'];
}

/** Servers of a client, in scopes other than those rewritten, that do not run behind the gateway. */
export interface Unchecked {
  config: ClientConfig;
  names: string[];
  /**
   * The parent folder whose configuration this is, when not the current folder's: Claude Code
   * may also load a parent folder's `.mcp.json` and local servers (reported either way).
   */
  folder?: string;
}

function uncheckedIn(config: ClientConfig, gateway: GatewayCommand): string[] {
  return Object.entries(configuredServers(config))
    .filter(([name, entry]) => wrapEntry(name, entry, gateway).kind === 'wrapped')
    .map(([name]) => name);
}

/**
 * The stdio servers `client` also loads from scopes other than `rewritten` that do not run behind
 * the gateway: what an install leaves unchecked, to be said rather than left silent. For Claude
 * Code, the project and local servers of the parent folders too.
 */
export function uncheckedElsewhere(
  client: ClientName,
  rewritten: readonly Scope[],
  where: Whereabouts,
  gateway: GatewayCommand,
): Unchecked[] {
  const found: Unchecked[] = [];
  for (const scope of clientScopes(client)) {
    if (rewritten.includes(scope)) continue;
    const config = clientConfig(client, scope, where);
    const names = uncheckedIn(config, gateway);
    if (names.length > 0) found.push({ config, names });
  }
  if (client === 'claude-code') {
    let folder = where.cwd;
    while (dirname(folder) !== folder) {
      folder = dirname(folder);
      for (const scope of ['project', 'local'] as const) {
        const config = clientConfig(client, scope, { ...where, cwd: folder });
        const names = uncheckedIn(config, gateway);
        if (names.length > 0) found.push({ config, names, folder });
      }
    }
  }
  return found;
}

function writeAtomically(path: string, text: string): void {
  const temporary = `${path}.arden-${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: statSync(path).mode & 0o777 });
  renameSync(temporary, path);
}

/** Puts every stdio server of a client's configuration behind the gateway. */
export function installGateway(options: InstallOptions): InstallReport {
  const config = clientConfig(options.client, options.scope, options.where);
  const before = readConfig(config);
  const changed: string[] = [];
  const skipped: InstallReport['skipped'] = [];
  let after = before;
  const env: Record<string, string> = {};
  if (options.where.env.ARDEN_API_URL) env.ARDEN_API_URL = options.where.env.ARDEN_API_URL;
  if (options.withKey) {
    const key = options.where.env.ARDEN_API_KEY;
    if (!key) throw new Error('--with-key needs ARDEN_API_KEY set in this shell.');
    env.ARDEN_API_KEY = key;
  }
  if (config.format === 'json') {
    const document = parseJson(config, before);
    const servers = jsonServers(config, document) ?? {};
    for (const [name, entry] of Object.entries(servers)) {
      const outcome = wrapEntry(name, entry, options.gateway);
      if (outcome.kind === 'skipped') {
        skipped.push({ name, reason: outcome.reason });
        continue;
      }
      const entryEnv = { ...((entry.env as Record<string, string> | undefined) ?? {}), ...env };
      servers[name] =
        Object.keys(entryEnv).length > 0 ? { ...outcome.entry, env: entryEnv } : outcome.entry;
      changed.push(name);
    }
    if (changed.length > 0) after = `${JSON.stringify(document, null, 2)}\n`;
  } else {
    for (const [name, entry] of Object.entries(tomlServers(before))) {
      const outcome = wrapEntry(name, entry, options.gateway);
      if (outcome.kind === 'skipped') {
        skipped.push({ name, reason: outcome.reason });
        continue;
      }
      after = setTomlServerCommand(
        after,
        name,
        outcome.entry.command as string,
        outcome.entry.args as string[],
      );
      changed.push(name);
    }
  }
  const backup = backupPath(config);
  const written = changed.length > 0 && !options.dryRun;
  if (written) {
    // The first install's backup is the file as it was before Arden: a later install keeps it.
    if (!existsSync(backup))
      writeFileSync(backup, before, { mode: statSync(config.path).mode & 0o777 });
    writeAtomically(config.path, after);
  }
  return {
    config,
    changed,
    skipped,
    diff: lineDiff(before, after),
    backup: written || existsSync(backup) ? backup : undefined,
    written,
  };
}

/** Takes every server of a client's configuration out from behind the gateway; deletes the backup. */
export function uninstallGateway(
  options: Omit<InstallOptions, 'gateway' | 'withKey'>,
): InstallReport {
  const config = clientConfig(options.client, options.scope, options.where);
  const before = readConfig(config);
  const backup = backupPath(config);
  const original = existsSync(backup) ? readFileSync(backup, 'utf8') : undefined;
  const changed: string[] = [];
  let after = before;
  if (config.format === 'json') {
    const document = parseJson(config, before);
    const originals = (original && jsonServers(config, safeJson(original))) || {};
    const servers = jsonServers(config, document) ?? {};
    for (const [name, entry] of Object.entries(servers)) {
      const unwrapped = unwrapEntry(entry, originals[name]);
      if (!unwrapped) continue;
      servers[name] = unwrapped;
      changed.push(name);
    }
    if (changed.length > 0) after = `${JSON.stringify(document, null, 2)}\n`;
    // Nothing edited since install: the backup is the exact original (formatting included).
    if (original !== undefined && after === normalizeJson(original)) after = original;
  } else {
    const originals = original ? tomlServers(original) : {};
    for (const [name, entry] of Object.entries(tomlServers(before))) {
      const unwrapped = unwrapEntry(entry, originals[name]);
      if (!unwrapped) continue;
      after = setTomlServerCommand(
        after,
        name,
        unwrapped.command as string,
        (unwrapped.args as string[] | undefined) ?? [],
      );
      changed.push(name);
    }
    // Nothing edited since install: the backup is the exact original (comments included). The
    // whole document must match, not only the servers: `arden hook install codex` writes its
    // `[hooks]` into the same file, and restoring a backup from before it would drop the hook.
    if (original !== undefined && changed.length > 0 && sameDocument(after, original))
      after = original;
  }
  const written = changed.length > 0 && !options.dryRun;
  if (written) writeAtomically(config.path, after);
  // Claude Code's user and local servers share `~/.claude.json` and its backup: it stays while a
  // server of the other scope still runs behind the gateway.
  if (!options.dryRun && original !== undefined && !wrappedInOtherScope(config, after, options))
    unlinkSync(backup);
  return {
    config,
    changed,
    skipped: [],
    diff: lineDiff(before, after),
    backup: original === undefined ? undefined : backup,
    written,
  };
}

function wrappedInOtherScope(
  config: ClientConfig,
  text: string,
  options: Omit<InstallOptions, 'gateway' | 'withKey'>,
): boolean {
  if (config.format !== 'json') return false;
  const document = safeJson(text);
  return clientScopes(config.client).some((scope) => {
    if (scope === config.scope) return false;
    const other = clientConfig(config.client, scope, options.where);
    if (other.path !== config.path) return false;
    return Object.values(jsonServers(other, document) ?? {}).some(
      (entry) => isObject(entry) && isWrapped(entry),
    );
  });
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function normalizeJson(text: string): string | undefined {
  const parsed = safeJson(text);
  return parsed === undefined ? undefined : `${JSON.stringify(parsed, null, 2)}\n`;
}

function sameDocument(left: string, right: string): boolean {
  try {
    return JSON.stringify(parseToml(left)) === JSON.stringify(parseToml(right));
  } catch {
    return false;
  }
}

const secret = /arden_(live|test)_[0-9A-Za-z]+/g;

/** A line diff of two texts (`-` removed, `+` added, two lines of context), Arden keys redacted. */
export function lineDiff(before: string, after: string): string {
  if (before === after) return '';
  const left = before.split('\n');
  const right = after.split('\n');
  let prefix = 0;
  while (prefix < left.length && prefix < right.length && left[prefix] === right[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < left.length - prefix &&
    suffix < right.length - prefix &&
    left[left.length - 1 - suffix] === right[right.length - 1 - suffix]
  ) {
    suffix++;
  }
  const removed = left.slice(prefix, left.length - suffix);
  const added = right.slice(prefix, right.length - suffix);
  const common = lcs(removed, added);
  const out: string[] = [`@@ line ${prefix + 1} @@`];
  for (const line of left.slice(Math.max(0, prefix - 2), prefix)) out.push(`  ${line}`);
  let i = 0;
  let j = 0;
  for (const [ci, cj] of [...common, [removed.length, added.length] as const]) {
    while (i < ci) out.push(`- ${removed[i++]}`);
    while (j < cj) out.push(`+ ${added[j++]}`);
    if (i < removed.length && j < added.length) out.push(`  ${removed[i]}`);
    i++;
    j++;
  }
  for (const line of left.slice(left.length - suffix, left.length - suffix + 2))
    out.push(`  ${line}`);
  return `${out.join('\n').replace(secret, 'arden_$1_<redacted>')}\n`;
}

/** Index pairs of a longest common subsequence of two line lists (small inputs: the changed middle). */
function lcs(left: string[], right: string[]): Array<readonly [number, number]> {
  if (left.length * right.length > 4_000_000) return [];
  const table = Array.from({ length: left.length + 1 }, () => new Uint32Array(right.length + 1));
  for (let i = left.length - 1; i >= 0; i--) {
    for (let j = right.length - 1; j >= 0; j--) {
      (table[i] as Uint32Array)[j] =
        left[i] === right[j]
          ? ((table[i + 1] as Uint32Array)[j + 1] as number) + 1
          : Math.max(
              (table[i + 1] as Uint32Array)[j] as number,
              (table[i] as Uint32Array)[j + 1] as number,
            );
    }
  }
  const pairs: Array<readonly [number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    if (left[i] === right[j]) {
      pairs.push([i, j]);
      i++;
      j++;
    } else if (
      ((table[i + 1] as Uint32Array)[j] as number) >= ((table[i] as Uint32Array)[j + 1] as number)
    )
      i++;
    else j++;
  }
  return pairs;
}
