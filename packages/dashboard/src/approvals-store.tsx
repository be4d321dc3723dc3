import { createContext, type ReactNode, useCallback, useContext, useMemo } from 'react';
import { api } from './api/client';
import type { Approval, LiveEvent } from './api/types';
import { useAsync, useLiveEvents, useResync } from './state';

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

function toApproval(event: LiveEvent): Approval | undefined {
  const action = event.action;
  if (action?.status !== 'pending') return undefined;
  return { ...action, waiting_ms: Math.max(0, Date.now() - new Date(action.created_at).getTime()) };
}

/**
 * The approval queue, kept for the whole app (the navigation shows its count): loaded once, then
 * kept current by live events: a new held action joins it, a decision anywhere (here, another
 * approver, the CLI, expiry) takes it off at once.
 */
export function ApprovalsProvider({ children }: { children: ReactNode }) {
  const state = useAsync(() => api.approvals(), []);
  const { setData, reload } = state;

  useLiveEvents((event) => {
    if (event.type === 'action.created') {
      const approval = toApproval(event);
      if (!approval) return;
      setData((page) => {
        if (!page || page.items.some((item) => item.id === approval.id)) return page;
        return { ...page, items: [...page.items, approval] };
      });
    } else if (event.type === 'action.decided') {
      const id = event.action?.id ?? event.action_id;
      if (!id) return;
      setData((page) =>
        page ? { ...page, items: page.items.filter((item) => item.id !== id) } : page,
      );
    }
  });
  useResync(reload);

  const remove = useCallback(
    (actionId: string) =>
      setData((page) =>
        page ? { ...page, items: page.items.filter((item) => item.id !== actionId) } : page,
      ),
    [setData],
  );

  const value = useMemo<ApprovalsValue>(
    () => ({
      items: state.data?.items ?? [],
      more: Boolean(state.data?.next_cursor),
      loading: state.loading && !state.data,
      error: state.data ? undefined : state.error,
      reload,
      remove,
    }),
    [state.data, state.loading, state.error, reload, remove],
  );
  return <ApprovalsContext.Provider value={value}>{children}</ApprovalsContext.Provider>;
}

/** The approval queue. */
export function useApprovals(): ApprovalsValue {
  const value = useContext(ApprovalsContext);
  if (!value) throw new Error('useApprovals() needs an <ApprovalsProvider> around it.');
  return value;
}
