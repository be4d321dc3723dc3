import { useQuery, useQueryClient } from '@tanstack/react-query';
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { ApiError, api, onUnauthorized } from './api/client';
import { LiveConnection, type LiveState } from './api/live';
import { applyLiveEvent } from './api/live-cache';
import { queries } from './api/queries';
import type { Agent, LiveEvent, Me } from './api/types';

// ---------------------------------------------------------------------------------------------
// Who is signed in

interface AuthValue {
  me: Me | undefined;
  status: 'loading' | 'signed-out' | 'signed-in';
  /** Why the user was signed out (a session that ended), if not by their own choice. */
  notice: string | undefined;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthValue | undefined>(undefined);

/** Holds the signed-in user (`GET /api/v1/me`), and signs out when the server answers 401. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | undefined>(undefined);
  const [status, setStatus] = useState<AuthValue['status']>('loading');
  const [notice, setNotice] = useState<string | undefined>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    api.me(controller.signal).then(
      (value) => {
        setMe(value);
        setStatus('signed-in');
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setStatus('signed-out');
        if (error instanceof ApiError && error.status !== 401) setNotice(error.message);
      },
    );
    return () => controller.abort();
  }, []);

  useEffect(
    () =>
      onUnauthorized(() => {
        setMe((previous) => {
          if (previous) setNotice('Your session ended. Sign in again to go on.');
          return undefined;
        });
        setStatus('signed-out');
      }),
    [],
  );

  const signIn = useCallback(async (email: string, password: string) => {
    await api.login(email, password);
    const value = await api.me();
    setMe(value);
    setNotice(undefined);
    setStatus('signed-in');
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setMe(undefined);
      setNotice(undefined);
      setStatus('signed-out');
    }
  }, []);

  const value = useMemo(
    () => ({ me, status, notice, signIn, signOut }),
    [me, status, notice, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The signed-in user and the sign-in functions. */
export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth() needs an <AuthProvider> around it.');
  return value;
}

/** What the signed-in user may do. */
export function usePermissions(): { decide: boolean; administer: boolean } {
  const { me } = useAuth();
  return me?.permissions ?? { decide: false, administer: false };
}

// ---------------------------------------------------------------------------------------------
// Live events

const LiveContext = createContext<LiveConnection | undefined>(undefined);

/** Opens the live event stream while mounted, and applies its events to the query cache. */
export function LiveProvider({
  children,
  connection,
}: {
  children: ReactNode;
  connection?: LiveConnection;
}) {
  const [live] = useState(
    () =>
      connection ??
      new LiveConnection(undefined, undefined, () => {
        // The stream gave up: if the session ended, /me answers 401 and signs the user out.
        api.me().catch(() => {});
      }),
  );
  const client = useQueryClient();
  useEffect(() => live.subscribe((event) => applyLiveEvent(client, event)), [live, client]);
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

function useLive(): LiveConnection {
  const live = useContext(LiveContext);
  if (!live) throw new Error('Live hooks need a <LiveProvider> around them.');
  return live;
}

/** Calls `handler` with every live event (the latest `handler` is used). */
export function useLiveEvents(handler: (event: LiveEvent) => void): void {
  const live = useLive();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => live.subscribe((event) => latest.current(event)), [live]);
}

/** Calls `handler` after the live connection came back from a loss. */
export function useResync(handler: () => void): void {
  const live = useLive();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => live.onResync(() => latest.current()), [live]);
}

/** The live connection's state. */
export function useLiveState(): LiveState {
  const live = useLive();
  const [state, setState] = useState(live.state);
  useEffect(() => {
    setState(live.state);
    return live.onState(setState);
  }, [live]);
  return state;
}

/** The live connection itself (to dispatch a local event). */
export function useLiveConnection(): LiveConnection {
  return useLive();
}

// ---------------------------------------------------------------------------------------------
// Agents (names for ids, and the agent pickers)

interface AgentsValue {
  agents: Agent[];
  loading: boolean;
  error: Error | undefined;
  reload(): void;
  name(id: string | null | undefined): string;
}

const AgentsContext = createContext<AgentsValue | undefined>(undefined);

/** The agents (one query), for every page's names and pickers. */
export function AgentsProvider({ children }: { children: ReactNode }) {
  const query = useQuery(queries.agents());
  const agents = useMemo(() => query.data?.items ?? [], [query.data]);
  const { isFetching: loading, error, refetch } = query;
  const reload = useCallback(() => void refetch(), [refetch]);
  const value = useMemo<AgentsValue>(() => {
    const names = new Map(agents.map((agent) => [agent.id, agent.name]));
    return {
      agents,
      loading,
      error: error ?? undefined,
      reload,
      name: (id) => (id ? (names.get(id) ?? `${id.slice(0, 8)}…`) : '—'),
    };
  }, [agents, loading, error, reload]);
  return <AgentsContext.Provider value={value}>{children}</AgentsContext.Provider>;
}

/** The agents, and a name for an agent id. */
export function useAgents(): AgentsValue {
  const value = useContext(AgentsContext);
  if (!value) throw new Error('useAgents() needs an <AgentsProvider> around it.');
  return value;
}

/** The current time, updated every `intervalMs` (for "waited 3 min" and countdowns). */
export function useNow(intervalMs = 1_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
