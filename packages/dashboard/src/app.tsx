import { type QueryClient, QueryClientProvider, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { LiveConnection } from './api/live';
import { createQueryClient } from './api/queries';
import { ApprovalsProvider, useApprovals } from './approvals-store';
import { Layout } from './components/layout';
import { Loading } from './components/states';
import { AccountPage } from './pages/account';
import { ActionDetailPage } from './pages/action-detail';
import { ActionsPage } from './pages/actions';
import { AgentDetailPage, AgentsPage } from './pages/agents';
import { ApprovalsPage } from './pages/approvals';
import { ChannelsPage } from './pages/channels';
import { McpPage } from './pages/mcp';
import { PoliciesPage } from './pages/policies';
import { SessionDetailPage, SessionsPage } from './pages/sessions';
import { SignInPage } from './pages/sign-in';
import { UsagePage } from './pages/usage';
import { UsersPage } from './pages/users';
import { matchPath, navigate, useLocation } from './router';
import { AgentsProvider, AuthProvider, LiveProvider, useAuth } from './state';

const titles: Record<string, string> = {
  approvals: 'Approvals',
  actions: 'Actions',
  sessions: 'Sessions',
  policies: 'Policies',
  usage: 'Usage',
  agents: 'Agents',
  channels: 'Channels',
  mcp: 'MCP',
  users: 'Users',
  account: 'Your account',
};

function Page() {
  const { path } = useLocation();
  const section = path.split('/')[1] ?? '';
  useEffect(() => {
    document.title = `${titles[section] ?? 'Arden'} · Arden`;
  }, [section]);
  useEffect(() => {
    if (path === '/' || !titles[section]) navigate('/approvals', { replace: true });
  }, [path, section]);

  let parameters = matchPath('/actions/:id', path);
  if (parameters) return <ActionDetailPage key={parameters.id} id={parameters.id!} />;
  parameters = matchPath('/sessions/:id', path);
  if (parameters) return <SessionDetailPage key={parameters.id} id={parameters.id!} />;
  parameters = matchPath('/agents/:id', path);
  if (parameters) return <AgentDetailPage key={parameters.id} id={parameters.id!} />;
  switch (section) {
    case 'actions':
      return <ActionsPage />;
    case 'sessions':
      return <SessionsPage />;
    case 'policies':
      return <PoliciesPage />;
    case 'usage':
      return <UsagePage />;
    case 'agents':
      return <AgentsPage />;
    case 'channels':
      return <ChannelsPage />;
    case 'mcp':
      return <McpPage />;
    case 'users':
      return <UsersPage />;
    case 'account':
      return <AccountPage />;
    default:
      return <ApprovalsPage />;
  }
}

function SignedIn() {
  const queue = useApprovals();
  return (
    <Layout pending={queue.items.length}>
      <Page />
    </Layout>
  );
}

function Gate({ connection }: { connection?: LiveConnection }) {
  const { status } = useAuth();
  const client = useQueryClient();
  // Nothing loaded for one user is shown to the next: signing out empties the cache.
  useEffect(() => {
    if (status === 'signed-out') client.clear();
  }, [status, client]);
  if (status === 'loading') {
    return (
      <main className="sign-in" id="main">
        <Loading what="Opening Arden" />
      </main>
    );
  }
  if (status === 'signed-out') return <SignInPage />;
  return (
    <LiveProvider connection={connection}>
      <AgentsProvider>
        <ApprovalsProvider>
          <SignedIn />
        </ApprovalsProvider>
      </AgentsProvider>
    </LiveProvider>
  );
}

/**
 * The dashboard. `connection` replaces the live event stream (tests); `queryClient` the query
 * cache (by default each mounted app has its own).
 */
export function App({
  connection,
  queryClient,
}: {
  connection?: LiveConnection;
  queryClient?: QueryClient;
} = {}) {
  const [client] = useState(() => queryClient ?? createQueryClient());
  return (
    <QueryClientProvider client={client}>
      <AuthProvider>
        <Gate connection={connection} />
      </AuthProvider>
    </QueryClientProvider>
  );
}
