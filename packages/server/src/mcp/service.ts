import { alwaysBlocks, matchPolicy } from '@arden/policy';
import type { Environment } from '../crypto';
import { NotFoundError } from '../errors';
import type { LiveEvents } from '../events/service';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { PolicyService } from '../policies/service';
import type { Store } from '../store';
import type { McpToolRecord, McpUpstreamRecord } from './repository';

/** MCP's hints, each at the value that lets a rule relax least (the spec's defaults). */
const cautiousHints = Object.freeze({
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
});

/** How long a replica trusts its cached copy of an upstream's trust (changes here apply at once). */
const trustTtlMs = 5_000;

/** What a gateway reports: an upstream's tool list. */
export interface ToolsReport {
  server: string;
  transport?: 'stdio' | 'http';
  tools: {
    name: string;
    title?: string;
    description?: string;
    input_schema?: unknown;
    annotations?: Record<string, unknown>;
  }[];
}

/** A tool of an upstream with the policy that governs it. */
export interface GovernedTool extends McpToolRecord {
  ardenTool: string;
  policy: { name: string; tool: string; alwaysBlocks: boolean } | undefined;
}

/**
 * MCP upstreams: the tool lists gateways report (and which tools to hide because a policy
 * blocks every call of them), and whether an upstream's annotations are trusted. An untrusted
 * upstream's — or an unknown one's — hints are read at their most cautious on every check, so
 * that a server cannot relax a rule by calling its own tools read-only.
 */
export class McpService {
  private readonly trust = new Map<string, { trusted: boolean; at: number }>();

  constructor(
    private readonly store: Store,
    private readonly policies: PolicyService,
    private readonly clock: () => number,
    private readonly live?: { events: LiveEvents; logger: Logger },
  ) {}

  /**
   * Tells the dashboards that a gateway reported an upstream's tools (after the write, which is
   * one statement: committed). Reads the upstream back only when someone watches; a failed read
   * is logged, not thrown — the report itself is recorded.
   */
  private async emitReported(
    agentId: string,
    environment: Environment,
    name: string,
  ): Promise<void> {
    if (this.live === undefined || !this.live.events.wants('mcp.tools_reported')) return;
    try {
      const upstream = await this.store.mcpUpstreams.summary(agentId, environment, name);
      if (upstream !== undefined) this.live.events.emit({ type: 'mcp.tools_reported', upstream });
    } catch (error) {
      this.live.logger.warn('Could not read an MCP upstream for the live events', { error });
    }
  }

  private key(agentId: string, environment: Environment, name: string): string {
    return `${agentId}\u0000${environment}\u0000${name}`;
  }

  /** Records a gateway's report and answers which tools a policy blocks for every call. */
  async reportTools(
    agentId: string,
    environment: Environment,
    report: ToolsReport,
  ): Promise<{ trusted: boolean; hidden: { name: string; policy: string }[] }> {
    const now = this.clock();
    const tools: McpToolRecord[] = report.tools.map((tool) => ({
      name: tool.name,
      ...(tool.title === undefined ? {} : { title: tool.title }),
      ...(tool.description === undefined ? {} : { description: tool.description }),
      ...(tool.input_schema === undefined ? {} : { inputSchema: tool.input_schema }),
      ...(tool.annotations === undefined ? {} : { annotations: tool.annotations }),
    }));
    await this.store.mcpUpstreams.recordTools({
      id: uuidv7(now),
      agentId,
      environment,
      name: report.server,
      transport: report.transport ?? null,
      tools,
      now,
    });
    await this.emitReported(agentId, environment, report.server);
    const { set } = await this.policies.compiled(agentId, environment);
    const hidden: { name: string; policy: string }[] = [];
    if (set !== undefined) {
      for (const tool of tools) {
        const policy = alwaysBlocks(set, `mcp.${report.server}.${tool.name}`);
        if (policy !== undefined) hidden.push({ name: tool.name, policy: policy.name });
      }
    }
    return { trusted: await this.isTrusted(agentId, environment, report.server), hidden };
  }

