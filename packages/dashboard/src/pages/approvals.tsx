import { type KeyboardEvent, useRef, useState } from 'react';
import { ApiError, api } from '../api/client';
import type { Approval } from '../api/types';
import { useApprovals } from '../approvals-store';
import { PageHeader } from '../components/layout';
import { Badge, decisionLabel, Empty, ErrorNotice, Loading } from '../components/states';
import { ArgumentsView } from '../components/value-view';
import { formatDuration, formatTime } from '../format';
import { Link } from '../router';
import { useAgents, useNow, usePermissions } from '../state';

type Decision = 'approve' | 'deny';

function ruleText(approval: Approval): string {
  const policy = approval.policy;
  if (!policy)
    return approval.reason === 'no_policy_configured' ? "the agent's default action" : '—';
  const version = policy.version ? ` v${policy.version}` : '';
  // Held by on_error: say so, an approver should know no rule decided this call.
  if (approval.reason === 'condition_error' || approval.reason === 'invalid_arguments') {
    const cause =
      approval.reason === 'invalid_arguments'
        ? 'its declared argument types'
        : `rule ${(policy.rule_index ?? 0) + 1}`;
    return `${policy.name}${version} (${policy.tool}), ${decisionLabel('requires_approval', approval.reason)} in ${cause}`;
  }
  const rule =
    policy.rule_index === null || policy.rule_index < 0
      ? 'its default'
      : `rule ${policy.rule_index + 1}`;
  return `${policy.name}${version} (${policy.tool}), ${rule}`;
}

/** "1 of 2 approvals (ann@example.com)" for a call that needs more than one approver. */
export function approvalProgress(approval: Approval): string | undefined {
  const state = approval.approval;
  if (!state || (state.required <= 1 && state.edits.length === 0)) return undefined;
  const round = state.edits.length;
  const who = state.votes
    .filter((vote) => vote.decision === 'approve' && vote.round === round)
    .map((vote) => vote.user);
  return `${state.approved} of ${state.required} approvals${who.length ? ` (${who.join(', ')})` : ''}${state.from ? `, from ${state.from.join(' or ')}` : ''}`;
}

/**
 * The edited keyword arguments' text, or undefined when it is the call's own. The text is sent as
 * written (parsed here only to check it is an object): the browser would round big integers.
 */
