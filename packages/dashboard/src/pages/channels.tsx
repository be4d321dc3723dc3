import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import type { Channel } from '../api/types';
import { PageHeader } from '../components/layout';
import { Badge, ErrorNotice, Loading } from '../components/states';
import { formatTime } from '../format';
import { usePermissions } from '../state';

// Notification channels (Slack, email, approver webhooks): which are failing and why, and the
// messages of one held call with their attempts, re-sendable.

const kindLabel: Record<string, string> = {
  slack: 'Slack',
  email: 'Email',
  webhook: 'Approver webhook',
};

function ChannelRow({ channel, onChanged }: { channel: Channel; onChanged: () => void }) {
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
          <button type="button" className="button" onClick={() => void toggle()}>
            {channel.enabled ? 'Disable' : 'Enable'}
          </button>
        ) : null}
      </td>
    </tr>
  );
}

/** The channels page. */
export function ChannelsPage() {
  const state = useQuery({ queryKey: ['channels'], queryFn: () => api.channels() });
  return (
    <>
      <PageHeader title="Channels" />
      <section className="panel" aria-labelledby="channels-title">
        <h2 id="channels-title">Where approvers are asked</h2>
        {state.isPending ? (
          <Loading />
        ) : state.isError ? (
          <ErrorNotice error={state.error} />
        ) : state.data.items.length === 0 ? (
          <p className="muted">
            No channels yet. Create one with <code>arden channels create slack|email|webhook</code>{' '}
            (docs/channels.md).
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
