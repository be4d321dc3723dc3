import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import { queries } from '../api/queries';
import type { DeliveryDetail } from '../api/types';
import { PageHeader } from '../components/layout';
import { Badge, DecisionBadge, ErrorNotice, Loading } from '../components/states';
import { JsonTextView } from '../components/value-view';
import { formatDuration, formatTime, words } from '../format';
import { mcpServerOf } from '../mcp';
import { href, Link } from '../router';
import { usePermissions } from '../state';
import { ChannelMessages } from './channels';
import { RequestArguments, SensitiveReads } from './sensitive';

/** A webhook delivery with its attempts and a redeliver button. */
export function DeliveryView({
  delivery,
  onRedelivered,
}: {
  delivery: DeliveryDetail;
  onRedelivered: () => void;
}) {
  const { administer } = usePermissions();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const redeliver = async () => {
    setBusy(true);
    setMessage(undefined);
    try {
      await api.redeliver(delivery.id);
      setMessage('Queued again: it is sent within seconds.');
      onRedelivered();
    } catch (failure) {
      setMessage(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="delivery">
      <div className="delivery-header">
        <code>{delivery.event_type}</code> → <span className="break">{delivery.url}</span>{' '}
        <Badge value={delivery.status} />{' '}
        <span className="muted">{delivery.attempts} attempts</span>
        {administer ? (
          <button
            type="button"
            className="button button-small"
            onClick={() => void redeliver()}
            disabled={busy}
          >
            Redeliver
          </button>
        ) : null}
      </div>
      {message ? <p role="status">{message}</p> : null}
      {delivery.attempt_log.length > 0 ? (
        <table className="table table-compact" aria-label="Delivery attempts">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">At</th>
              <th scope="col">Answer</th>
              <th scope="col">Took</th>
            </tr>
          </thead>
          <tbody>
            {delivery.attempt_log.map((attempt) => (
              <tr key={attempt.id}>
                <td>{attempt.attempt}</td>
                <td>{formatTime(attempt.at)}</td>
                <td>{attempt.status_code ?? attempt.error ?? '—'}</td>
                <td>{Math.round(attempt.duration_ms)} ms</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">
          Not attempted yet; next attempt {formatTime(delivery.next_attempt_at)}.
        </p>
      )}
    </div>
  );
}

/** One action: the request, the decision and why, who decided, the outcome, the webhooks. */
export function ActionDetailPage({ id }: { id: string }) {
  // Live events about this action invalidate it (src/api/live-cache.ts): it loads again.
  const state = useQuery(queries.action(id));
  const action = state.data;
  if (state.error && !action) return <ErrorNotice error={state.error} retry={state.refetch} />;
  if (!action) return <Loading what="Loading the action" />;
  const policy = action.policy;
  return (
    <>
      <p className="breadcrumb">
        <Link to="/actions">← Actions</Link>
      </p>
      <PageHeader title={<code>{action.tool_name}</code>}>
        <p>
          <DecisionBadge decision={action.decision} reason={action.reason} />{' '}
          <Badge value={action.status} /> <Badge value={action.environment} />{' '}
          {formatTime(action.created_at)} · agent{' '}
          <strong>{action.agent_name ?? action.agent_id}</strong>
        </p>
      </PageHeader>
      <div className="detail-grid">
        <section className="panel" aria-labelledby="request-title">
          <h2 id="request-title">Request</h2>
          <dl className="facts">
            <div>
              <dt>Action id</dt>
              <dd>
                <code>{action.id}</code>
              </dd>
            </div>
            {mcpServerOf(action) !== undefined ? (
              <div>
                <dt>MCP server</dt>
                <dd>
                  <Link
                    to={href('/mcp', { agent: action.agent_id, environment: action.environment })}
                  >
                    <code>{mcpServerOf(action)}</code>
                  </Link>
                </dd>
              </div>
            ) : null}
            <div>
              <dt>Session</dt>
              <dd>
                {action.session_id ? (
                  <Link to={`/sessions/${encodeURIComponent(action.session_id)}`}>
                    {action.session_id}
                  </Link>
                ) : (
                  '—'
                )}
              </dd>
            </div>
          </dl>
          <h3>Arguments</h3>
          {/* Masked sensitive values, and for admins a Reveal control (its read is logged). */}
          <RequestArguments key={action.id} action={action} />
          {action.metadata_json && Object.keys(action.metadata ?? {}).length > 0 ? (
            <>
              <h3>Metadata</h3>
              <JsonTextView text={action.metadata_json} />
            </>
          ) : null}
        </section>
        <section className="panel" aria-labelledby="decision-title">
          <h2 id="decision-title">Decision</h2>
          <dl className="facts">
            <div>
              <dt>Decision</dt>
              <dd>
                <DecisionBadge decision={action.decision} reason={action.reason} />
              </dd>
            </div>
            <div>
              <dt>Reason</dt>
              <dd>{action.reason ? words(action.reason) : '—'}</dd>
            </div>
            {action.repeat_of ? (
              <div className="facts-wide">
                <dt>Repeat of</dt>
                <dd>
                  <Link to={`/actions/${encodeURIComponent(action.repeat_of)}`}>
                    <code>{action.repeat_of}</code>
                  </Link>{' '}
                  <span className="muted">
                    (refused earlier in this session with the same arguments: this repeat was
                    refused at once, without asking anyone)
                  </span>
                </dd>
              </div>
            ) : null}
            <div className="facts-wide">
              <dt>Policy</dt>
              <dd>
                {policy ? (
                  <>
                    {policy.name}
                    {policy.version ? ` v${policy.version}` : ''} (<code>{policy.tool}</code>),{' '}
                    {policy.rule_index === null || policy.rule_index < 0
                      ? 'its default'
                      : `rule ${policy.rule_index + 1}`}
                  </>
                ) : (
                  'none matched'
                )}
              </dd>
            </div>
          </dl>
          {action.explanation ? <p className="explanation">{action.explanation}</p> : null}
          {action.evaluation_errors.length > 0 ? (
            <>
              <h3>Evaluation error (the policy's on_error decided)</h3>
              <ul className="errors">
                {action.evaluation_errors.map((error) => (
                  <li key={`${error.rule_index}-${error.message}`}>
                    {error.rule_index < 0
                      ? 'Declared argument types'
                      : `Rule ${error.rule_index + 1}`}
                    : {error.message}
                    {error.shape ? (
                      <>
                        {' '}
                        — arguments <code>{error.shape}</code>
                      </>
                    ) : null}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
        <section className="panel" aria-labelledby="approval-title">
          <h2 id="approval-title">Approval</h2>
          {action.decision !== 'requires_approval' ? (
            <p className="muted">This call did not need approval.</p>
          ) : (
            <dl className="facts">
              <div>
                <dt>Status</dt>
                <dd>
                  <Badge value={action.status} />
                </dd>
              </div>
              <div>
                <dt>Decided by</dt>
                <dd>
                  {action.approval?.decided_in === 'app'
                    ? `${action.status === 'denied' ? 'denied' : 'approved'} in app by ${action.approval.decided_by_user ?? 'the app user'}`
                    : (action.decided_by_email ??
                      (action.status === 'expired'
                        ? 'nobody (it expired)'
                        : action.status === 'cancelled'
                          ? 'nobody (the agent cancelled it while it was held)'
                          : (action.decided_by ?? '—')))}
                </dd>
              </div>
              {action.approval &&
              (action.approval.votes.length > 0 || action.approval.required > 1) ? (
                <div className="facts-wide">
                  <dt>Votes</dt>
                  <dd>
                    <ul className="plain">
                      {action.approval.votes.map((vote) => (
                        <li key={`${vote.channel}-${vote.user}-${vote.at}`}>
                          {vote.decision === 'approve' ? 'Approved' : 'Denied'}
                          {vote.channel === 'app' ? ' in app' : ''} by {vote.user} at{' '}
                          {formatTime(vote.at)}
                          {vote.notes ? (
                            <>
                              {' '}
                              — <q>{vote.notes}</q>
                            </>
                          ) : null}
                        </li>
                      ))}
                    </ul>
                    <span className="muted" data-testid="approval-progress">
                      {action.approval.approved} of {action.approval.required} approvals
                      {action.approval.exclude_owner ? " (the agent's owner may not decide)" : ''}
                    </span>
                  </dd>
                </div>
              ) : null}
              {action.approval?.edits.map((edit) => (
                <div className="facts-wide" key={edit.at}>
                  <dt>Edited</dt>
                  <dd>
                    by {edit.user} at {formatTime(edit.at)}: <code>{edit.before_json}</code> →{' '}
                    <code>{edit.after_json}</code>{' '}
                    <span className="muted">
                      ({edit.effect === 'allow' ? 'allowed' : 'held again'}: {edit.explanation})
                    </span>
                  </dd>
                </div>
              ))}
              <div>
                <dt>Decided at</dt>
                <dd>{formatTime(action.decided_at)}</dd>
              </div>
              <div>
                <dt>Expires</dt>
                <dd>
                  {formatTime(action.expires_at)}
                  {action.on_timeout ? ` (then ${action.on_timeout})` : ''}
                </dd>
              </div>
              <div className="facts-wide">
                <dt>Note</dt>
                <dd>
                  {action.notes ? <q>{action.notes}</q> : <span className="muted">none</span>}
                </dd>
              </div>
            </dl>
          )}
        </section>
        <section className="panel" aria-labelledby="outcome-title">
          <h2 id="outcome-title">Outcome</h2>
          {action.outcome ? (
            <dl className="facts">
              <div>
                <dt>Result</dt>
                <dd>
                  <Badge value={action.outcome.status} />
                </dd>
              </div>
              <div>
                <dt>Took</dt>
                <dd>
                  {action.outcome.duration_ms === null
                    ? '—'
                    : action.outcome.duration_ms < 1000
                      ? `${Math.round(action.outcome.duration_ms)} ms`
                      : formatDuration(action.outcome.duration_ms)}
                </dd>
              </div>
              <div>
                <dt>Reported</dt>
                <dd>{formatTime(action.outcome.reported_at)}</dd>
              </div>
              {action.outcome.error ? (
                <div className="facts-wide">
                  <dt>Error</dt>
                  <dd>
                    <code>{action.outcome.error}</code>
                  </dd>
                </div>
              ) : null}
            </dl>
          ) : (
            <p className="muted">
              {action.status === 'pending'
                ? 'Not run yet: waiting for a decision.'
                : action.status === 'denied' || action.decision === 'block'
                  ? 'The tool did not run.'
                  : 'The SDK has not reported an outcome.'}
            </p>
          )}
        </section>
        <section className="panel panel-wide" aria-labelledby="webhooks-title">
          <h2 id="webhooks-title">Webhook deliveries</h2>
          {action.deliveries.length === 0 ? (
            <p className="muted">
              None: webhooks are sent when a held call is decided, to the agent's webhook URL.
            </p>
          ) : (
            action.deliveries.map((delivery) => (
              <DeliveryView
                key={delivery.id}
                delivery={delivery}
                onRedelivered={() => void state.refetch()}
              />
            ))
          )}
        </section>
        <SensitiveReads action={action} />
        <ChannelMessages actionId={action.id} />
      </div>
    </>
  );
}
