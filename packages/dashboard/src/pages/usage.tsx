import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { queries } from '../api/queries';
import type { UsageReport } from '../api/types';
import { environments } from '../api/types';
import { BarChart, ColumnChart, type Datum } from '../components/charts';
import { PageHeader } from '../components/layout';
import { ErrorNotice, Loading } from '../components/states';
import { formatCompact, formatNumber, formatUsd, fromLocalInput, toLocalInput } from '../format';
import { Link, useQueryState } from '../router';
import { useAgents, useLiveEvents, useResync } from '../state';

/** The range presets; `days: null` is all time (no lower bound). */
const presets: { value: string; label: string; days: number | null }[] = [
  { value: '1d', label: 'Last 24 hours', days: 1 },
  { value: '7d', label: 'Last 7 days', days: 7 },
  { value: '30d', label: 'Last 30 days', days: 30 },
  { value: '90d', label: 'Last 90 days', days: 90 },
  { value: 'all', label: 'All time', days: null },
];

function rangeOf(query: URLSearchParams): { from?: string; to?: string; preset: string } {
  const preset = query.get('range') ?? (query.get('from') || query.get('to') ? 'custom' : '30d');
  const known = presets.find((item) => item.value === preset);
  if (known?.days === null) return { preset };
  if (known) {
    const start = new Date();
    start.setUTCHours(0, 0, 0, 0);
    start.setUTCDate(start.getUTCDate() - (known.days - 1));
    return {
      preset,
      from:
        known.days === 1 ? new Date(Date.now() - 86_400_000).toISOString() : start.toISOString(),
    };
  }
  return {
    preset: 'custom',
    from: query.get('from') ?? undefined,
    to: query.get('to') ?? undefined,
  };
}

/** Every UTC day from `from` to `to` (or today), with the reported days filled in. */
export function fillDays(report: UsageReport, from: string | undefined, to: string | undefined) {
  const byDay = new Map(report.items.map((item) => [item.key ?? '', item]));
  const firstKey = report.items[0]?.key;
  const startText = from ?? (firstKey ? `${firstKey}T00:00:00Z` : undefined);
  if (!startText) return report.items;
  const start = new Date(startText);
  start.setUTCHours(0, 0, 0, 0);
  const end = to ? new Date(new Date(to).getTime() - 1) : new Date();
  // Without a lower bound (all time), the chart shows the last 400 days at most.
  if (!from && end.getTime() - start.getTime() > 399 * 86_400_000) {
    start.setTime(end.getTime() - 399 * 86_400_000);
    start.setUTCHours(0, 0, 0, 0);
  }
  const days: UsageReport['items'] = [];
  for (
    let day = start;
    day <= end && days.length < 400;
    day = new Date(day.getTime() + 86_400_000)
  ) {
    const key = day.toISOString().slice(0, 10);
    days.push(
      byDay.get(key) ?? {
        key,
        events: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cost_usd: 0,
        unpriced_events: 0,
      },
    );
  }
  return days;
}

