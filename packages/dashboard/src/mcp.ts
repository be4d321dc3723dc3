import { queryOptions } from '@tanstack/react-query';
import { api } from './api/client';
import { queryKeys } from './api/queries';
import type { Action, Environment } from './api/types';

// What the dashboard reads of MCP: the server of an MCP call, and the tool names the gateways
// discovered (offered in the policy editor).

/**
 * The MCP server of an action, or undefined for a call that did not come through MCP. An MCP
 * check records it as `metadata.mcp.server`; a call checked as `mcp.<server>.<tool>` without that
 * metadata (a hook that names the tool itself) is read by the name, as core's `parseMcpToolName`
 * does (core is not imported here: its entry point pulls in Node modules the browser lacks).
 */
export function mcpServerOf(action: Pick<Action, 'tool_name' | 'metadata'>): string | undefined {
  const recorded = (action.metadata as { mcp?: { server?: unknown } } | null | undefined)?.mcp
    ?.server;
  if (typeof recorded === 'string' && recorded !== '') return recorded;
  const match = /^mcp\.([A-Za-z0-9_-]{1,64})\./.exec(action.tool_name);
  return match?.[1];
}

/** The MCP annotation hints, in the order the page shows them, with their labels. */
export const MCP_HINTS = [
  { key: 'readOnlyHint', label: 'read-only' },
  { key: 'destructiveHint', label: 'destructive' },
  { key: 'idempotentHint', label: 'idempotent' },
  { key: 'openWorldHint', label: 'open world' },
] as const;

/**
 * The `mcp.<server>.<tool>` names the gateways of one agent and environment reported, sorted;
 * an empty `agentId` loads nothing.
 */
export function mcpToolNamesQuery(agentId: string, environment: Environment) {
  return queryOptions({
    queryKey: queryKeys.mcpToolNames(agentId, environment),
    enabled: agentId !== '',
    queryFn: async () => {
      const { items } = await api.mcpUpstreams({ agent: agentId, environment });
      const details = await Promise.all(items.map((item) => api.mcpUpstream(item.id)));
      return [
        ...new Set(details.flatMap((detail) => detail.tools.map((tool) => tool.arden_tool))),
      ].sort();
    },
  });
}
