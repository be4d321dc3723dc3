import { useEffect, useRef, useState } from 'react';
import { type ActionFilters, api } from '../api/client';
import type { Action, LiveEvent } from '../api/types';
import { actionStatuses, effects, environments } from '../api/types';
import { PageHeader } from '../components/layout';
import { Badge, DecisionBadge, Empty, ErrorNotice, Loading } from '../components/states';
import { useVirtualRows } from '../components/virtual-rows';
import { formatTime, fromLocalInput, toLocalInput, words } from '../format';
import { mcpServerOf } from '../mcp';
import { Link, useQueryState } from '../router';
import { useAgents, useLiveEvents, useResync } from '../state';

/**
 * The most rows the log keeps on the page (live rows push older ones out). Long tables render
 * only the rows in view (virtual-rows.tsx), so this bounds memory, not drawing.
 */
export const maxRows = 5_000;

const filterNames = [
  'agent',
  'environment',
  'tool',
  'decision',
  'status',
  'session',
  'from',
  'to',
] as const;

function filtersOf(query: URLSearchParams): ActionFilters {
  const filters: ActionFilters = {};
  for (const name of filterNames) {
    const value = query.get(name);
    if (value) filters[name] = value;
  }
  return filters;
}

/** Whether a live action belongs in the log under these filters. */
export function matchesFilters(action: Action, filters: ActionFilters): boolean {
  if (filters.agent && filters.agent !== action.agent_id) return false;
  if (filters.environment && filters.environment !== action.environment) return false;
  if (filters.decision && filters.decision !== action.decision) return false;
  if (filters.status && !filters.status.split(',').includes(action.status)) return false;
  if (filters.session && filters.session !== action.session_id) return false;
  if (filters.tool) {
    const tool = filters.tool;
    if (tool === '*') {
      // every tool
    } else if (tool.endsWith('*')) {
      if (!action.tool_name.startsWith(tool.slice(0, -1))) return false;
    } else if (tool !== action.tool_name) {
      return false;
    }
  }
  const created = new Date(action.created_at).getTime();
  if (filters.from && created < new Date(filters.from).getTime()) return false;
  if (filters.to && created >= new Date(filters.to).getTime()) return false;
  return true;
}

/** A text filter that writes to the URL when the user pauses typing. */
function TextFilter({
  label,
  value,
  placeholder,
  onChange,
}: {
  label: string;
  value: string;
  placeholder?: string;
  onChange: (value: string) => void;
}) {
  const [text, setText] = useState(value);
  const latest = useRef(onChange);
  latest.current = onChange;
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const timer = setTimeout(() => latest.current(text.trim()), 400);
    return () => clearTimeout(timer);
  }, [text, value]);
  return (
    <label className="field field-inline">
      <span>{label}</span>
      <input
        type="search"
        value={text}
        placeholder={placeholder}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter') latest.current(text.trim());
        }}
      />
    </label>
  );
}

