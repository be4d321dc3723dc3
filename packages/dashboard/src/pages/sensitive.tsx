import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client';
import { queries, queryKeys } from '../api/queries';
import type { ActionDetail, SensitiveArguments } from '../api/types';
import { ErrorNotice, Loading } from '../components/states';
import { ArgumentsView } from '../components/value-view';
import { formatTime } from '../format';
import { usePermissions } from '../state';

// Sensitive arguments (a policy's `redact`): the server stores them sealed and answers them as
// "[redacted]" to everyone. An admin can read them in full on purpose — the server logs the read
// (who, when, why) before it answers — and everyone who sees the action sees that log. The
// values read are kept in this component's state only: never in the query cache, gone when the
// page is left or "Hide" is pressed.

/** The paths of an action whose values read "[redacted]" (none for an ordinary call). */
function sensitivePathsOf(action: ActionDetail): readonly string[] {
  return action.sensitive_paths ?? [];
}

function errorText(failure: unknown): string {
  return failure instanceof Error ? failure.message : String(failure);
}

/**
 * The call's arguments as stored (masked), and for admins a Reveal control that asks the server
 * for them in full, after a confirmation that says the read is logged. Key it by the action id.
 */
export function RequestArguments({ action }: { action: ActionDetail }) {
  const paths = sensitivePathsOf(action);
  const { administer } = usePermissions();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [revealed, setRevealed] = useState<SensitiveArguments | undefined>(undefined);

  if (paths.length === 0) {
    return <ArgumentsView argsJson={action.args_json} kwargsJson={action.kwargs_json} />;
  }

  const reveal = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const trimmed = reason.trim();
      const answer = await api.revealSensitive(action.id, trimmed ? { reason: trimmed } : {});
      setRevealed(answer);
      setConfirming(false);
      setReason('');
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
      // The read is logged even if the answer was lost on the way: show the log as it is.
      void queryClient.invalidateQueries({ queryKey: queryKeys.sensitiveReads(action.id) });
    }
  };

  const pathList = paths.map((path, index) => (
    <span key={path}>
      {index > 0 ? ', ' : ''}
      <code>{path}</code>
    </span>
  ));

  return (
    <div className="sensitive-arguments">
      {revealed ? (
        <div className="warning" role="status" data-testid="sensitive-revealed">
          Shown in full ({pathList}). This read was logged at {formatTime(revealed.read_at)} under
          your name, and is listed under “Sensitive argument reads”.{' '}
          <button
            type="button"
            className="button button-small"
            onClick={() => setRevealed(undefined)}
          >
            Hide
          </button>
        </div>
      ) : (
        <p className="notice" data-testid="sensitive-masked">
          Sensitive arguments (the policy’s <code>redact</code>): {pathList}. They are stored
          encrypted and shown as <code>"[redacted]"</code>.{' '}
          {administer
            ? 'Admins can read them in full; each read is logged.'
            : 'Only an admin can read them in full, and each read is logged.'}
        </p>
      )}
      <ArgumentsView
        argsJson={revealed ? revealed.args_json : action.args_json}
        kwargsJson={revealed ? revealed.kwargs_json : action.kwargs_json}
      />
      {administer && !revealed ? (
        confirming ? (
          <form
            className="reveal-confirm"
            aria-label="Reveal sensitive values"
            onSubmit={(event) => void reveal(event)}
          >
            <p>
              Reading these values in full is logged on this action: you, the time and the reason
              below. Everyone who can see the action sees the log.
            </p>
            <div className="inline-form">
              <label className="field field-grow">
                <span>Reason (kept in the log, optional)</span>
                <input
                  type="text"
                  value={reason}
                  maxLength={500}
                  onChange={(event) => setReason(event.target.value)}
                />
              </label>
              <button type="submit" className="button button-primary" disabled={busy}>
                Reveal and log the read
              </button>
              <button
                type="button"
                className="button"
                disabled={busy}
                onClick={() => {
                  setConfirming(false);
                  setError(undefined);
                }}
              >
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              setConfirming(true);
              setError(undefined);
            }}
          >
            Reveal
          </button>
        )
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** Who read the action's sensitive arguments in full, oldest first (for actions that have any). */
export function SensitiveReads({ action }: { action: ActionDetail }) {
  const hasSensitive = sensitivePathsOf(action).length > 0;
  const state = useQuery({ ...queries.sensitiveReads(action.id), enabled: hasSensitive });
  if (!hasSensitive) return null;
  return (
    <section className="panel panel-wide" aria-labelledby="sensitive-reads-title">
      <h2 id="sensitive-reads-title">Sensitive argument reads</h2>
      {state.isPending ? (
        <Loading what="Loading who read the sensitive arguments" />
      ) : state.isError ? (
        <ErrorNotice error={state.error} retry={state.refetch} />
      ) : state.data.items.length === 0 ? (
        <p className="muted">Nobody has read them in full.</p>
      ) : (
        <table className="table table-compact" aria-label="Sensitive argument reads">
          <thead>
            <tr>
              <th scope="col">Who</th>
              <th scope="col">When</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {state.data.items.map((read) => (
              <tr key={read.id}>
                <td>
                  {read.user_email ??
                    read.user_id ??
                    'a webhook delivery (the agent’s settings send them in full)'}
                </td>
                <td>{formatTime(read.read_at)}</td>
                <td>{read.reason ?? <span className="muted">none given</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
