import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';
import type { BudgetOverview } from '../api/types';
import { formatNumber, formatTime, formatUsd } from '../format';
import { useLiveEvents } from '../state';
import { Badge, ErrorNotice, Loading } from './states';

// Budgets, spend and reservations of an agent (or one of its sessions), kept live: the panel
// refetches on every usage or action event of the agent, and every few seconds (reservations
// expire without an event).

const scopeLabel: Record<BudgetOverview['budgets'][number]['scope'], string> = {
  session: 'Per session',
  agent_day: 'Per agent, per day',
  environment_day: 'Environment, per day',
  environment_month: 'Environment, per month',
};

function limitText(budget: BudgetOverview['budgets'][number]): string {
  const parts: string[] = [];
  if (budget.limit_usd !== null) {
    parts.push(
      `${formatUsd(budget.spent_usd)} spent + ${formatUsd(budget.reserved_usd)} reserved of ${formatUsd(budget.limit_usd)}`,
    );
  }
  if (budget.limit_tokens !== null) {
    parts.push(
      `${formatNumber(budget.spent_tokens)} + ${formatNumber(budget.reserved_tokens)} reserved of ${formatNumber(budget.limit_tokens)} tokens`,
    );
  }
  return parts.join('; ');
}

function share(budget: BudgetOverview['budgets'][number]): number {
  const shares: number[] = [];
  if (budget.limit_usd) shares.push((budget.spent_usd + budget.reserved_usd) / budget.limit_usd);
  if (budget.limit_tokens) {
    shares.push((budget.spent_tokens + budget.reserved_tokens) / budget.limit_tokens);
  }
  return Math.min(1, Math.max(0, ...shares));
}

/** The budgets panel of an agent page (`session` unset) or a session page. */
export function BudgetsPanel({
  agentId,
  environment,
  session,
  title = 'Budgets',
}: {
  agentId: string;
  environment: string;
  session?: string;
  title?: string;
}) {
  const state = useQuery({
    queryKey: ['budgets', agentId, environment, session ?? null],
    queryFn: () => api.budgets(agentId, environment, session),
    refetchInterval: 5_000,
  });
  useLiveEvents((event) => {
    const touches =
      event.action?.agent_id === agentId ||
      event.usage?.some((usage) => usage.agent_id === agentId);
    if (touches) void state.refetch();
  });
  const id = `budgets-${environment}-${session ?? 'agent'}`;
  return (
    <section className="panel" aria-labelledby={id}>
      <h2 id={id}>
        {title} <span className="muted">({environment})</span>
      </h2>
      {state.error && !state.data ? (
        <ErrorNotice error={state.error} retry={state.refetch} />
      ) : !state.data ? (
        <Loading what="Loading budgets" />
      ) : (
        <>
          {state.data.budgets.length === 0 ? (
            <p className="muted">
              No budget applies
              {session ? ' to this session' : ' now (session budgets show on a session'}
              {session ? '' : "'s page)"}.
            </p>
          ) : (
            <table className="table table-compact" aria-label={`Budgets (${environment})`}>
              <thead>
                <tr>
                  <th>Budget</th>
                  <th>Window</th>
                  <th>Spent and reserved</th>
                  <th>When used up</th>
                </tr>
              </thead>
              <tbody>
                {state.data.budgets.map((budget) => (
                  <tr key={budget.id} data-budget={budget.id}>
                    <td>
                      {budget.name ?? scopeLabel[budget.scope]}
                      {budget.name ? (
                        <span className="muted"> · {scopeLabel[budget.scope]}</span>
                      ) : null}
                    </td>
                    <td>
                      <code>{budget.window}</code>
                    </td>
                    <td>
                      <meter min={0} max={1} value={share(budget)} aria-label="Share used" />{' '}
                      <span className="budget-amounts">{limitText(budget)}</span>
                      {budget.over ? (
                        <>
                          {' '}
                          <Badge value="block" label="Over budget" />
                        </>
                      ) : null}
                    </td>
                    <td>
                      {budget.on_exceeded === 'block' ? 'Block tool calls' : 'Hold tool calls'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <p className="muted" data-testid="reserved-total">
            Reserved by calls in flight: {formatUsd(state.data.reserved_usd)},{' '}
            {formatNumber(state.data.reserved_tokens)} tokens.
          </p>
          {state.data.reservations.length > 0 ? (
            <table className="table table-compact" aria-label={`Reservations (${environment})`}>
              <thead>
                <tr>
                  <th>Reserved</th>
                  <th>Model or tool</th>
                  <th>Amount</th>
                  <th>Status</th>
                  <th>Actual</th>
                </tr>
              </thead>
              <tbody>
                {state.data.reservations.map((reservation) => (
                  <tr key={reservation.id}>
                    <td>{formatTime(reservation.created_at)}</td>
                    <td>
                      <code>{reservation.subject}</code>
                    </td>
                    <td>
                      {formatUsd(reservation.reserved_usd)} ·{' '}
                      {formatNumber(reservation.reserved_tokens)} tokens
                    </td>
                    <td>{reservation.status}</td>
                    <td>
                      {reservation.actual_usd === null
                        ? '—'
                        : `${formatUsd(reservation.actual_usd)} · ${formatNumber(reservation.actual_tokens ?? 0)} tokens`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </>
      )}
    </section>
  );
}