function editedArguments(text: string, original: string): { kwargsJson?: string; error?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (failure) {
    return { error: `The edited arguments are not JSON: ${(failure as Error).message}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { error: 'The edited arguments must be an object, such as {"amount": 40}.' };
  }
  if (text.trim() === original.trim()) return {};
  return { kwargsJson: text.trim() };
}

function ApprovalCard({
  approval,
  now,
  canDecide,
  onDecided,
  onCounted,
  onMove,
  register,
}: {
  approval: Approval;
  now: number;
  canDecide: boolean;
  onDecided: (approval: Approval, decision: Decision, message: string) => void;
  onCounted: (approval: Approval) => void;
  onMove: (from: string, step: number) => void;
  register: (id: string, element: HTMLElement | null) => void;
}) {
  const agents = useAgents();
  const [note, setNote] = useState('');
  const currentKwargs = approval.approval?.edits.at(-1)?.after_json ?? approval.kwargs_json;
  const [editing, setEditing] = useState(false);
  const [editText, setEditText] = useState('');
  const [info, setInfo] = useState<string | undefined>(undefined);
  const progress = approvalProgress(approval);
  const [busy, setBusy] = useState<Decision | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const card = useRef<HTMLElement | null>(null);
  const noteField = useRef<HTMLTextAreaElement>(null);
  const titleId = `approval-${approval.id}-title`;

  const waited = now - new Date(approval.created_at).getTime();
  const expiresIn = approval.expires_at ? new Date(approval.expires_at).getTime() - now : undefined;

  const decide = async (decision: Decision) => {
    if (!canDecide || busy) return;
    setBusy(decision);
    setError(undefined);
    try {
      let kwargs: string | undefined;
      if (decision === 'approve' && editing) {
        const edited = editedArguments(editText, currentKwargs);
        if (edited.error) {
          setError(edited.error);
          setBusy(undefined);
          return;
        }
        kwargs = edited.kwargsJson;
      }
      const result =
        decision === 'approve'
          ? await api.approve(approval.id, note.trim(), kwargs)
          : await api.deny(approval.id, note.trim());
      if (result.status === 'pending') {
        // Counted, but the policy wants more approvals (or the edited call needs another person).
        setBusy(undefined);
        setEditing(false);
        setInfo(
          `Your approval is counted: ${result.approval?.approved ?? 1} of ${result.approval?.required ?? 2}. It waits for another approver.`,
        );
        onCounted(result as Approval);
        return;
      }
      onDecided(
        approval,
        decision,
        `${decision === 'approve' ? (kwargs ? 'Approved with edited arguments' : 'Approved') : 'Denied'} ${approval.tool_name}.`,
      );
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 409) {
        onDecided(
          approval,
          decision,
          `${approval.tool_name} was already decided elsewhere (or expired); it is off the queue.`,
        );
        return;
      }
      setError(failure instanceof Error ? failure.message : String(failure));
      setBusy(undefined);
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    if (event.target !== card.current || event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key;
    if (key === 'a' && canDecide) {
      event.preventDefault();
      void decide('approve');
    } else if (key === 'd' && canDecide) {
      event.preventDefault();
      void decide('deny');
    } else if (key === 'n' && canDecide) {
      event.preventDefault();
      noteField.current?.focus();
    } else if (key === 'j' || key === 'ArrowDown') {
      event.preventDefault();
      onMove(approval.id, 1);
    } else if (key === 'k' || key === 'ArrowUp') {
      event.preventDefault();
      onMove(approval.id, -1);
    }
  };

  return (
    <article
      className="approval"
      // The card is focusable so that the a/d shortcuts act on the focused item.
      // biome-ignore lint/a11y/noNoninteractiveTabindex: keyboard shortcuts act on the focused card.
      tabIndex={0}
      aria-labelledby={titleId}
      ref={(element) => {
        card.current = element;
        register(approval.id, element);
      }}
      onKeyDown={onKeyDown}
      data-action-id={approval.id}
    >
      <header className="approval-header">
        <h2 id={titleId} className="approval-tool">
          <code>{approval.tool_name}</code>
        </h2>
        <div className="approval-meta">
          <span>
            Agent <strong>{agents.name(approval.agent_id)}</strong>
          </span>
          <Badge value={approval.environment} />
          {approval.session_id ? (
            <span>
              Session{' '}
              <Link to={`/sessions/${encodeURIComponent(approval.session_id)}`}>
                {approval.session_id}
              </Link>
            </span>
          ) : (
            <span className="muted">No session</span>
          )}
        </div>
      </header>
      <dl className="facts">
        <div>
          <dt>Waiting</dt>
          <dd>
            <time dateTime={approval.created_at} title={formatTime(approval.created_at)}>
              {formatDuration(waited)}
            </time>
          </dd>
        </div>
        <div>
          <dt>Expires</dt>
          <dd>
            {expiresIn === undefined ? (
              'never'
            ) : (
              <time
                dateTime={approval.expires_at ?? undefined}
                title={formatTime(approval.expires_at)}
              >
                {expiresIn > 0 ? `in ${formatDuration(expiresIn)}` : 'now'}
                {approval.on_timeout
                  ? ` (then ${approval.on_timeout === 'allow' ? 'allowed' : 'denied'})`
                  : ''}
              </time>
            )}
          </dd>
        </div>
        <div className="facts-wide">
          <dt>Held by</dt>
          <dd>{ruleText(approval)}</dd>
        </div>
        {progress ? (
          <div className="facts-wide">
            <dt>Approvals</dt>
            <dd data-testid="approval-progress">{progress}</dd>
          </div>
        ) : null}
      </dl>
      {approval.explanation ? <p className="explanation">{approval.explanation}</p> : null}
      <section aria-label="Arguments" className="approval-arguments">
        <ArgumentsView argsJson={approval.args_json} kwargsJson={currentKwargs} />
        {approval.approval?.edits.length ? (
          <p className="muted">
            Edited by {approval.approval.edits.at(-1)?.user}: the call above is the edited one (the
            agent sent {approval.kwargs_json}).
          </p>
        ) : null}
      </section>
      <p className="approval-links">
        <Link to={`/actions/${encodeURIComponent(approval.id)}`}>Full details</Link>
      </p>
      {canDecide ? (
        <div className="decide">
          <label className="field field-note">
            <span>Note (optional, sent to the agent and kept in the log)</span>
            <textarea
              ref={noteField}
              rows={2}
              value={note}
              maxLength={4000}
              onChange={(event) => setNote(event.target.value)}
              onKeyDown={(event) => {
                if (event.key === 'Escape') card.current?.focus();
              }}
            />
          </label>
          {editing ? (
            <label className="field field-note">
              <span>Edited arguments (JSON; evaluated again by the policies when you approve)</span>
              <textarea
                rows={6}
                value={editText}
                spellCheck={false}
                onChange={(event) => setEditText(event.target.value)}
                onKeyDown={(event) => {
                  if (event.key === 'Escape') card.current?.focus();
                }}
              />
            </label>
          ) : null}
          {info ? (
            <p className="notice" role="status">
              {info}
            </p>
          ) : null}
          <div className="decide-buttons">
            <button
              type="button"
              className="button"
              disabled={busy !== undefined}
              onClick={() => {
                // The text as the agent (or the last edit) wrote it: re-serialised in the
                // browser, big integers would be rounded.
                if (!editing) setEditText(currentKwargs);
                setEditing(!editing);
              }}
            >
              {editing ? 'Cancel edit' : 'Edit arguments'}
            </button>
            <button
              type="button"
              className="button button-approve"
              disabled={busy !== undefined}
              onClick={() => void decide('approve')}
              aria-keyshortcuts="a"
            >
              {busy === 'approve' ? 'Approving…' : editing ? 'Approve with edit' : 'Approve'}
            </button>
            <button
              type="button"
              className="button button-deny"
              disabled={busy !== undefined}
              onClick={() => void decide('deny')}
              aria-keyshortcuts="d"
            >
              {busy === 'deny' ? 'Denying…' : 'Deny'}
            </button>
          </div>
          {error ? (
            <p className="form-error" role="alert">
              {error}
            </p>
          ) : null}
        </div>
      ) : null}
    </article>
  );
}

/** The live approval queue. */
export function ApprovalsPage() {
  const queue = useApprovals();
  const permissions = usePermissions();
  const now = useNow(1_000);
  const [announcement, setAnnouncement] = useState('');
  const cards = useRef(new Map<string, HTMLElement>());

  const register = (id: string, element: HTMLElement | null) => {
    if (element) cards.current.set(id, element);
    else cards.current.delete(id);
  };

  const move = (from: string, step: number) => {
    const index = queue.items.findIndex((item) => item.id === from);
    const next = queue.items[index + step];
    if (next) cards.current.get(next.id)?.focus();
  };

  const onDecided = (approval: Approval, _decision: Decision, message: string) => {
    const index = queue.items.findIndex((item) => item.id === approval.id);
    const next = queue.items[index + 1] ?? queue.items[index - 1];
    queue.remove(approval.id);
    setAnnouncement(message);
    if (next) requestAnimationFrame(() => cards.current.get(next.id)?.focus());
  };

  return (
    <>
      <PageHeader title={`Approvals${queue.items.length ? ` (${queue.items.length})` : ''}`}>
        <p>
          Tool calls held by a policy, oldest first. The agent is waiting: approve to let the call
          run, deny to stop it. Decisions by others appear at once.
        </p>
      </PageHeader>
      {permissions.decide ? (
        <details className="shortcuts">
          <summary>Keyboard shortcuts</summary>
          <p>Focus a held call (Tab or click its card), then:</p>
          <ul>
            <li>
              <kbd>a</kbd> approve it · <kbd>d</kbd> deny it (with the note, if you wrote one)
            </li>
            <li>
              <kbd>n</kbd> write a note · <kbd>Esc</kbd> back to the card
            </li>
            <li>
              <kbd>j</kbd>/<kbd>↓</kbd> next · <kbd>k</kbd>/<kbd>↑</kbd> previous
            </li>
          </ul>
        </details>
      ) : (
        <p className="notice">
          You can see the queue but not decide: your role is viewer. Ask an admin for the approver
          role.
        </p>
      )}
      <p className="visually-hidden" role="status" aria-live="polite">
        {announcement}
      </p>
      {queue.error ? (
        <ErrorNotice error={queue.error} retry={queue.reload} />
      ) : queue.loading ? (
        <Loading what="Loading the queue" />
      ) : queue.items.length === 0 ? (
        <Empty title="Nothing is waiting for approval.">
          <p>
            Calls that a policy holds with <code>requires_approval</code> appear here the moment
            they are made. See <Link to="/policies">Policies</Link> to decide which calls need a
            human.
          </p>
        </Empty>
      ) : (
        <div className="approval-list">
          {queue.items.map((approval) => (
            <ApprovalCard
              key={approval.id}
              approval={approval}
              now={now}
              canDecide={permissions.decide}
              onDecided={onDecided}
              onCounted={() => queue.reload()}
              onMove={move}
              register={register}
            />
          ))}
          {queue.more ? (
            <p className="muted">
              More calls are waiting than shown here; decide these first, or see{' '}
              <Link to="/actions?status=pending">all pending actions</Link>.
            </p>
          ) : null}
        </div>
      )}
    </>
  );
}