function shortDay(key: string): string {
  const date = new Date(`${key}T00:00:00Z`);
  return Number.isNaN(date.getTime())
    ? key
    : date.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** Token usage and cost: totals, and charts by model, day, agent and session. */
export function UsagePage() {
  const [query, setQuery] = useQueryState();
  const agents = useAgents();
  const range = rangeOf(query);
  const agent = query.get('agent') ?? undefined;
  const environment = query.get('environment') ?? undefined;
  const filter = { agent, environment, from: range.from, to: range.to };
  const state = useQuery(queries.usage(filter));
  const reload = () => void state.refetch();
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // Reload at most every 1.5 s while usage streams in: four aggregations per reload.
  useLiveEvents((event) => {
    if (event.type !== 'usage.recorded' || reloadTimer.current) return;
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = undefined;
      reload();
    }, 1_500);
  });
  useResync(reload);
  useEffect(() => () => clearTimeout(reloadTimer.current), []);

  const data = state.data;
  const totals = data?.model.totals;
  const days = data ? fillDays(data.day, range.from, range.to) : [];
  const toData = (
    items: UsageReport['items'],
    value: (item: UsageReport['items'][number]) => number,
    label: (item: UsageReport['items'][number]) => string,
  ): Datum[] => items.map((item) => ({ label: label(item), value: value(item) }));

  return (
    <>
      <PageHeader title="Usage">
        <p>Tokens and cost of the LLM calls your agents logged, priced when they were recorded.</p>
      </PageHeader>
      <form
        className="filters"
        aria-label="Usage range"
        onSubmit={(event) => event.preventDefault()}
      >
        <label className="field field-inline">
          <span>Range</span>
          <select
            value={range.preset}
            onChange={(event) =>
              event.target.value === 'custom'
                ? setQuery({ range: 'custom', from: range.from, to: range.to })
                : setQuery({ range: event.target.value, from: undefined, to: undefined })
            }
          >
            {presets.map((preset) => (
              <option key={preset.value} value={preset.value}>
                {preset.label}
              </option>
            ))}
            <option value="custom">Custom…</option>
          </select>
        </label>
        {range.preset === 'custom' ? (
          <>
            <label className="field field-inline">
              <span>From</span>
              <input
                type="datetime-local"
                value={toLocalInput(range.from)}
                onChange={(event) => setQuery({ from: fromLocalInput(event.target.value) })}
              />
            </label>
            <label className="field field-inline">
              <span>To</span>
              <input
                type="datetime-local"
                value={toLocalInput(range.to)}
                onChange={(event) => setQuery({ to: fromLocalInput(event.target.value) })}
              />
            </label>
          </>
        ) : null}
        <label className="field field-inline">
          <span>Agent</span>
          <select value={agent ?? ''} onChange={(event) => setQuery({ agent: event.target.value })}>
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
            value={environment ?? ''}
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
      {state.error && !data ? (
        <ErrorNotice error={state.error} retry={state.refetch} />
      ) : !data || !totals ? (
        <Loading what="Loading usage" />
      ) : (
        <>
          <section className="totals" aria-label="Totals for the range">
            <div className="total">
              <span className="total-label">Cost</span>
              <span className="total-value" data-testid="total-cost">
                {formatUsd(totals.cost_usd)}
              </span>
            </div>
            <div className="total">
              <span className="total-label">Tokens</span>
              <span className="total-value" data-testid="total-tokens">
                {formatNumber(totals.total_tokens)}
              </span>
              <span className="total-detail">
                {formatNumber(totals.prompt_tokens)} in · {formatNumber(totals.completion_tokens)}{' '}
                out
              </span>
            </div>
            <div className="total">
              <span className="total-label">LLM calls</span>
              <span className="total-value">{formatNumber(totals.events)}</span>
              {totals.unpriced_events > 0 ? (
                <span className="total-detail">
                  {formatNumber(totals.unpriced_events)} of unknown models, counted at $0
                </span>
              ) : null}
            </div>
          </section>
          {totals.events === 0 ? (
            <p className="notice">
              No LLM usage in this range. Agents log it with <code>logTokenUsage()</code> or an
              adapter's usage hook; widen the range if you expected some.
            </p>
          ) : null}
          <div className="chart-grid">
            <BarChart
              title="Cost by model"
              valueLabel="Cost (USD)"
              format={formatUsd}
              data={toData(
                data.model.items,
                (item) => item.cost_usd,
                (item) => item.key ?? '—',
              )}
            />
            <BarChart
              title="Tokens by model"
              valueLabel="Tokens"
              format={formatCompact}
              data={toData(
                data.model.items,
                (item) => item.total_tokens,
                (item) => item.key ?? '—',
              )}
            />
            <ColumnChart
              title="Cost by day (UTC)"
              valueLabel="Cost (USD)"
              format={formatUsd}
              data={toData(
                days,
                (item) => item.cost_usd,
                (item) => shortDay(item.key ?? ''),
              )}
            />
            <ColumnChart
              title="Tokens by day (UTC)"
              valueLabel="Tokens"
              format={formatCompact}
              data={toData(
                days,
                (item) => item.total_tokens,
                (item) => shortDay(item.key ?? ''),
              )}
            />
            <BarChart
              title="Cost by agent"
              valueLabel="Cost (USD)"
              format={formatUsd}
              data={toData(
                data.agent.items,
                (item) => item.cost_usd,
                (item) => item.label ?? agents.name(item.key),
              )}
            />
            <section className="chart" aria-labelledby="top-sessions">
              <div className="chart-header">
                <span className="chart-title" id="top-sessions">
                  Costliest sessions
                </span>
              </div>
              {data.session.items.length === 0 ? (
                <p className="muted chart-empty">No session in this range.</p>
              ) : (
                <table className="table table-compact">
                  <thead>
                    <tr>
                      <th scope="col">Session</th>
                      <th scope="col" className="numeric">
                        Tokens
                      </th>
                      <th scope="col" className="numeric">
                        Cost
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.session.items.map((item) => (
                      <tr key={item.key ?? 'none'}>
                        <td className="truncate">
                          {item.key ? (
                            <Link to={`/sessions/${encodeURIComponent(item.key)}`}>{item.key}</Link>
                          ) : (
                            <span className="muted">no session</span>
                          )}
                        </td>
                        <td className="numeric">{formatNumber(item.total_tokens)}</td>
                        <td className="numeric">{formatUsd(item.cost_usd)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </div>
        </>
      )}
    </>
  );
}
