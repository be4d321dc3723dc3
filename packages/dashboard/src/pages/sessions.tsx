import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { api } from '../api/client';
import { queries } from '../api/queries';
import type { Session, TimelineEntry } from '../api/types';
import { environments } from '../api/types';
import { BudgetsPanel } from '../components/budgets';
import { LineChart } from '../components/charts';
import { PageHeader } from '../components/layout';
import { Badge, DecisionBadge, Empty, ErrorNotice, Loading } from '../components/states';
import { ArgumentsView } from '../components/value-view';
import { formatClock, formatNumber, formatTime, formatUsd, words } from '../format';
import { Link, useQueryState } from '../router';
import { useAgents, useLiveEvents, useResync } from '../state';

/** Sessions, most recent first, with counts and cost. */
export function SessionsPage() {
  const [query, setQuery] = useQueryState();
  const agents = useAgents();
  const agent = query.get('agent') ?? '';
  const environment = query.get('environment') ?? '';
  const [items, setItems] = useState<Session[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const first = useQuery(
    queries.sessions({ agent: agent || undefined, environment: environment || undefined }),
  );
  const reloadFirst = () => void first.refetch();
  useEffect(() => {
    if (first.data) {
      setItems(first.data.items);
      setCursor(first.data.next_cursor);
    }
  }, [first.data]);
  useResync(reloadFirst);
  // New sessions appear live; counts refresh at most every few seconds.
  const pendingReload = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useLiveEvents((event) => {
    if (event.type !== 'action.created' && event.type !== 'usage.recorded') return;
    if (pendingReload.current) return;
    pendingReload.current = setTimeout(() => {
      pendingReload.current = undefined;
      if (!cursor) reloadFirst();
    }, 2_000);
  });
  useEffect(() => () => clearTimeout(pendingReload.current), []);

  const loadMore = async () => {
    if (!cursor) return;
    const page = await api.sessions({
      agent: agent || undefined,
      environment: environment || undefined,
      cursor,
    });
    setItems((current) => [...current, ...page.items]);
    setCursor(page.next_cursor);
  };

  return (
    <>
      <PageHeader title="Sessions">
        <p>
          One session is one conversation of an agent: its tool calls and LLM calls. Open one to see
          them on a timeline with the running cost.
        </p>
      </PageHeader>
      <form
        className="filters"
        aria-label="Filter sessions"
        onSubmit={(event) => event.preventDefault()}
      >
        <label className="field field-inline">
          <span>Agent</span>
          <select value={agent} onChange={(event) => setQuery({ agent: event.target.value })}>
            <option value="">All agents</option>
            {agents.agents.map((item) => (
              <option key={item.id} value={item.id}>
                {item.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Environment</span>
          <select
            value={environment}
            onChange={(event) => setQuery({ environment: event.target.value })}
          >
            <option value="">Both</option>
            {environments.map((item) => (
              <option key={item} value={item}>
                {item}
              </option>
            ))}
          </select>
        </label>
      </form>
      {first.error && !first.data ? (
        <ErrorNotice error={first.error} retry={first.refetch} />
      ) : !first.data ? (
        <Loading what="Loading sessions" />
      ) : items.length === 0 ? (
        <Empty title="No session yet.">
          <p>
            Calls made inside <code>withSession(id, …)</code> (or with <code>setSession(id)</code>)
            are grouped here.
          </p>
        </Empty>
      ) : (
        <>
          <div className="table-scroll">
            <table className="table" aria-label="Sessions">
              <thead>
                <tr>
                  <th scope="col">Session</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Env</th>
                  <th scope="col" className="numeric">
                    Calls
                  </th>
                  <th scope="col" className="numeric">
                    Waiting
                  </th>
                  <th scope="col" className="numeric">
                    Blocked
                  </th>
                  <th scope="col" className="numeric">
                    Tokens
                  </th>
                  <th scope="col" className="numeric">
                    Cost
                  </th>
                  <th scope="col">Last activity</th>
                </tr>
              </thead>
              <tbody>
                {items.map((session) => (
                  <tr key={`${session.agent_id}/${session.environment}/${session.session_id}`}>
                    <td className="truncate">
                      <Link to={`/sessions/${encodeURIComponent(session.session_id)}`}>
                        {session.session_id}
                      </Link>
                    </td>
                    <td>{agents.name(session.agent_id)}</td>
                    <td>
                      <Badge value={session.environment} />
                    </td>
                    <td className="numeric">{formatNumber(session.actions)}</td>
                    <td className="numeric">{formatNumber(session.pending)}</td>
                    <td className="numeric">{formatNumber(session.blocked)}</td>
                    <td className="numeric">{formatNumber(session.total_tokens)}</td>
                    <td className="numeric">{formatUsd(session.cost_usd)}</td>
                    <td className="nowrap">{formatTime(session.last_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="pager">
            {cursor ? (
              <button type="button" className="button" onClick={() => void loadMore()}>
                Load more
              </button>
            ) : (
              <span className="muted">That is all.</span>
            )}
          </div>
        </>
      )}
    </>
  );
}

function TimelineItem({ entry }: { entry: TimelineEntry }) {
  const agents = useAgents();
  if (entry.kind === 'usage' && entry.usage) {
    const usage = entry.usage;
    return (
      <li className="timeline-item timeline-usage">
        <time dateTime={entry.at}>{formatClock(entry.at)}</time>
        <div className="timeline-body">
          <span className="timeline-kind">LLM call</span> <code>{usage.model}</code>{' '}
          <span className="muted">
            {formatNumber(usage.prompt_tokens)} in + {formatNumber(usage.completion_tokens)} out
          </span>{' '}
          <strong>{formatUsd(usage.cost_usd)}</strong>
          {usage.priced ? null : <span className="muted"> (model not in the price table)</span>}
        </div>
        <div className="timeline-running" title="Running cost of the session">
          {formatUsd(entry.running_cost_usd)}
        </div>
      </li>
    );
  }
  const action = entry.action;
  if (!action) return null;
  return (
    <li className={`timeline-item timeline-action timeline-${action.decision}`}>
      <time dateTime={entry.at}>{formatClock(entry.at)}</time>
      <div className="timeline-body">
        <span className="timeline-kind">Tool call</span>{' '}
        <Link to={`/actions/${encodeURIComponent(action.id)}`}>
          <code>{action.tool_name}</code>
        </Link>{' '}
        <DecisionBadge decision={action.decision} reason={action.reason} />{' '}
        <Badge value={action.status} />
        {action.outcome ? <Badge value={action.outcome.status} /> : null}{' '}
        <span className="muted">{agents.name(action.agent_id)}</span>
        <details className="timeline-details">
          <summary>Arguments and reason</summary>
          <ArgumentsView argsJson={action.args_json} kwargsJson={action.kwargs_json} />
          <p className="explanation">
            {action.explanation ?? (action.reason ? words(action.reason) : '')}
          </p>
          {action.notes ? (
            <p>
              Note: <q>{action.notes}</q>
            </p>
          ) : null}
        </details>
      </div>
      <div className="timeline-running" title="Running cost of the session">
        {formatUsd(entry.running_cost_usd)}
      </div>
    </li>
  );
}

/** One session: its tool and LLM calls on a timeline, with the running cost. */
export function SessionDetailPage({ id }: { id: string }) {
  const state = useQuery(queries.session(id));
  const reload = () => void state.refetch();
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useLiveEvents((event) => {
    const touches =
      event.action?.session_id === id || event.usage?.some((usage) => usage.session_id === id);
    if (!touches || reloadTimer.current) return;
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = undefined;
      reload();
    }, 500);
  });
  useResync(reload);
  useEffect(() => () => clearTimeout(reloadTimer.current), []);
  const detail = state.data;
  if (state.error && !detail) return <ErrorNotice error={state.error} retry={state.refetch} />;
  if (!detail) return <Loading what="Loading the session" />;
  const tools = detail.timeline.filter((entry) => entry.kind === 'action').length;
  const llm = detail.timeline.length - tools;
  return (
    <>
      <p className="breadcrumb">
        <Link to="/sessions">← Sessions</Link>
      </p>
      <PageHeader title={`Session ${detail.session_id}`}>
        <p>
          {tools} tool calls, {llm} LLM calls, {formatNumber(detail.total_tokens)} tokens,{' '}
          <strong>{formatUsd(detail.total_cost_usd)}</strong> in all.{' '}
          <Link to={`/actions?session=${encodeURIComponent(detail.session_id)}`}>
            See its actions in the log
          </Link>
        </p>
      </PageHeader>
      {detail.sessions.map((summary) => (
        <BudgetsPanel
          key={`${summary.agent_id}-${summary.environment}`}
          agentId={summary.agent_id}
          environment={summary.environment}
          session={detail.session_id}
          title="Budgets of this session"
        />
      ))}
      {detail.timeline.length === 0 ? (
        <Empty title="Nothing in this session yet." />
      ) : (
        <>
          <LineChart
            title="Running cost over the session"
            valueLabel="Cost (USD)"
            format={formatUsd}
            data={detail.timeline.map((entry) => ({
              label: formatClock(entry.at),
              value: entry.running_cost_usd,
            }))}
          />
          <ol className="timeline" aria-label="Timeline">
            {detail.timeline.map((entry) => (
              <TimelineItem
                key={`${entry.kind}-${entry.action?.id ?? entry.usage?.id ?? entry.at}`}
                entry={entry}
              />
            ))}
          </ol>
          {detail.truncated ? (
            <p className="muted">Only the first 2,000 entries are shown.</p>
          ) : null}
        </>
      )}
    </>
  );
}
