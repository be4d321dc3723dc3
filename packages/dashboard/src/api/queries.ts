import { notifyManager, QueryClient, queryOptions } from '@tanstack/react-query';
import { api } from './client';
import type { Environment } from './types';

// The admin API's reads as TanStack Query queries, one per resource: a key (what the cache holds
// it under, and what live events patch or invalidate) and the request. Pages read them with
// `useQuery(queries.agent(id))`; writes refetch what they changed.

/**
 * The dashboard's query cache. A failed load is not retried behind the user's back (the page
 * shows the server's message and a Try again button), and live events, not window focus, keep
 * what is shown current. Cache updates reach the pages synchronously.
 */
export function createQueryClient(): QueryClient {
  // A live event shows at once (a decided call leaves the queue in the same render), rather than
  // on the next timer tick; React batches the renders.
  notifyManager.setScheduler((callback) => callback());
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, refetchOnWindowFocus: false, refetchOnReconnect: false },
      mutations: { retry: false },
    },
  });
}

/** The cache keys; a key's prefix names everything under it (`['agent', id]`: its keys too). */
export const queryKeys = {
  agents: ['agents'] as const,
  agent: (id: string) => ['agent', id] as const,
  keys: (agentId: string) => ['agent', agentId, 'keys'] as const,
  deliveries: (agentId: string) => ['agent', agentId, 'deliveries'] as const,
  delivery: (id: string) => ['delivery', id] as const,
  policySet: (agentId: string, environment: Environment) =>
    ['policies', agentId, environment] as const,
  policyVersions: (agentId: string, environment: Environment) =>
    ['policies', agentId, environment, 'versions'] as const,
  action: (id: string) => ['action', id] as const,
  sensitiveReads: (id: string) => ['action', id, 'sensitive-reads'] as const,
  approvals: ['approvals'] as const,
  sessions: (filters: { agent?: string; environment?: string }) => ['sessions', filters] as const,
  session: (id: string) => ['session', id] as const,
  usage: (filter: UsageFilter) => ['usage', filter] as const,
  users: ['users'] as const,
  tokens: ['tokens'] as const,
  /** Everything of the MCP page (and the policy editor's discovered tool names). */
  mcp: ['mcp'] as const,
  /** The reported upstreams, every filter. */
  mcpUpstreamLists: ['mcp', 'upstreams'] as const,
  mcpUpstreams: (agent: string, environment: string) =>
    ['mcp', 'upstreams', agent, environment] as const,
  mcpUpstream: (id: string) => ['mcp', 'upstream', id] as const,
  mcpHttpUpstreams: ['mcp', 'http-upstreams'] as const,
  mcpToolNames: (agentId: string, environment: string) =>
    ['mcp', 'tool-names', agentId, environment] as const,
};

/** The usage page's filter. */
export interface UsageFilter {
  agent?: string;
  environment?: string;
  from?: string;
  to?: string;
}

/** The queries, one per resource. */
export const queries = {
  agents: () => queryOptions({ queryKey: queryKeys.agents, queryFn: () => api.agents() }),
  agent: (id: string) =>
    queryOptions({ queryKey: queryKeys.agent(id), queryFn: () => api.agent(id) }),
  keys: (agentId: string) =>
    queryOptions({ queryKey: queryKeys.keys(agentId), queryFn: () => api.keys(agentId) }),
  deliveries: (agentId: string) =>
    queryOptions({
      queryKey: queryKeys.deliveries(agentId),
      queryFn: () => api.deliveries(agentId, { limit: 20 }),
    }),
  /** One delivery with its attempts; `undefined` (nothing open) loads nothing. */
  delivery: (id: string | undefined) =>
    queryOptions({
      queryKey: queryKeys.delivery(id ?? ''),
      queryFn: () => api.delivery(id ?? ''),
      enabled: id !== undefined,
    }),
  /** The saved policy set; an empty `agentId` (no agent yet) loads nothing. */
  policySet: (agentId: string, environment: Environment) =>
    queryOptions({
      queryKey: queryKeys.policySet(agentId, environment),
      queryFn: () => api.policySet(agentId, environment),
      enabled: agentId !== '',
    }),
  policyVersions: (agentId: string, environment: Environment) =>
    queryOptions({
      queryKey: queryKeys.policyVersions(agentId, environment),
      queryFn: () => api.policyVersions(agentId, environment),
    }),
  action: (id: string) =>
    queryOptions({ queryKey: queryKeys.action(id), queryFn: () => api.action(id) }),
  sensitiveReads: (id: string) =>
    queryOptions({
      queryKey: queryKeys.sensitiveReads(id),
      queryFn: () => api.sensitiveReads(id),
    }),
  approvals: () => queryOptions({ queryKey: queryKeys.approvals, queryFn: () => api.approvals() }),
  /** The first page of sessions (later pages are appended by the page). */
  sessions: (filters: { agent?: string; environment?: string }) =>
    queryOptions({ queryKey: queryKeys.sessions(filters), queryFn: () => api.sessions(filters) }),
  session: (id: string) =>
    queryOptions({ queryKey: queryKeys.session(id), queryFn: () => api.session(id) }),
  /** The four aggregations of the usage page. */
  usage: (filter: UsageFilter) =>
    queryOptions({
      queryKey: queryKeys.usage(filter),
      queryFn: async () => {
        const [model, day, session, agent] = await Promise.all([
          api.usage('model', { ...filter, limit: 20 }),
          api.usage('day', { ...filter, limit: 400 }),
          api.usage('session', { ...filter, limit: 10 }),
          api.usage('agent', { ...filter, limit: 20 }),
        ]);
        return { model, day, session, agent };
      },
    }),
  /** The users (admins only: for others nothing is loaded). */
  users: (administer: boolean) =>
    queryOptions({
      queryKey: queryKeys.users,
      queryFn: () => api.users(),
      enabled: administer,
    }),
  tokens: () => queryOptions({ queryKey: queryKeys.tokens, queryFn: () => api.tokens() }),
};
