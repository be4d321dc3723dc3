import { agentIdFilter, v1 } from '../admin/route-helpers';
import {
  mcpHttpUpstreamView as httpUpstreamView,
  mcpUpstreamView as upstreamView,
} from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import { mcpHttpGatewayOf } from './agent-routes';
import { httpUpstreamsOf } from './http-upstreams';
import * as schemas from './schema';

// The admin API of MCP upstreams: what gateways reported, and which upstreams are trusted.

const detailParams = { upstream_id: 'MCP upstream id.' };

const httpParams = { http_upstream_id: 'HTTP upstream id or name.' };

export const mcpRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/mcp/upstreams`,
    access: 'viewer',
    tag: 'mcp',
    summary: 'MCP upstreams: the servers gateways reported and the ones an admin marked',
    query: schemas.upstreamQuery,
    response: schemas.upstreamList,
    async handler(call) {
      const agentId = await agentIdFilter(call, call.query.agent);
      const items = await call.services.server.mcp.list({
        agentId,
        environment: call.query.environment,
      });
      return { items: items.map(upstreamView) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/mcp/upstreams`,
    access: 'admin',
    tag: 'mcp',
    summary: 'Mark an MCP upstream trusted or not, by name (before or after a gateway reports it)',
    body: schemas.upstreamCreate,
    response: schemas.upstream,
    async handler(call) {
      const agent = await call.services.server.agents.getAgent(call.body.agent);
      const upstream = await call.services.server.mcp.setTrusted(
        agent.id,
        call.body.environment,
        call.body.name,
        call.body.trusted,
        call.user.id,
      );
      return upstreamView(upstream);
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/mcp/upstreams/:upstream_id`,
    access: 'viewer',
    tag: 'mcp',
    summary: 'An MCP upstream with its tools, their annotations and the policy that governs each',
    params: detailParams,
    response: schemas.upstreamDetail,
    async handler(call) {
      const { upstream, tools } = await call.services.server.mcp.get(
        call.params.upstream_id as string,
      );
      return {
        ...upstreamView(upstream),
        tools: tools.map((tool) => ({
          name: tool.name,
          arden_tool: tool.ardenTool,
          title: tool.title ?? null,
          description: tool.description ?? null,
          input_schema: tool.inputSchema ?? null,
          annotations: tool.annotations ?? {},
          policy:
            tool.policy === undefined
              ? null
              : {
                  name: tool.policy.name,
                  tool: tool.policy.tool,
                  always_blocks: tool.policy.alwaysBlocks,
                },
        })),
      };
    },
  }),
  route({
    method: 'PATCH',
    path: `${v1}/mcp/upstreams/:upstream_id`,
    access: 'admin',
    tag: 'mcp',
    summary: "Trust an MCP upstream's tool annotations, or stop trusting them",
    description:
      "An untrusted upstream's hints are read at their most cautious on every check (destructive, not read-only): they can tighten a rule but never relax it. Other replicas apply a change within 5 s.",
    params: detailParams,
    body: schemas.upstreamUpdate,
    response: schemas.upstream,
    async handler(call) {
      const mcp = call.services.server.mcp;
      const { upstream } = await mcp.get(call.params.upstream_id as string);
      return upstreamView(
        await mcp.setTrusted(
          upstream.agentId,
          upstream.environment,
          upstream.name,
          call.body.trusted,
          call.user.id,
        ),
      );
    },
  }),
  route({
    method: 'DELETE',
    path: `${v1}/mcp/upstreams/:upstream_id`,
    access: 'admin',
    tag: 'mcp',
    summary:
      'Forget an MCP upstream (its trust too; a gateway that reports again re-creates it untrusted)',
    params: detailParams,
    async handler(call) {
      await call.services.server.mcp.delete(call.params.upstream_id as string);
      return { ok: true as const };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/mcp/http-upstreams`,
    access: 'viewer',
    tag: 'mcp',
    summary: 'Remote MCP servers behind the Streamable HTTP gateway (/mcp/<name>)',
    response: schemas.httpUpstreamList,
    async handler(call) {
      const items = await httpUpstreamsOf(call.services.server).list();
      return { items: items.map(httpUpstreamView) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/mcp/http-upstreams`,
    access: 'admin',
    tag: 'mcp',
    status: 201,
    summary: 'Register a remote MCP server, served to agents at /mcp/<name>',
    description:
      "The URL, headers and bearer token are stored encrypted with the server's secrets key (ARDEN_SECRETS_KEY) and never shown again. The URL follows the webhooks' address policy: private and loopback addresses only with ARDEN_WEBHOOK_ALLOW_PRIVATE=1 or ARDEN_WEBHOOK_ALLOWED_HOSTS.",
    body: schemas.httpUpstreamCreate,
    response: schemas.httpUpstream,
    async handler(call) {
      const upstream = await httpUpstreamsOf(call.services.server).create(
        {
          name: call.body.name,
          url: call.body.url,
          headers: call.body.headers,
          bearerToken: call.body.bearer_token,
          showBlockedTools: call.body.show_blocked_tools,
        },
        call.user.id,
      );
      return httpUpstreamView(upstream);
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/mcp/http-upstreams/:http_upstream_id`,
    access: 'viewer',
    tag: 'mcp',
    summary: 'A remote MCP server of the HTTP gateway (no secret)',
    params: httpParams,
    response: schemas.httpUpstream,
    async handler(call) {
      return httpUpstreamView(
        await httpUpstreamsOf(call.services.server).get(call.params.http_upstream_id as string),
      );
    },
  }),
  route({
    method: 'PATCH',
    path: `${v1}/mcp/http-upstreams/:http_upstream_id`,
    access: 'admin',
    tag: 'mcp',
    summary:
      'Change the settings of a remote MCP server: whether tools/list keeps the tools a policy always blocks',
    description:
      'Sessions opened afterwards use the new setting; open ones keep theirs. The URL and credentials are not changed here (remove the upstream and register it again).',
    params: httpParams,
    body: schemas.httpUpstreamUpdate,
    response: schemas.httpUpstream,
    async handler(call) {
      return httpUpstreamView(
        await httpUpstreamsOf(call.services.server).update(call.params.http_upstream_id as string, {
          showBlockedTools: call.body.show_blocked_tools,
        }),
      );
    },
  }),
  route({
    method: 'DELETE',
    path: `${v1}/mcp/http-upstreams/:http_upstream_id`,
    access: 'admin',
    tag: 'mcp',
    summary:
      'Remove a remote MCP server (new sessions to /mcp/<name> are refused; open ones end when idle)',
    params: httpParams,
    async handler(call) {
      const server = call.services.server;
      const upstream = await httpUpstreamsOf(server).get(call.params.http_upstream_id as string);
      await httpUpstreamsOf(server).delete(upstream.id);
      await mcpHttpGatewayOf(server)?.closeUpstream(upstream.name);
      return { ok: true as const };
    },
  }),
];