/** The action log: filters in the URL, newest first, live, with cursor pagination. */
export function ActionsPage() {
  const [query, setQuery] = useQueryState();
  const agents = useAgents();
  const filters = filtersOf(query);
  const key = JSON.stringify(filters);
  const [items, setItems] = useState<Action[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [trimmed, setTrimmed] = useState(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for the filters.
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(undefined);
    setTrimmed(false);
    queued.current = [];
    api.actions(JSON.parse(key) as ActionFilters, undefined, controller.signal).then(
      (page) => {
        setItems(page.items);
        setCursor(page.next_cursor);
        setLoading(false);
      },
      (failure: unknown) => {
        if (controller.signal.aborted) return;
        setError(failure instanceof Error ? failure : new Error(String(failure)));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [key, generation]);

  useResync(() => setGeneration((value) => value + 1));

  // Live events are applied in batches (at most four renders a second), so a busy system does
  // not re-render the table for every call; and the list is capped, so a page left open for a
  // day stays fast. Older rows dropped by the cap are one reload away.
  const queued = useRef<LiveEvent[]>([]);
  const flushTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const flush = () => {
    flushTimer.current = undefined;
    const events = queued.current;
    queued.current = [];
    if (events.length === 0) return;
    setItems((current) => {
      let next = current;
      const known = new Set(current.map((item) => item.id));
      const added: Action[] = [];
      for (const event of events) {
        const action = event.action;
        if (event.type === 'action.created' && action && !known.has(action.id)) {
          known.add(action.id);
          added.unshift(action);
        } else if (event.type === 'action.decided' && action) {
          next = next.map((item) => (item.id === action.id ? action : item));
          for (let index = 0; index < added.length; index++) {
            if (added[index]?.id === action.id) added[index] = action;
          }
        } else if (event.type === 'action.reported' && event.action_id) {
          const status = event.status === 'failed' ? 'failed' : 'succeeded';
          next = next.map((item) =>
            item.id === event.action_id && !item.outcome
              ? {
                  ...item,
                  outcome: { status, duration_ms: null, error: null, reported_at: event.at },
                }
              : item,
          );
        }
      }
      next = added.length > 0 ? [...added, ...next] : next;
      if (next.length > maxRows) {
        setTrimmed(true);
        next = next.slice(0, maxRows);
      }
      return next;
    });
    const created = events.filter((event) => event.type === 'action.created' && event.action);
    if (created.length > 0) {
      setFresh(new Set(created.slice(-50).map((event) => event.action!.id)));
    }
  };
  useEffect(() => () => clearTimeout(flushTimer.current), []);

  useLiveEvents((event: LiveEvent) => {
    if (loading) return;
    if (event.type === 'action.created') {
      if (!event.action || !matchesFilters(event.action, filters)) return;
    } else if (event.type !== 'action.decided' && event.type !== 'action.reported') {
      return;
    }
    queued.current.push(event);
    flushTimer.current ??= setTimeout(flush, 250);
  });

  const loadMore = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await api.actions(filters, cursor);
      setItems((current) => {
        const seen = new Set(current.map((item) => item.id));
        return [...current, ...page.items.filter((item) => !seen.has(item.id))];
      });
      setCursor(page.next_cursor);
    } catch (failure) {
      setError(failure instanceof Error ? failure : new Error(String(failure)));
    } finally {
      setLoadingMore(false);
    }
  };

  const active = filterNames.some((name) => query.get(name));
  const rows = useVirtualRows(items.length, (index) => items[index]?.id ?? String(index));

  return (
    <>
      <PageHeader title="Actions">
        <p>
          Every checked tool call, newest first, live. Filters are kept in the address, so a
          filtered view can be bookmarked and shared.
        </p>
      </PageHeader>
      <form
        className="filters"
        aria-label="Filter actions"
        onSubmit={(event) => event.preventDefault()}
      >
        <label className="field field-inline">
          <span>Agent</span>
          <select
            value={query.get('agent') ?? ''}
            onChange={(event) => setQuery({ agent: event.target.value })}
          >
            <option value="">All agents</option>
            {agents.agents.map((agent) => (
              <option key={agent.id} value={agent.id}>
                {agent.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Environment</span>
          <select
            value={query.get('environment') ?? ''}
            onChange={(event) => setQuery({ environment: event.target.value })}
          >
            <option value="">Both</option>
            {environments.map((environment) => (
              <option key={environment} value={environment}>
                {environment}
              </option>
            ))}
          </select>
        </label>
        <TextFilter
          label="Tool"
          value={query.get('tool') ?? ''}
          placeholder="stripe.* or a name"
          onChange={(value) => setQuery({ tool: value })}
        />
        <label className="field field-inline">
          <span>Decision</span>
          <select
            value={query.get('decision') ?? ''}
            onChange={(event) => setQuery({ decision: event.target.value })}
          >
            <option value="">Any</option>
            {effects.map((effect) => (
              <option key={effect} value={effect}>
                {words(effect)}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Status</span>
          <select
            value={query.get('status') ?? ''}
            onChange={(event) => setQuery({ status: event.target.value })}
          >
            <option value="">Any</option>
            {actionStatuses.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </label>
        <TextFilter
          label="Session"
          value={query.get('session') ?? ''}
          placeholder="session id"
          onChange={(value) => setQuery({ session: value })}
        />
        <label className="field field-inline">
          <span>From</span>
          <input
            type="datetime-local"
            value={toLocalInput(query.get('from') ?? undefined)}
            onChange={(event) => setQuery({ from: fromLocalInput(event.target.value) })}
          />
        </label>
        <label className="field field-inline">
          <span>To</span>
          <input
            type="datetime-local"
            value={toLocalInput(query.get('to') ?? undefined)}
            onChange={(event) => setQuery({ to: fromLocalInput(event.target.value) })}
          />
        </label>
        {active ? (
          <button
            type="button"
            className="button button-quiet"
            onClick={() =>
              setQuery(Object.fromEntries(filterNames.map((name) => [name, undefined])))
            }
          >
            Clear filters
          </button>
        ) : null}
      </form>
      {error && items.length === 0 ? (
        <ErrorNotice error={error} retry={() => setGeneration((value) => value + 1)} />
      ) : loading ? (
        <Loading what="Loading actions" />
      ) : items.length === 0 ? (
        <Empty title={active ? 'No action matches these filters.' : 'No action logged yet.'}>
          {active ? (
            <p>Widen the filters, or clear them.</p>
          ) : (
            <p>
              Actions appear here as soon as an agent with an Arden key calls a guarded tool. Create
              an agent and its key under <Link to="/agents">Agents</Link>.
            </p>
          )}
        </Empty>
      ) : (
        <>
          <div className="table-scroll">
            <table className="table" aria-label="Actions" aria-rowcount={items.length + 1}>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Tool</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Env</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Status</th>
                  <th scope="col">Session</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody ref={rows.bodyRef}>
                {rows.before > 0 ? (
                  <tr className="row-spacer" style={{ height: rows.before }} />
                ) : null}
                {rows.indexes.map((index) => {
                  const action = items[index] as Action;
                  return (
                    <tr
                      key={action.id}
                      ref={rows.measure}
                      data-index={index}
                      aria-rowindex={index + 2}
                      className={fresh.has(action.id) ? 'row-new' : undefined}
                    >
                      <td className="nowrap">
                        <time dateTime={action.created_at}>{formatTime(action.created_at)}</time>
                      </td>
                      <td>
                        <Link to={`/actions/${encodeURIComponent(action.id)}`}>
                          <code>{action.tool_name}</code>
                        </Link>
                        <McpServerNote action={action} />
                      </td>
                      <td>{agents.name(action.agent_id)}</td>
                      <td>
                        <Badge value={action.environment} />
                      </td>
                      <td>
                        <DecisionBadge decision={action.decision} reason={action.reason} />
                      </td>
                      <td>
                        <Badge value={action.status} />
                      </td>
                      <td className="truncate">
                        {action.session_id ? (
                          <Link to={`/sessions/${encodeURIComponent(action.session_id)}`}>
                            {action.session_id}
                          </Link>
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                      <td>
                        {action.outcome ? (
                          <Badge value={action.outcome.status} />
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
                {rows.after > 0 ? (
                  <tr className="row-spacer" style={{ height: rows.after }} />
                ) : null}
              </tbody>
            </table>
          </div>
          <div className="pager">
            <span className="muted">{items.length.toLocaleString()} shown</span>
            {trimmed ? (
              <span>
                <span className="muted">
                  Older rows were dropped to keep this page fast while it runs live.{' '}
                </span>
                <button
                  type="button"
                  className="button"
                  onClick={() => setGeneration((value) => value + 1)}
                >
                  Reload to page through them
                </button>
              </span>
            ) : cursor ? (
              <button
                type="button"
                className="button"
                onClick={() => void loadMore()}
                disabled={loadingMore || items.length >= maxRows}
                title={
                  items.length >= maxRows ? 'Narrow the filters to see older actions.' : undefined
                }
              >
                {loadingMore ? 'Loading…' : 'Load more'}
              </button>
            ) : (
              <span className="muted">That is all.</span>
            )}
          </div>
          {error ? <ErrorNotice error={error} /> : null}
        </>
      )}
    </>
  );
}

/** "via MCP server X" under an MCP call's tool name. */
function McpServerNote({ action }: { action: Action }) {
  const server = mcpServerOf(action);
  if (server === undefined) return null;
  return (
    <div className="muted">
      MCP server <code>{server}</code>
    </div>
  );
}
