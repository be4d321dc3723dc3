import { validationErrorOf } from '../admin/mount';
import type { AgentPrincipal } from '../agents/service';
import type { ServerContext } from '../context';
import { readJson, sendJson } from '../http/respond';
import type { RequestContext } from '../http/router';
import { toolsReport } from './schema';

/**
 * `POST /v1/mcp/tools` (agent key): an MCP gateway reports its upstream's `tools/list` — each
 * tool's input schema and annotations are recorded — and learns which tools a policy blocks for
 * every call, to leave them out of the list it gives its client.
 */
export function registerMcpAgentRoutes(
  server: ServerContext,
  authenticate: (context: RequestContext) => Promise<AgentPrincipal>,
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
}
