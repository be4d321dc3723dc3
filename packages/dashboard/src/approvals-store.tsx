import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useCallback, useContext, useMemo } from 'react';
import { removeApproval } from './api/live-cache';
import { queries, queryKeys } from './api/queries';
import type { Approval } from './api/types';
import { useResync } from './state';

interface ApprovalsValue {
  /** Held actions, oldest first. */
  items: Approval[];
  /** More are waiting than were loaded. */
  more: boolean;
  loading: boolean;
  error: Error | undefined;
  reload(): void;
  /** Takes an action off the queue (after deciding it here). */
  remove(actionId: string): void;
}

const ApprovalsContext = createContext<ApprovalsValue | undefined>(undefined);

/**
 * The approval queue, kept for the whole app (the navigation shows its count): one query, kept
 * current by live events, which patch it in the cache (src/api/live-cache.ts): a new held action
 * joins it, a decision anywhere (here, another approver, the CLI, expiry) takes it off at once.
 */
export function ApprovalsProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const query = useQuery(queries.approvals());
  const { data, isFetching, error, refetch } = query;
  const reload = useCallback(() => void refetch(), [refetch]);
  useResync(() => void client.invalidateQueries({ queryKey: queryKeys.approvals }));

  const remove = useCallback((actionId: string) => removeApproval(client, actionId), [client]);

  const value = useMemo<ApprovalsValue>(
    () => ({
      items: data?.items ?? [],
      more: Boolean(data?.next_cursor),
      loading: isFetching && !data,
      error: data ? undefined : (error ?? undefined),
      reload,
      remove,
    }),
    [data, isFetching, error, reload, remove],
  );
  return <ApprovalsContext.Provider value={value}>{children}</ApprovalsContext.Provider>;
}

/** The approval queue. */
export function useApprovals(): ApprovalsValue {
  const value = useContext(ApprovalsContext);
  if (!value) throw new Error('useApprovals() needs an <ApprovalsProvider> around it.');
  return value;
}
