import type { SecretBox } from '../channels/secrets';
import type { ResolvedConfig } from '../config';
import type { ServerContext } from '../context';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import type { LiveEvents } from '../events/service';
import { uuidv7 } from '../ids';
import type { Queryable, Row } from '../store/database';
import { parseJson } from '../store/json';
import { text } from '../store/rows';
import { checkWebhookUrl, ForbiddenWebhookAddressError } from '../webhooks/ssrf';

// Remote MCP servers for the Streamable HTTP gateway (`/mcp/<name>`): rows of
// `mcp_http_upstreams`. The URL and the headers (credentials) are sealed with the server's
// secrets key — the channels' `SecretBox`, one key for every secret at rest — and never shown
// again: views carry the URL's origin and the header names only.

/** An HTTP upstream as views show it (no secret in it). */
export interface McpHttpUpstreamRecord {
  id: string;
  name: string;
  /** `https://mcp.example.com`: the URL without path, query or credentials. */
  origin: string;
  /** The names of the headers sent to it (their values are secret). */
  headerNames: string[];
  /** Keep in `tools/list` the tools a policy blocks for every call (default false: hidden). */
  showBlockedTools: boolean;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What the gateway needs to reach an upstream: its URL and headers, unsealed. */
export interface McpHttpUpstreamTarget extends McpHttpUpstreamRecord {
  url: string;
  headers: Record<string, string>;
}

/** What an admin registers. */
export interface NewMcpHttpUpstream {
  name: string;
  url: string;
  headers?: Record<string, string>;
  bearerToken?: string;
  showBlockedTools?: boolean;
}

function toRecord(row: Row): McpHttpUpstreamRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    origin: String(row.origin),
    headerNames: parseJson<string[]>(row.header_names, []),
    showBlockedTools: Number(row.show_blocked_tools) === 1,
    createdBy: text(row.created_by),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const columns =
  'id, name, origin, header_names, show_blocked_tools, created_by, created_at, updated_at';

/** Headers the gateway sets itself (or HTTP forbids a caller to set). */
const reservedHeaders = new Set([
  'accept',
  'connection',
  'content-length',
  'content-type',
  'host',
  'last-event-id',
  'mcp-protocol-version',
  'mcp-session-id',
  'transfer-encoding',
]);
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

/** Registered HTTP upstreams: admin CRUD and the gateway's lookup (unsealed). */
export class McpHttpUpstreams {
  private box: SecretBox | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly config: ResolvedConfig,
    private readonly secrets: () => SecretBox,
    private readonly clock: () => number,
    private readonly events?: LiveEvents,
  ) {}

  private sealer(): SecretBox {
    this.box ??= this.secrets();
    return this.box;
  }

  async list(): Promise<McpHttpUpstreamRecord[]> {
    const rows = await this.db.all(
      `SELECT ${columns} FROM mcp_http_upstreams ORDER BY name LIMIT 1000`,
    );
    return rows.map(toRecord);
  }

  /** By id or by name; `NotFoundError` otherwise. */
  async get(idOrName: string): Promise<McpHttpUpstreamRecord> {
    const row = await this.db.get(
      `SELECT ${columns} FROM mcp_http_upstreams WHERE id = ? OR name = ?`,
      [idOrName, idOrName],
    );
    if (!row) {
      throw new NotFoundError(
        `No MCP HTTP upstream ${idOrName.slice(0, 100)}. List them with GET /api/v1/mcp/http-upstreams (or \`arden mcp upstreams list\`).`,
      );
    }
    return toRecord(row);
  }

  /** The upstream behind `/mcp/<name>` with its URL and headers, or undefined. */
  async target(name: string): Promise<McpHttpUpstreamTarget | undefined> {
    const row = await this.db.get(
      `SELECT ${columns}, secrets FROM mcp_http_upstreams WHERE name = ?`,
      [name],
    );
    if (!row) return undefined;
    const sealed = this.sealer().open(String(row.secrets));
    const { url = '', ...headers } = sealed;
    return { ...toRecord(row), url, headers: JSON.parse(headers.headers ?? '{}') };
  }

