import { type AnchorHTMLAttributes, useCallback, useMemo, useSyncExternalStore } from 'react';

// A small hash router: the dashboard's location is `#/path?query`, so any static file server
// (and the Arden server, whose own routes live at `/`) can serve it without a fallback rule, and
// filters live in the URL (shareable, kept on reload, and in the browser history).

/** The dashboard location: a path such as `/actions/01ab…` and its query parameters. */
export interface Location {
  path: string;
  query: URLSearchParams;
}

function read(): string {
  const hash = window.location.hash.replace(/^#/, '');
  return hash.startsWith('/') ? hash : `/${hash}`;
}

function subscribe(listener: () => void): () => void {
  window.addEventListener('hashchange', listener);
  return () => window.removeEventListener('hashchange', listener);
}

/** Parses a location string (`/path?query`). */
export function parseLocation(text: string): Location {
  const index = text.indexOf('?');
  const path = index === -1 ? text : text.slice(0, index);
  return {
    path: path === '' ? '/' : path,
    query: new URLSearchParams(index === -1 ? '' : text.slice(index + 1)),
  };
}

/** The current location; re-renders when it changes. */
export function useLocation(): Location {
  const text = useSyncExternalStore(subscribe, read, () => '/');
  return useMemo(() => parseLocation(text), [text]);
}

/** Goes to `to` (`/path?query`); `replace` changes the history entry instead of adding one. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = `${window.location.pathname}${window.location.search}#${to}`;
  if (options.replace) {
    window.history.replaceState(window.history.state, '', url);
  } else {
    window.history.pushState(null, '', url);
  }
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/** Builds `/path?query` from a path and parameters, leaving out empty ones. */
export function href(path: string, query: Record<string, string | undefined | null> = {}): string {
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') parameters.set(name, value);
  }
  const text = parameters.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * Matches a path against a pattern with `:name` segments; returns the parameters (decoded) or
 * undefined.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const patternParts = pattern.split('/').filter(Boolean);
  const pathParts = path.split('/').filter(Boolean);
  if (patternParts.length !== pathParts.length) return undefined;
  const parameters: Record<string, string> = {};
  for (let index = 0; index < patternParts.length; index++) {
    const expected = patternParts[index]!;
    const actual = pathParts[index]!;
    if (expected.startsWith(':')) {
      try {
        parameters[expected.slice(1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return parameters;
}

/**
 * The query parameters of the current location as state: `set` writes them into the URL
 * (replacing the history entry, so typing in a filter does not flood the back button).
 */
export function useQueryState(): [
  URLSearchParams,
  (changes: Record<string, string | undefined>) => void,
] {
  const location = useLocation();
  const set = useCallback(
    (changes: Record<string, string | undefined>) => {
      const next = new URLSearchParams(location.query);
      for (const [name, value] of Object.entries(changes)) {
        if (value === undefined || value === '') next.delete(name);
        else next.set(name, value);
      }
      const text = next.toString();
      navigate(text ? `${location.path}?${text}` : location.path, { replace: true });
    },
    [location],
  );
  return [location.query, set];
}

/** A link to a dashboard location (`to` is `/path?query`). */
export function Link({
  to,
  children,
  ...rest
}: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  return (
    <a href={`#${to}`} {...rest}>
      {children}
    </a>
  );
}
