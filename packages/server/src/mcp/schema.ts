import * as z from 'zod';

// The shapes of the MCP upstreams resource: what a gateway reports (agent API) and what the
// admin API answers.

const timestamp = z.string().meta({ format: 'date-time' });
const serverName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'use 1 to 64 letters, digits, "_" or "-"')
  .meta({ description: 'The MCP server name: the `<server>` of `mcp.<server>.<tool>`.' });

/** One tool of an upstream's `tools/list`, as a gateway reports it. */
export const reportedTool = z.object({
  name: z.string().min(1).max(256),
  title: z.string().max(200).optional(),
  description: z.string().max(10_000).optional(),
  input_schema: z.unknown().optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
});

/** `POST /v1/mcp/tools`: a gateway reports an upstream's `tools/list`. */
export const toolsReport = z
  .object({
    server: serverName,
    transport: z.enum(['stdio', 'http']).optional(),
    tools: z.array(reportedTool).max(2_000),
  })
  .meta({ id: 'McpToolsReport' });

export const toolsReportAnswer = z
  .object({
    server: z.string(),
    trusted: z.boolean().meta({
      description:
        "Whether an admin marked the upstream trusted: an untrusted upstream's annotations are read at their most cautious (destructive, not read-only, not idempotent, open world).",
    }),
    hidden: z.array(z.object({ name: z.string(), policy: z.string() })).meta({
      description:
        'The tools a policy blocks for every call: the gateway leaves them out of tools/list.',
    }),
  })
  .meta({ id: 'McpToolsReportAnswer' });

export const upstreamQuery = z.object({
  agent: z.string().optional().meta({ description: 'Agent id or name.' }),
  environment: z.enum(['test', 'live']).optional(),
});

const upstreamFields = {
  id: z.string(),
  agent_id: z.string(),
  environment: z.enum(['test', 'live']),
  name: z.string(),
  trusted: z.boolean(),
  trusted_by: z.string().nullable(),
  transport: z.string().nullable(),
  tool_count: z.number(),
  tools_reported_at: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
};

export const upstream = z.object(upstreamFields).meta({ id: 'McpUpstream' });

export const upstreamList = z.object({ items: z.array(upstream) });

export const upstreamTool = z.object({
  name: z.string(),
  arden_tool: z.string().meta({ description: 'The name Arden checks: `mcp.<server>.<tool>`.' }),
  title: z.string().nullable(),
  description: z.string().nullable(),
  input_schema: z.unknown(),
  annotations: z.record(z.string(), z.unknown()),
  policy: z
    .object({ name: z.string(), tool: z.string(), always_blocks: z.boolean() })
    .nullable()
    .meta({
      description: 'The policy that decides calls of this tool, or null (the agent default).',
    }),
});

export const upstreamDetail = z
  .object({ ...upstreamFields, tools: z.array(upstreamTool) })
  .meta({ id: 'McpUpstreamDetail' });

export const upstreamUpdate = z.object({ trusted: z.boolean() });

export const upstreamCreate = z.object({
  agent: z.string().min(1).meta({ description: 'Agent id or name.' }),
  environment: z.enum(['test', 'live']),
  name: serverName,
  trusted: z.boolean(),
});

// The remote MCP servers of the Streamable HTTP gateway (`/mcp/<name>`).

const httpUpstreamFields = {
  id: z.string(),
  name: z.string(),
  endpoint: z.string().meta({
    description: '`/mcp/<name>`: where MCP clients connect (with an agent key).',
  }),
  origin: z.string().meta({
    description:
      "The upstream URL's origin; the full URL is stored encrypted and never shown again.",
  }),
  header_names: z.array(z.string()).meta({
    description: 'The headers sent to the upstream (their values are encrypted and never shown).',
  }),
  show_blocked_tools: z.boolean().meta({
    description:
      "Whether `tools/list` keeps the tools a policy blocks for every call of the agent (they stay blocked when called). Default false: they are hidden, so the model does not plan with them. The stdio gateway's `--show-blocked-tools`.",
  }),
  created_by: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
};

export const httpUpstream = z.object(httpUpstreamFields).meta({ id: 'McpHttpUpstream' });

export const httpUpstreamList = z.object({ items: z.array(httpUpstream) });

export const httpUpstreamCreate = z
  .object({
    name: serverName,
    url: z.string().min(1).max(2_000).meta({
      description: 'The upstream MCP endpoint (Streamable HTTP), e.g. https://mcp.example.com/mcp.',
    }),
    headers: z.record(z.string(), z.string().max(8_000)).optional().meta({
      description: 'Headers sent with every request to the upstream (API keys): stored encrypted.',
    }),
    bearer_token: z.string().min(1).max(8_000).optional().meta({
      description: 'Sent as `Authorization: Bearer <token>`: stored encrypted.',
    }),
    show_blocked_tools: z.boolean().optional().meta({
      description:
        'Keep in `tools/list` the tools a policy blocks for every call (default false: hidden).',
    }),
  })
  .meta({ id: 'McpHttpUpstreamCreate' });

export const httpUpstreamUpdate = z
  .object({
    show_blocked_tools: z.boolean().meta({
      description:
        'Keep in `tools/list` the tools a policy blocks for every call; sessions opened afterwards use it.',
    }),
  })
  .meta({ id: 'McpHttpUpstreamUpdate' });
