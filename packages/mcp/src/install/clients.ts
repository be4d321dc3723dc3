/**
 * Where each MCP client keeps its MCP servers, and in what format: the files `arden mcp install`
 * rewrites. Paths follow each client's documentation (Claude Code `.mcp.json`, `~/.claude.json` for
 * the user's servers and, under `projects["<folder>"]`, for the local servers `claude mcp add` adds by default,
 * Claude Desktop `claude_desktop_config.json`, Cursor `.cursor/mcp.json`, VS Code `.vscode/mcp.json`
 * under `servers`, Codex `~/.codex/config.toml` or a project's `.codex/config.toml` — read only
 * once the project is trusted — under `[mcp_servers.NAME]`).
 */
import { join } from 'node:path';

/** The MCP clients `arden mcp install` knows. */
export const clientNames = ['claude-code', 'claude-desktop', 'cursor', 'vscode', 'codex'] as const;

/** One of {@link clientNames}. */
export type ClientName = (typeof clientNames)[number];

/**
 * A project's configuration (in the current folder), the user's, or — Claude Code only — the
 * user's configuration for the current folder alone (`claude mcp add --scope local`, its default).
 */
export type Scope = 'project' | 'user' | 'local';

/** The scopes, in the order the CLI names them. */
export const scopes: readonly Scope[] = ['project', 'local', 'user'];

/** What locates the files: the home folder, the current folder, the platform and its variables. */
export interface Whereabouts {
  home: string;
  cwd: string;
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
}

/** One client's configuration file. */
export interface ClientConfig {
  client: ClientName;
  scope: Scope;
  path: string;
  format: 'json' | 'toml';
  /** The key that holds the servers, by name. */
  serversKey: 'mcpServers' | 'servers' | 'mcp_servers';
  /**
   * The keys of the object that holds `serversKey`, from the document's top (empty: the top
   * itself). Claude Code's local scope: `['projects', '<the current folder>']`.
   */
  within: string[];
}

interface ClientFacts {
  format: 'json' | 'toml';
  serversKey: ClientConfig['serversKey'];
  defaultScope: Scope;
  paths: Partial<Record<Scope, (where: Whereabouts) => string>>;
  within?: Partial<Record<Scope, (where: Whereabouts) => string[]>>;
}

function applicationData(where: Whereabouts, ...parts: string[]): string {
  if (where.platform === 'darwin')
    return join(where.home, 'Library', 'Application Support', ...parts);
  if (where.platform === 'win32') {
    return join(where.env.APPDATA ?? join(where.home, 'AppData', 'Roaming'), ...parts);
  }
  return join(where.env.XDG_CONFIG_HOME ?? join(where.home, '.config'), ...parts);
}

const facts: Record<ClientName, ClientFacts> = {
  'claude-code': {
    format: 'json',
    serversKey: 'mcpServers',
    defaultScope: 'project',
    paths: {
      project: (where) => join(where.cwd, '.mcp.json'),
      // `claude mcp add` without `--scope` writes here, under the folder's absolute path.
      local: (where) => join(where.home, '.claude.json'),
      user: (where) => join(where.home, '.claude.json'),
    },
    within: { local: (where) => ['projects', where.cwd] },
  },
  'claude-desktop': {
    format: 'json',
    serversKey: 'mcpServers',
    defaultScope: 'user',
    paths: { user: (where) => applicationData(where, 'Claude', 'claude_desktop_config.json') },
  },
  cursor: {
    format: 'json',
    serversKey: 'mcpServers',
    defaultScope: 'project',
    paths: {
      project: (where) => join(where.cwd, '.cursor', 'mcp.json'),
      user: (where) => join(where.home, '.cursor', 'mcp.json'),
    },
  },
  vscode: {
    format: 'json',
    serversKey: 'servers',
    defaultScope: 'project',
    paths: {
      project: (where) => join(where.cwd, '.vscode', 'mcp.json'),
      user: (where) => applicationData(where, 'Code', 'User', 'mcp.json'),
    },
  },
  codex: {
    format: 'toml',
    serversKey: 'mcp_servers',
    defaultScope: 'user',
    paths: {
      // Codex reads a repository's `.codex/config.toml` only in a project the user trusts.
      project: (where) => join(where.cwd, '.codex', 'config.toml'),
      user: (where) => join(where.env.CODEX_HOME ?? join(where.home, '.codex'), 'config.toml'),
    },
  },
};

/**
 * The configuration file of `client` in `scope` (default: the client's usual one — the project's
 * for Claude Code, Cursor and VS Code, the user's for Claude Desktop and Codex). Throws an Error
 * saying which scopes exist when the client has no file in that scope.
 */
export function clientConfig(
  client: ClientName,
  scope: Scope | undefined,
  where: Whereabouts,
): ClientConfig {
  const known = facts[client];
  const chosen = scope ?? known.defaultScope;
  const path = known.paths[chosen];
  if (!path) {
    const scopes = Object.keys(known.paths).map((name) => `--${name}`);
    throw new Error(`${client} has no ${chosen} MCP configuration; use ${scopes.join(' or ')}.`);
  }
  return {
    client,
    scope: chosen,
    path: path(where),
    format: known.format,
    serversKey: known.serversKey,
    within: known.within?.[chosen]?.(where) ?? [],
  };
}

/** The scopes in which `client` has a configuration file. */
export function clientScopes(client: ClientName): Scope[] {
  return scopes.filter((scope) => facts[client].paths[scope] !== undefined);
}
