import { validationErrorOf } from '../admin/mount';
import type { InProcessAgentApi } from '../agent/routes';
import type { AgentPrincipal } from '../agents/service';
import type { ServerContext } from '../context';
import { readJson, sendJson } from '../http/respond';
import type { RequestContext } from '../http/router';
import { McpHttpGateway } from './http-gateway';
import { httpUpstreamsOf } from './http-upstreams';
import { toolsReport } from './schema';

/**
 * `POST /v1/mcp/tools` (agent key): an MCP gateway reports its upstream's `tools/list` — each
 * tool's input schema and annotations are recorded — and learns which tools a policy blocks for
 * every call, to leave them out of the list it gives its client.
 */
export function registerMcpAgentRoutes(
  server: ServerContext,
  authenticate: (context: RequestContext) => Promise<AgentPrincipal>,
  presentedKey: (context: RequestContext) => string | undefined,
  agentApi: InProcessAgentApi,
): void {
  server.router.add('POST', '/v1/mcp/tools', async (context) => {
    const principal = await authenticate(context);
    const parsed = toolsReport.safeParse(await readJson(context.request, server.config.bodyLimit));
    if (!parsed.success) throw validationErrorOf(parsed.error, 'body');
    const answer = await server.mcp.reportTools(
      principal.agent.id,
      principal.environment,
      parsed.data,
    );
    sendJson(context.response, 200, { server: parsed.data.server, ...answer });
  });

  // The Streamable HTTP gateway (http-gateway.ts): `/mcp/<name>` for MCP clients with an agent key.
  const gateway = new McpHttpGateway(server, httpUpstreamsOf(server), agentApi);
  gatewaysOf.set(server.router, gateway);
  for (const method of ['POST', 'GET', 'DELETE']) {
    server.router.add(method, '/mcp/:name', async (context) => {
      const principal = await authenticate(context);
      const key = presentedKey(context) as string;
      await gateway.handle(context, principal, key, context.params.name as string);
    });
  }
}

// By router: a server object and its context (the admin API's) share it.
const gatewaysOf = new WeakMap<object, McpHttpGateway>();

/** The HTTP gateway of a server (its settings, its sessions). */
export function mcpHttpGatewayOf(
  server: Pick<ServerContext, 'router'>,
): McpHttpGateway | undefined {
  return gatewaysOf.get(server.router);
}

/** Ends the HTTP gateway's sessions: the server is stopping. */
export async function closeMcpHttpGateway(server: Pick<ServerContext, 'router'>): Promise<void> {
  await mcpHttpGatewayOf(server)?.close();
}
