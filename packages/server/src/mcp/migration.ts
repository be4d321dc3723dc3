import type { Dialect } from '../store/database';

/**
 * The MCP upstreams Arden has seen (a gateway reported its `tools/list`) or an admin added: per
 * agent and environment, by server name, with the last tool list and whether its annotations
 * are trusted.
 */
export function mcpUpstreamsSchema(dialect: Dialect): string[] {
  const time = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const ifNotExists = dialect === 'postgres' ? 'IF NOT EXISTS ' : '';
  return [
    `CREATE TABLE ${ifNotExists}mcp_upstreams (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  environment TEXT NOT NULL,
  name TEXT NOT NULL,
  trusted INTEGER NOT NULL DEFAULT 0,
  transport TEXT,
  tools TEXT NOT NULL DEFAULT '[]',
  tool_count INTEGER NOT NULL DEFAULT 0,
  tools_reported_at ${time},
  trusted_by TEXT,
  created_at ${time} NOT NULL,
  updated_at ${time} NOT NULL,
  UNIQUE (agent_id, environment, name)
)`,
  ];
}

/**
 * Per HTTP upstream: keep in `tools/list` the tools a policy blocks for every call (the stdio
 * gateway's `--show-blocked-tools`). Default off: they are hidden.
 */
export function mcpHttpShowBlockedToolsSchema(_dialect: Dialect): string[] {
  return [
    'ALTER TABLE mcp_http_upstreams ADD COLUMN show_blocked_tools INTEGER NOT NULL DEFAULT 0',
  ];
}

/**
 * The remote MCP servers an admin registered for the Streamable HTTP gateway (`/mcp/<name>`):
 * the URL and the headers sent to it (credentials) are sealed with the server's secrets key
 * (`secrets`); only the URL's origin and the header names are kept readable.
 */
export function mcpHttpUpstreamsSchema(dialect: Dialect): string[] {
  const time = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const ifNotExists = dialect === 'postgres' ? 'IF NOT EXISTS ' : '';
  return [
    `CREATE TABLE ${ifNotExists}mcp_http_upstreams (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  origin TEXT NOT NULL,
  header_names TEXT NOT NULL DEFAULT '[]',
  secrets TEXT NOT NULL,
  created_by TEXT,
  created_at ${time} NOT NULL,
  updated_at ${time} NOT NULL
)`,
  ];
}
