import type { QueryClient } from '@tanstack/react-query';
import { queryKeys } from './queries';
import type { Approval, LiveEvent, Page } from './types';

// Live events patch the query cache: the approval queue is edited in place (a held call joins
// it, a vote counted anywhere updates its "1 of 2", a decision anywhere takes it off at once),
// and what an event changed on the server is
// invalidated, so the pages showing it load it again and the others load it when next shown.

function toApproval(event: LiveEvent): Approval | undefined {
  const action = event.action;
  if (action?.status !== 'pending') return undefined;
  return { ...action, waiting_ms: Math.max(0, Date.now() - new Date(action.created_at).getTime()) };
}

/** Takes an action off the cached approval queue (decided here, elsewhere, or expired). */
export function removeApproval(client: QueryClient, actionId: string): void {
  client.setQueryData<Page<Approval>>(queryKeys.approvals, (page) =>
    page ? { ...page, items: page.items.filter((item) => item.id !== actionId) } : page,
  );
}

/** Applies one live event to the cache. */
export function applyLiveEvent(client: QueryClient, event: LiveEvent): void {
  const actionId = event.action?.id ?? event.action_id;
  if (event.type === 'action.created') {
    const approval = toApproval(event);
    if (approval) {
      client.setQueryData<Page<Approval>>(queryKeys.approvals, (page) => {
        if (!page || page.items.some((item) => item.id === approval.id)) return page;
        return { ...page, items: [...page.items, approval] };
      });
    }
  } else if (event.type === 'action.decided' && actionId) {
    removeApproval(client, actionId);
  } else if (event.type === 'action.voted') {
    const approval = toApproval(event);
    if (approval) {
      // Votes only grow: an older event (a replica's relay arriving late) never undoes a newer.
      client.setQueryData<Page<Approval>>(queryKeys.approvals, (page) =>
        page
          ? {
              ...page,
              items: page.items.map((item) =>
                item.id === approval.id &&
                (approval.approval?.votes.length ?? 0) >= (item.approval?.votes.length ?? 0)
                  ? { ...approval, waiting_ms: item.waiting_ms }
                  : item,
              ),
            }
          : page,
      );
    }
  }
  if (actionId) void client.invalidateQueries({ queryKey: queryKeys.action(actionId) });
  if (event.type.startsWith('mcp.')) applyMcpEvent(client, event);
  if (event.type === 'webhook.attempted') {
    if (event.agent_id) {
      void client.invalidateQueries({ queryKey: queryKeys.deliveries(event.agent_id) });
    }
    if (event.delivery?.id) {
      void client.invalidateQueries({ queryKey: queryKeys.delivery(event.delivery.id) });
    }
  }
}

/**
 * The MCP page's events: what changed is loaded again — the upstream lists, the panel of the
 * upstream (its tools and their governing policies), and the tool names the policy editor offers
 * for that agent and environment. A deleted upstream's panel is dropped from the cache.
 */
function applyMcpEvent(client: QueryClient, event: LiveEvent): void {
  const upstream = event.mcp_upstream;
  if (upstream) {
    void client.invalidateQueries({ queryKey: queryKeys.mcpUpstreamLists });
    if (event.type === 'mcp.upstream_deleted') {
      client.removeQueries({ queryKey: queryKeys.mcpUpstream(upstream.id) });
    } else {
      void client.invalidateQueries({ queryKey: queryKeys.mcpUpstream(upstream.id) });
    }
    if (event.type !== 'mcp.trust_changed') {
      void client.invalidateQueries({
        queryKey: queryKeys.mcpToolNames(upstream.agent_id, upstream.environment),
      });
    }
  }
  if (event.mcp_http_upstream) {
    void client.invalidateQueries({ queryKey: queryKeys.mcpHttpUpstreams });
  }
}