  /** Registers an upstream: checks its URL against the address policy, seals URL and headers. */
  async create(input: NewMcpHttpUpstream, by: string | null): Promise<McpHttpUpstreamRecord> {
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new ValidationError(
        'url is not a URL: give the MCP endpoint, like https://mcp.example.com/mcp.',
        'url',
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ValidationError('url must be http:// or https:// (Streamable HTTP).', 'url');
    }
    await checkUpstreamUrl(url.href, this.config);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(input.headers ?? {})) {
      if (!headerName.test(name) || reservedHeaders.has(name.toLowerCase())) {
        throw new ValidationError(
          `The header ${JSON.stringify(name.slice(0, 100))} cannot be set: use a valid header name other than ${[...reservedHeaders].join(', ')} (the gateway sets those).`,
          'headers',
        );
      }
      if (/[\r\n\0]/.test(value)) {
        throw new ValidationError(`The value of the header ${name} holds a line break.`, 'headers');
      }
      headers[name] = value;
    }
    if (input.bearerToken !== undefined) {
      if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
        throw new ValidationError(
          'Give bearer_token or an Authorization header, not both.',
          'bearer_token',
        );
      }
      if (/[\r\n\0]/.test(input.bearerToken)) {
        throw new ValidationError('bearer_token holds a line break.', 'bearer_token');
      }
      headers.Authorization = `Bearer ${input.bearerToken}`;
    }
    const now = this.clock();
    const id = uuidv7(now);
    const sealed = this.sealer().seal({ url: url.href, headers: JSON.stringify(headers) });
    const origin = url.origin;
    try {
      await this.db.run(
        `INSERT INTO mcp_http_upstreams (id, name, origin, header_names, show_blocked_tools, secrets, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          input.name,
          origin,
          JSON.stringify(Object.keys(headers)),
          input.showBlockedTools ? 1 : 0,
          sealed,
          by,
          now,
          now,
        ],
      );
    } catch (error) {
      if (/unique|duplicate/i.test(String((error as Error).message))) {
        throw new ConflictError(
          `An MCP HTTP upstream named ${input.name} exists. Remove it first (DELETE /api/v1/mcp/http-upstreams/${input.name}) to register it again.`,
        );
      }
      throw error;
    }
    const created = await this.get(id);
    // After the insert (one statement: committed). The record holds no secret.
    this.events?.emit({ type: 'mcp.http_upstream_added', httpUpstream: created });
    return created;
  }

  /** Changes an upstream's settings (not its URL or credentials); new sessions use them. */
  async update(
    idOrName: string,
    change: { showBlockedTools?: boolean },
  ): Promise<McpHttpUpstreamRecord> {
    const upstream = await this.get(idOrName);
    if (change.showBlockedTools === undefined) return upstream;
    await this.db.run(
      'UPDATE mcp_http_upstreams SET show_blocked_tools = ?, updated_at = ? WHERE id = ?',
      [change.showBlockedTools ? 1 : 0, this.clock(), upstream.id],
    );
    const changed = await this.get(upstream.id);
    // After the write (one statement: committed). The record holds no secret.
    this.events?.emit({ type: 'mcp.http_upstream_changed', httpUpstream: changed });
    return changed;
  }

  async delete(idOrName: string): Promise<void> {
    const upstream = await this.get(idOrName);
    const result = await this.db.run('DELETE FROM mcp_http_upstreams WHERE id = ?', [upstream.id]);
    // Removed by someone else in between: that removal told the dashboards already.
    if (result.changes > 0) {
      this.events?.emit({ type: 'mcp.http_upstream_removed', httpUpstream: upstream });
    }
  }
}

/**
 * The upstream URL is set by an admin, but the server must still not be turned into a way into
 * its own network: the webhooks' address policy applies (public addresses only unless
 * `ARDEN_WEBHOOK_ALLOW_PRIVATE=1` or the host is in `ARDEN_WEBHOOK_ALLOWED_HOSTS`).
 */
export async function checkUpstreamUrl(url: string, config: ResolvedConfig): Promise<void> {
  try {
    await checkWebhookUrl(url, config.webhooks);
  } catch (error) {
    if (error instanceof ForbiddenWebhookAddressError) {
      throw new ValidationError(
        `MCP upstreams follow the webhooks' address policy, and ${error.message.replace(/^webhooks may not be sent to /, 'may not be reached at ')}`,
        'url',
      );
    }
    throw error;
  }
}

// By router: a server object and its context (the admin API's) share it.
const registries = new WeakMap<object, McpHttpUpstreams>();

/** The HTTP upstreams of a server (one registry per server, sealed with the channels' key). */
export function httpUpstreamsOf(server: ServerContext): McpHttpUpstreams {
  let registry = registries.get(server.router);
  if (!registry) {
    registry = new McpHttpUpstreams(
      server.store.database,
      server.config,
      () => server.channels.secrets,
      server.clock,
      server.events,
    );
    registries.set(server.router, registry);
  }
  return registry;
}
