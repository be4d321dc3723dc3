import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client';
import type { Channel } from '../api/types';
import { PageHeader } from '../components/layout';
import { SecretsPanel } from '../components/secret';
import { Badge, ErrorNotice, Loading } from '../components/states';
import { formatTime } from '../format';
import { usePermissions } from '../state';

// Notification channels (Slack, email, approver webhooks): created and edited here (secrets are
// typed once and never shown back: only which are set), which are failing and why, and the
// messages of one held call with their attempts, re-sendable.

const kindLabel: Record<string, string> = {
  slack: 'Slack',
  email: 'Email',
  webhook: 'Approver webhook',
};

type Kind = Channel['kind'];

/** A field of a channel's form: a setting (`config`) or a secret. */
interface Field {
  key: string;
  label: string;
  number?: boolean;
  required?: boolean;
  placeholder?: string;
}

const forms: Record<Kind, { config: Field[]; secrets: Field[] }> = {
  slack: {
    config: [{ key: 'channel', label: 'Default Slack channel', placeholder: '#approvals' }],
    secrets: [
      { key: 'bot_token', label: 'Bot token', required: true, placeholder: 'xoxb-…' },
      { key: 'signing_secret', label: 'Signing secret', required: true },
    ],
  },
  email: {
    config: [
      { key: 'host', label: 'SMTP host', required: true, placeholder: 'smtp.example.com' },
      { key: 'port', label: 'SMTP port', number: true, required: true, placeholder: '587' },
      { key: 'user', label: 'SMTP user' },
      { key: 'from', label: 'From', required: true, placeholder: 'arden@example.com' },
      { key: 'to', label: 'Default recipient', placeholder: 'approvers@example.com' },
      {
        key: 'digest_minutes',
        label: 'Digest every N minutes (empty: one email per call)',
        number: true,
      },
    ],
    secrets: [{ key: 'password', label: 'SMTP password' }],
  },
  webhook: {
    config: [
      { key: 'url', label: 'URL', required: true, placeholder: 'https://pager.example.com/arden' },
    ],
    secrets: [{ key: 'signing_key', label: 'Signing key (empty: one is generated, shown once)' }],
  },
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Creates a channel, or edits one (`channel`): its settings and its secrets. A secret is sent
 * only when typed; an edit that leaves it empty keeps the stored one. Secrets are never read
 * back: the inputs start empty and are cleared once saved.
 */
function ChannelForm({
  channel,
  onSaved,
  onCancel,
}: {
  channel?: Channel;
  onSaved: (shown: Record<string, string> | undefined) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(channel?.name ?? '');
  const [kind, setKind] = useState<Kind>(channel?.kind ?? 'slack');
  const [config, setConfig] = useState<Record<string, string>>(() =>
    Object.fromEntries(
      Object.entries(channel?.config ?? {}).map(([key, value]) => [key, String(value ?? '')]),
    ),
  );
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const form = forms[kind];
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const settings: Record<string, string | number> = {};
    for (const field of form.config) {
      const value = (config[field.key] ?? '').trim();
      if (value) settings[field.key] = field.number ? Number(value) : value;
    }
    const typed = Object.fromEntries(
      form.secrets
        .map((field) => [field.key, secrets[field.key] ?? ''] as const)
        .filter(([, value]) => value !== ''),
    );
    try {
      if (channel) {
        await api.updateChannel(channel.id, {
          config: settings,
          ...(Object.keys(typed).length > 0 ? { secrets: typed } : {}),
        });
        setSecrets({});
        onSaved(undefined);
      } else {
        const created = await api.createChannel({
          name,
          kind,
          config: settings,
          secrets: typed,
        } as never);
        setSecrets({});
        onSaved(created.secrets);
      }
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  const title = channel ? `Edit channel ${channel.name}` : 'New channel';
  return (
    <form className="panel form-grid" onSubmit={submit} aria-label={title}>
      <h2>{title}</h2>
      {channel ? null : (
        <>
          <label className="field">
            <span>Name</span>
            <input
              required
              pattern="[A-Za-z0-9_.\-]{1,100}"
              value={name}
              onChange={(event) => setName(event.target.value)}
            />
          </label>
          <label className="field">
            <span>Kind</span>
            <select value={kind} onChange={(event) => setKind(event.target.value as Kind)}>
              {(Object.keys(forms) as Kind[]).map((item) => (
                <option key={item} value={item}>
                  {kindLabel[item]}
                </option>
              ))}
            </select>
          </label>
        </>
      )}
      {form.config.map((field) => (
        <label className="field" key={field.key}>
          <span>{field.label}</span>
          <input
            type={field.number ? 'number' : 'text'}
            required={field.required}
            placeholder={field.placeholder}
            value={config[field.key] ?? ''}
            onChange={(event) => setConfig({ ...config, [field.key]: event.target.value })}
          />
        </label>
      ))}
      {form.secrets.map((field) => {
        const set = channel?.secrets_set.includes(field.key) ?? false;
        return (
          <label className="field" key={field.key}>
            <span>{field.label}</span>
            <input
              type="password"
              autoComplete="new-password"
              required={field.required && !set}
              placeholder={set ? 'set — leave empty to keep it' : field.placeholder}
              value={secrets[field.key] ?? ''}
              onChange={(event) => setSecrets({ ...secrets, [field.key]: event.target.value })}
            />
          </label>
        );
      })}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <div>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Saving…' : channel ? 'Save channel' : 'Create channel'}
        </button>{' '}
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ChannelRow({
  channel,
  onChanged,
  onEdit,
}: {
  channel: Channel;
  onChanged: () => void;
  onEdit: () => void;
}) {
  const { administer } = usePermissions();
  const [error, setError] = useState<string | undefined>(undefined);
  const toggle = async () => {
    setError(undefined);
    try {
      await api.setChannelEnabled(channel.id, !channel.enabled);
      onChanged();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  return (
    <tr>
      <td>{channel.name}</td>
      <td>{kindLabel[channel.kind] ?? channel.kind}</td>
      <td>
        {!channel.enabled ? (
          <Badge value="disabled" />
        ) : channel.failing ? (
          <Badge value="failing" />
        ) : (
          <Badge value="ok" />
        )}
      </td>
      <td>
        {channel.failing ? (
          <>
            since {formatTime(channel.failing_since ?? '')}: <code>{channel.last_error}</code>
          </>
        ) : (
          <span className="muted">—</span>
        )}
        {error ? <p role="alert">{error}</p> : null}
      </td>
      <td>{channel.secrets_set.join(', ') || <span className="muted">none</span>}</td>
      <td>
        {administer ? (
          <>
            <button type="button" className="button" onClick={onEdit}>
              Edit
            </button>{' '}
            <button type="button" className="button" onClick={() => void toggle()}>
              {channel.enabled ? 'Disable' : 'Enable'}
            </button>
          </>
        ) : null}
      </td>
    </tr>
  );
}

/** The channels page. */
export function ChannelsPage() {
  const state = useQuery({ queryKey: ['channels'], queryFn: () => api.channels() });
  const { administer } = usePermissions();
  // undefined: no form; 'new': the create form; a channel: its edit form.
  const [editing, setEditing] = useState<Channel | 'new' | undefined>(undefined);
  const [shown, setShown] = useState<{ label: string; value: string }[]>([]);
  const saved = (secrets: Record<string, string> | undefined) => {
    setEditing(undefined);
    setShown(Object.entries(secrets ?? {}).map(([label, value]) => ({ label, value })));
    void state.refetch();
  };
  return (
    <>
      <PageHeader
        title="Channels"
        actions={
          administer && editing === undefined ? (
            <button
              type="button"
              className="button button-primary"
              onClick={() => setEditing('new')}
            >
              New channel
            </button>
          ) : null
        }
      />
      {shown.length > 0 ? (
        <SecretsPanel title="Channel secret" secrets={shown} onDismiss={() => setShown([])} />
      ) : null}
      {editing !== undefined ? (
        <ChannelForm
          key={editing === 'new' ? 'new' : editing.id}
          channel={editing === 'new' ? undefined : editing}
          onSaved={saved}
          onCancel={() => setEditing(undefined)}
        />
      ) : null}
      <section className="panel" aria-labelledby="channels-title">
        <h2 id="channels-title">Where approvers are asked</h2>
        {state.isPending ? (
          <Loading />
        ) : state.isError ? (
          <ErrorNotice error={state.error} />
        ) : state.data.items.length === 0 ? (
          <p className="muted">
            No channels yet. Create one here (New channel) or with{' '}
            <code>arden channels create slack|email|webhook</code> (docs/channels.md).
          </p>
        ) : (
          <table className="table" aria-label="Channels">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>State</th>
                <th>Last error</th>
                <th>Secrets set</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {state.data.items.map((channel) => (
                <ChannelRow
                  key={channel.id}
                  channel={channel}
                  onChanged={() => void state.refetch()}
                  onEdit={() => setEditing(channel)}
                />
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

/** The channel messages of one action (its notifications, reminders, escalations, updates). */
export function ChannelMessages({ actionId }: { actionId: string }) {
  const { decide } = usePermissions();
  const state = useQuery({
    queryKey: ['action', actionId, 'channel-messages'],
    queryFn: () => api.channelMessages(actionId),
  });
  const resend = async (id: string) => {
    await api.resendChannelMessage(id);
    await state.refetch();
  };
  return (
    <section className="panel panel-wide" aria-labelledby="channel-messages-title">
      <h2 id="channel-messages-title">Channel messages</h2>
      {state.isPending ? (
        <Loading />
      ) : state.isError ? (
        <ErrorNotice error={state.error} />
      ) : state.data.items.length === 0 ? (
        <p className="muted">None: no channel was asked about this call.</p>
      ) : (
        <table className="table table-compact" aria-label="Channel messages">
          <thead>
            <tr>
              <th>What</th>
              <th>Channel</th>
              <th>To</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Last error</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {state.data.items.map((message) => (
              <tr key={message.id}>
                <td>{message.job}</td>
                <td>{message.channel_name ?? '—'}</td>
                <td>{message.target}</td>
                <td>
                  <Badge value={message.status} />
                </td>
                <td>{message.attempts}</td>
                <td>{message.last_error ?? ''}</td>
                <td>
                  {decide && message.status !== 'pending' && message.job !== 'update' ? (
                    <button
                      type="button"
                      className="button"
                      onClick={() => void resend(message.id)}
                    >
                      Send again
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
