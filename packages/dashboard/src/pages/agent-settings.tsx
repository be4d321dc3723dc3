import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import { queries } from '../api/queries';
import type { Agent } from '../api/types';

// An agent's settings about who decides and what leaves the server: its owner (a policy's
// `exclude_owner` keeps them from approving its calls), and whether its webhooks carry sensitive
// argument values (a policy's `redact`) in full.

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The agent's owner: admins pick a user; others see who it is. */
export function OwnerForm({
  agent,
  canChange,
  onSaved,
}: {
  agent: Agent;
  canChange: boolean;
  onSaved: () => void;
}) {
  const users = useQuery(queries.users(canChange));
  const [value, setValue] = useState(agent.owner_user_id ?? '');
  const [message, setMessage] = useState<string | undefined>(undefined);
  const owner = users.data?.items.find((user) => user.id === agent.owner_user_id);
  if (!canChange) {
    return (
      <p data-testid="agent-owner">
        {agent.owner_user_id ? (owner?.email ?? agent.owner_user_id) : 'No owner.'}
      </p>
    );
  }
  return (
    <form
      className="inline-form"
      onSubmit={async (event) => {
        event.preventDefault();
        setMessage(undefined);
        try {
          await api.updateAgent(agent.id, { owner: value === '' ? null : value });
          setMessage('Saved.');
          onSaved();
        } catch (failure) {
          setMessage(errorText(failure));
        }
      }}
    >
      <label className="field field-grow">
        <span>Owner</span>
        <select value={value} onChange={(event) => setValue(event.target.value)}>
          <option value="">No owner</option>
          {(users.data?.items ?? []).map((user) => (
            <option key={user.id} value={user.id}>
              {user.email}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="button">
        Save
      </button>
      {message ? <span role="status">{message}</span> : null}
    </form>
  );
}

/** Whether the agent's webhooks carry sensitive argument values in full (admins change it). */
export function SensitiveInWebhooks({
  agent,
  canChange,
  onSaved,
}: {
  agent: Agent;
  canChange: boolean;
  onSaved: () => void;
}) {
  const [message, setMessage] = useState<string | undefined>(undefined);
  const full = agent.webhook_sensitive_in_full;
  const explanation = full
    ? 'Webhooks carry sensitive argument values (a policy’s redact) in full; each such delivery is logged on its action, like a reveal.'
    : 'Webhooks show sensitive argument values (a policy’s redact) as "[redacted]".';
  return (
    <div>
      <p className="muted" data-testid="webhook-sensitive">
        {explanation}
      </p>
      {canChange ? (
        <button
          type="button"
          className="button button-small"
          onClick={async () => {
            if (
              !full &&
              !window.confirm(
                'Send sensitive argument values in full to this agent’s webhook receiver? Each delivery that carries them is logged.',
              )
            ) {
              return;
            }
            setMessage(undefined);
            try {
              await api.updateAgent(agent.id, { webhook_sensitive_in_full: !full });
              onSaved();
            } catch (failure) {
              setMessage(errorText(failure));
            }
          }}
        >
          {full ? 'Mask sensitive values in webhooks' : 'Send sensitive values in full'}
        </button>
      ) : null}
      {message ? (
        <p className="form-error" role="alert">
          {message}
        </p>
      ) : null}
    </div>
  );
}
