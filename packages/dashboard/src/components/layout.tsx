import { type ReactNode, useEffect, useRef } from 'react';
import { Link, useLocation } from '../router';
import { useAuth, useLiveState } from '../state';
import { Badge } from './states';

interface NavigationItem {
  to: string;
  label: string;
  adminOnly?: boolean;
}

const navigation: NavigationItem[] = [
  { to: '/approvals', label: 'Approvals' },
  { to: '/actions', label: 'Actions' },
  { to: '/sessions', label: 'Sessions' },
  { to: '/policies', label: 'Policies' },
  { to: '/usage', label: 'Usage' },
  { to: '/agents', label: 'Agents' },
  { to: '/channels', label: 'Channels' },
  { to: '/mcp', label: 'MCP' },
  { to: '/users', label: 'Users', adminOnly: true },
];

function ConnectionState() {
  const state = useLiveState();
  return (
    <span
      className={`connection connection-${state}`}
      title={state === 'open' ? 'Live updates are on' : 'Live updates are paused'}
    >
      <span className="dot" aria-hidden="true" />
      {state === 'open' ? 'Live' : state === 'lost' ? 'Offline' : 'Connecting…'}
    </span>
  );
}

function ConnectionBanner() {
  const state = useLiveState();
  return (
    <div
      role="status"
      aria-live="polite"
      className={state === 'lost' ? 'connection-banner' : undefined}
    >
      {state === 'lost' ? (
        <>
          <strong>Connection lost — reconnecting…</strong> Live updates are paused, so what you see
          may be out of date; it catches up by itself when the server answers again.
        </>
      ) : null}
    </div>
  );
}

/** The page frame: navigation, the signed-in user, the live connection's state. */
export function Layout({ children, pending }: { children: ReactNode; pending: number }) {
  const { me, signOut } = useAuth();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const section = `/${location.path.split('/')[1] ?? ''}`;

  // Move focus to the page on navigation, so keyboard and screen-reader users start there.
  useEffect(() => {
    if (section) main.current?.focus({ preventScroll: true });
  }, [section]);

  return (
    <div className="app">
      <button type="button" className="skip-link" onClick={() => main.current?.focus()}>
        Skip to content
      </button>
      <header className="topbar">
        <Link to="/approvals" className="brand" aria-label="Arden — approvals">
          <svg viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="currentColor" />
            <path d="M9 23 16 8l7 15h-4l-3-7-3 7z" fill="white" />
          </svg>
          <span>Arden</span>
        </Link>
        <nav aria-label="Main" className="nav">
          <ul>
            {navigation
              .filter((item) => !item.adminOnly || me?.permissions.administer)
              .map((item) => (
                <li key={item.to}>
                  <Link to={item.to} aria-current={section === item.to ? 'page' : undefined}>
                    {item.label}
                    {item.to === '/approvals' && pending > 0 ? (
                      <span className="count">
                        {pending}
                        <span className="visually-hidden"> waiting</span>
                      </span>
                    ) : null}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div className="topbar-end">
          <ConnectionState />
          {me ? (
            <Link
              to="/account"
              className="whoami"
              title="Your account: password and admin tokens"
              aria-current={section === '/account' ? 'page' : undefined}
            >
              <span className="whoami-email">{me.user.email}</span> <Badge value={me.user.role} />
            </Link>
          ) : null}
          <button type="button" className="button button-quiet" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <ConnectionBanner />
      <main id="main" ref={main} tabIndex={-1} className="main">
        {children}
      </main>
    </div>
  );
}

/** A page's heading, its intro, and actions on the right. */
export function PageHeader({
  title,
  children,
  actions,
}: {
  title: ReactNode;
  children?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {children ? <div className="page-intro">{children}</div> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </div>
  );
}
