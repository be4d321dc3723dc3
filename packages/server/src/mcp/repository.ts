import type { Environment } from '../crypto';
import type { Queryable, Row } from '../store/database';
import { parseJson } from '../store/json';
import { int, text } from '../store/rows';

// MCP upstreams: rows of `mcp_upstreams`.

/** One tool of an upstream's `tools/list`, as the gateway reported it. */
export interface McpToolRecord {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  annotations?: Record<string, unknown>;
}

/** An MCP upstream of one agent and environment. */
export interface McpUpstreamRecord {
  id: string;
  agentId: string;
  environment: Environment;
  name: string;
  /** Its tools' annotations may relax rules (an admin said so); untrusted hints only tighten. */
  trusted: boolean;
  trustedBy: string | null;
  /** How the gateway reached it (`stdio`, `http`), when a gateway reported it. */
  transport: string | null;
  tools: McpToolRecord[];
  toolCount: number;
  toolsReportedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

function toUpstream(row: Row, withTools: boolean): McpUpstreamRecord {
  return {
    id: String(row.id),
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    name: String(row.name),
    trusted: Number(row.trusted) === 1,
    trustedBy: text(row.trusted_by),
    transport: text(row.transport),
    tools: withTools ? parseJson<McpToolRecord[]>(row.tools, []) : [],
    toolCount: Number(row.tool_count),
    toolsReportedAt: int(row.tools_reported_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const listColumns =
  'id, agent_id, environment, name, trusted, trusted_by, transport, tool_count, tools_reported_at, created_at, updated_at';

/** MCP upstreams per agent and environment. */
export function mcpUpstreamRepository(db: Queryable) {
  return {
    /** Every upstream, newest report first; without their tool lists. */
    async list(filter: {
      agentId?: string;
      environment?: Environment;
    }): Promise<McpUpstreamRecord[]> {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.agentId !== undefined) {
        where.push('agent_id = ?');
        params.push(filter.agentId);
      }
      if (filter.environment !== undefined) {
        where.push('environment = ?');
        params.push(filter.environment);
      }
      const rows = await db.all(
        `SELECT ${listColumns} FROM mcp_upstreams ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at DESC, name LIMIT 1000`,
        params,
      );
      return rows.map((row) => toUpstream(row, false));
    },
    async get(id: string): Promise<McpUpstreamRecord | undefined> {
      const row = await db.get('SELECT * FROM mcp_upstreams WHERE id = ?', [id]);
      return row ? toUpstream(row, true) : undefined;
    },
    async byName(
      agentId: string,
      environment: Environment,
      name: string,
    ): Promise<McpUpstreamRecord | undefined> {
      const row = await db.get(
        'SELECT * FROM mcp_upstreams WHERE agent_id = ? AND environment = ? AND name = ?',
        [agentId, environment, name],
      );
      return row ? toUpstream(row, true) : undefined;
    },
    /** The named upstream without its tool list (what the list and the live events carry). */
    async summary(
      agentId: string,
      environment: Environment,
      name: string,
    ): Promise<McpUpstreamRecord | undefined> {
      const row = await db.get(
        `SELECT ${listColumns} FROM mcp_upstreams WHERE agent_id = ? AND environment = ? AND name = ?`,
        [agentId, environment, name],
      );
      return row ? toUpstream(row, false) : undefined;
    },
    /** Whether the named upstream is trusted (false when Arden does not know it). */
    async isTrusted(agentId: string, environment: Environment, name: string): Promise<boolean> {
      const row = await db.get<{ trusted: number }>(
        'SELECT trusted FROM mcp_upstreams WHERE agent_id = ? AND environment = ? AND name = ?',
        [agentId, environment, name],
      );
      return Number(row?.trusted ?? 0) === 1;
    },
    /** Records a reported tool list (creating the upstream, untrusted, on its first report). */
    async recordTools(upstream: {
      id: string;
      agentId: string;
      environment: Environment;
      name: string;
      transport: string | null;
      tools: McpToolRecord[];
      now: number;
    }): Promise<void> {
      const tools = JSON.stringify(upstream.tools);
      await db.run(
        `INSERT INTO mcp_upstreams (id, agent_id, environment, name, trusted, transport, tools,
           tool_count, tools_reported_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, environment, name) DO UPDATE SET
           transport = excluded.transport, tools = excluded.tools, tool_count = excluded.tool_count,
           tools_reported_at = excluded.tools_reported_at, updated_at = excluded.updated_at`,
        [
          upstream.id,
          upstream.agentId,
          upstream.environment,
          upstream.name,
          upstream.transport,
          tools,
          upstream.tools.length,
          upstream.now,
          upstream.now,
          upstream.now,
        ],
      );
    },
    /** Sets the trust of an upstream, creating it (without tools) when Arden has not seen it. */
    async setTrusted(upstream: {
      id: string;
      agentId: string;
      environment: Environment;
      name: string;
      trusted: boolean;
      by: string | null;
      now: number;
    }): Promise<void> {
      await db.run(
        `INSERT INTO mcp_upstreams (id, agent_id, environment, name, trusted, trusted_by,
           created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, environment, name) DO UPDATE SET
           trusted = excluded.trusted, trusted_by = excluded.trusted_by,
           updated_at = excluded.updated_at`,
        [
          upstream.id,
          upstream.agentId,
          upstream.environment,
          upstream.name,
          upstream.trusted ? 1 : 0,
          upstream.trusted ? upstream.by : null,
          upstream.now,
          upstream.now,
        ],
      );
    },
    async delete(id: string): Promise<boolean> {
      const result = await db.run('DELETE FROM mcp_upstreams WHERE id = ?', [id]);
      return result.changes > 0;
    },
  };
}