  /** Whether an upstream is trusted (cached for a few seconds per replica). */
  async isTrusted(agentId: string, environment: Environment, name: string): Promise<boolean> {
    const key = this.key(agentId, environment, name);
    const cached = this.trust.get(key);
    const now = this.clock();
    if (cached !== undefined && now - cached.at < trustTtlMs) return cached.trusted;
    const trusted = await this.store.mcpUpstreams.isTrusted(agentId, environment, name);
    if (this.trust.size > 10_000) this.trust.clear();
    this.trust.set(key, { trusted, at: now });
    return trusted;
  }

  /**
   * The `mcp` input of a check: `metadata.mcp` as sent, except that for a tool of an untrusted
   * (or unknown) upstream every hint is set to its most cautious value, whatever the caller sent.
   * Non-MCP tools pass `metadata.mcp` through untouched (the engine decides what it means).
   */
  async checkInput(
    agentId: string,
    environment: Environment,
    tool: string,
    mcp: unknown,
  ): Promise<unknown> {
    if (!tool.startsWith('mcp.')) return mcp;
    const dot = tool.indexOf('.', 4);
    if (dot <= 4) return mcp;
    const server = tool.slice(4, dot);
    if (await this.isTrusted(agentId, environment, server)) return mcp;
    const sent = mcp !== null && typeof mcp === 'object' ? (mcp as Record<string, unknown>) : {};
    const annotations =
      sent.annotations !== null && typeof sent.annotations === 'object'
        ? (sent.annotations as Record<string, unknown>)
        : {};
    return {
      ...sent,
      annotations: {
        ...(typeof annotations.title === 'string' ? { title: annotations.title } : {}),
        ...cautiousHints,
      },
    };
  }

  list(filter: { agentId?: string; environment?: Environment }): Promise<McpUpstreamRecord[]> {
    return this.store.mcpUpstreams.list(filter);
  }

  async get(id: string): Promise<{ upstream: McpUpstreamRecord; tools: GovernedTool[] }> {
    const upstream = await this.store.mcpUpstreams.get(id);
    if (upstream === undefined) {
      throw new NotFoundError(
        `No MCP upstream "${id.slice(0, 80)}". List them with GET /api/v1/mcp/upstreams.`,
      );
    }
    const { set } = await this.policies.compiled(upstream.agentId, upstream.environment);
    const tools = upstream.tools.map((tool): GovernedTool => {
      const ardenTool = `mcp.${upstream.name}.${tool.name}`;
      const policy = set === undefined ? undefined : matchPolicy(set, ardenTool);
      return {
        ...tool,
        ardenTool,
        policy:
          policy === undefined || set === undefined
            ? undefined
            : {
                name: policy.name,
                tool: policy.tool,
                alwaysBlocks: alwaysBlocks(set, ardenTool) !== undefined,
              },
      };
    });
    return { upstream, tools };
  }

  /** Marks an upstream trusted or not (creating it when no gateway has reported it yet). */
  async setTrusted(
    agentId: string,
    environment: Environment,
    name: string,
    trusted: boolean,
    by: string | null,
  ): Promise<McpUpstreamRecord> {
    const now = this.clock();
    await this.store.mcpUpstreams.setTrusted({
      id: uuidv7(now),
      agentId,
      environment,
      name,
      trusted,
      by,
      now,
    });
    this.trust.delete(this.key(agentId, environment, name));
    const upstream = (await this.store.mcpUpstreams.byName(
      agentId,
      environment,
      name,
    )) as McpUpstreamRecord;
    this.live?.events.emit({ type: 'mcp.trust_changed', upstream: { ...upstream, tools: [] } });
    return upstream;
  }

  async delete(id: string): Promise<void> {
    const upstream = await this.store.mcpUpstreams.get(id);
    if (upstream === undefined || !(await this.store.mcpUpstreams.delete(id))) {
      throw new NotFoundError(
        `No MCP upstream "${id.slice(0, 80)}". List them with GET /api/v1/mcp/upstreams.`,
      );
    }
    this.trust.delete(this.key(upstream.agentId, upstream.environment, upstream.name));
    this.live?.events.emit({ type: 'mcp.upstream_deleted', upstream: { ...upstream, tools: [] } });
  }
}
