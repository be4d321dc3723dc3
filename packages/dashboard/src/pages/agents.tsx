import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client';
import { queries } from '../api/queries';
import type { ApiKey, Delivery, Effect, Environment } from '../api/types';
import { effects, environments } from '../api/types';
import { BudgetsPanel } from '../components/budgets';
import { PageHeader } from '../components/layout';
import { SecretsPanel } from '../components/secret';
import { Badge, Empty, ErrorNotice, Loading } from '../components/states';
import { formatAgo, formatTime, words } from '../format';
import { Link, navigate } from '../router';
import { useAgents, useNow, usePermissions } from '../state';
import { DeliveryView } from './action-detail';
import { OwnerForm, SensitiveInWebhooks } from './agent-settings';

interface Secret {
  label: string;
  value: string;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function CreateAgent({ onCreated }: { onCreated: (secrets: Secret[], agentId: string) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [defaultAction, setDefaultAction] = useState<Effect>('allow');
  const [webhookUrl, setWebhookUrl] = useState('');
  const [keys, setKeys] = useState<Environment[]>(['test']);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await api.createAgent({
        name: name.trim(),
        description: description.trim() || null,
        default_action: defaultAction,
        webhook_url: webhookUrl.trim() || null,
        create_keys: keys,
      });
      onCreated(
        [
          ...created.keys.map((key) => ({
            label: `${key.api_key.environment} API key (ARDEN_API_KEY)`,
            value: key.key,
          })),
          { label: 'Webhook signing key', value: created.signing_key },
        ],
        created.agent.id,
      );
      setName('');
      setDescription('');
      setWebhookUrl('');
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel form-grid" onSubmit={submit} aria-labelledby="create-agent-title">
      <h2 id="create-agent-title">New agent</h2>
      <label className="field">
        <span>Name</span>
        <input
          required
          maxLength={100}
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Description (optional)</span>
        <input
          maxLength={2000}
          value={description}
          onChange={(event) => setDescription(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Default for tools no policy matches</span>
        <select
          value={defaultAction}
          onChange={(event) => setDefaultAction(event.target.value as Effect)}
        >
          {effects.map((effect) => (
            <option key={effect} value={effect}>
              {words(effect)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Webhook URL (optional)</span>
        <input
          type="url"
          placeholder="https://example.com/arden-webhook"
          value={webhookUrl}
          onChange={(event) => setWebhookUrl(event.target.value)}
        />
      </label>
      <fieldset className="field">
        <legend>Create API keys for</legend>
        {environments.map((environment) => (
          <label key={environment} className="checkbox">
            <input
              type="checkbox"
              checked={keys.includes(environment)}
              onChange={(event) =>
                setKeys((current) =>
                  event.target.checked
                    ? [...current, environment]
                    : current.filter((item) => item !== environment),
                )
              }
            />{' '}
            {environment}
          </label>
        ))}
      </fieldset>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" className="button button-primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create agent'}
      </button>
    </form>
  );
}

/** Agents: the list, and a form to create one (admins). */
export function AgentsPage() {
  const agents = useAgents();
  const { administer } = usePermissions();
  const [secrets, setSecrets] = useState<{ agentId: string; values: Secret[] } | undefined>(
    undefined,
  );
  return (
    <>
      <PageHeader title="Agents">
        <p>
          An agent is one application that calls tools through Arden. Each has API keys for the test
          and live environments, a webhook signing key and, optionally, a webhook URL.
        </p>
      </PageHeader>
      {secrets ? (
        <SecretsPanel
          title="The new agent's keys"
          secrets={secrets.values}
          onDismiss={() => {
            const id = secrets.agentId;
            setSecrets(undefined);
            navigate(`/agents/${encodeURIComponent(id)}`);
          }}
        />
      ) : null}
      {agents.error && agents.agents.length === 0 ? (
        <ErrorNotice error={agents.error} retry={agents.reload} />
      ) : agents.loading && agents.agents.length === 0 ? (
        <Loading what="Loading agents" />
      ) : agents.agents.length === 0 ? (
        <Empty title="No agent yet.">
          {administer ? (
            <p>Create one below; its keys are shown once.</p>
          ) : (
            <p>Ask an admin to create one.</p>
          )}
        </Empty>
      ) : (
        <div className="table-scroll">
          <table className="table" aria-label="Agents">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Default action</th>
                <th scope="col">Webhook URL</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {agents.agents.map((agent) => (
                <tr key={agent.id}>
                  <td>
                    <Link to={`/agents/${encodeURIComponent(agent.id)}`}>{agent.name}</Link>
                    {agent.description ? (
                      <div className="muted small">{agent.description}</div>
                    ) : null}
                  </td>
                  <td>
                    <Badge value={agent.default_action} />
                  </td>
                  <td className="truncate">
                    {agent.webhook_url ?? <span className="muted">none</span>}
                  </td>
                  <td className="nowrap">{formatTime(agent.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {administer ? (
        <CreateAgent
          onCreated={(values, agentId) => {
            setSecrets({ agentId, values });
            agents.reload();
          }}
        />
      ) : null}
    </>
  );
}

function KeysTable({
  agentId,
  keys,
  canChange,
  onChanged,
  onSecret,
}: {
  agentId: string;
  keys: ApiKey[];
  canChange: boolean;
  onChanged: () => void;
  onSecret: (secret: Secret) => void;
}) {
  const now = useNow(30_000);
  const [error, setError] = useState<string | undefined>(undefined);
  const run = async (work: () => Promise<void>) => {
    setError(undefined);
    try {
      await work();
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <>
      {keys.length === 0 ? (
        <p className="muted">No key yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table table-compact" aria-label="API keys">
            <thead>
              <tr>
                <th scope="col">Environment</th>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                {canChange ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id} className={key.revoked_at ? 'row-muted' : undefined}>
                  <td>
                    <Badge value={key.environment} />
                  </td>
                  <td>
                    <code>{key.prefix}</code>{' '}
                    {key.name ? <span className="muted">{key.name}</span> : null}
                  </td>
                  <td className="nowrap">{formatTime(key.created_at)}</td>
                  <td className="nowrap">
                    {key.last_used_at ? formatAgo(key.last_used_at, now) : 'never'}
                  </td>
                  <td>{key.revoked_at ? <Badge value="revoked" /> : <Badge value="active" />}</td>
                  {canChange ? (
                    <td className="nowrap">
                      {key.revoked_at ? null : (
                        <>
                          <button
                            type="button"
                            className="button button-small"
                            onClick={() =>
                              void run(async () => {
                                const created = await api.rotateKey(agentId, key.id);
                                onSecret({
                                  label: `New ${created.api_key.environment} API key`,
                                  value: created.key,
                                });
                              })
                            }
                          >
                            Rotate
                          </button>{' '}
                          <button
                            type="button"
                            className="button button-small button-deny"
                            onClick={() => {
                              if (
                                window.confirm(
                                  `Revoke ${key.prefix}? Agents using it get 401 at once.`,
                                )
                              ) {
                                void run(async () => {
                                  await api.revokeKey(agentId, key.id);
                                });
                              }
                            }}
                          >
                            Revoke
                          </button>
                        </>
                      )}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canChange ? (
        <p className="key-buttons">
          {environments.map((environment) => (
            <button
              key={environment}
              type="button"
              className="button button-small"
              onClick={() =>
                void run(async () => {
                  const created = await api.createKey(agentId, environment);
                  onSecret({ label: `New ${environment} API key`, value: created.key });
                })
              }
            >
              New {environment} key
            </button>
          ))}
        </p>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </>
  );
}

function Deliveries({ agentId }: { agentId: string }) {
  // Webhook attempts invalidate the list and the open delivery (src/api/live-cache.ts).
  const state = useQuery(queries.deliveries(agentId));
  const [open, setOpen] = useState<string | undefined>(undefined);
  const detail = useQuery(queries.delivery(open));
  if (state.error && !state.data) return <ErrorNotice error={state.error} retry={state.refetch} />;
  if (!state.data) return <Loading what="Loading deliveries" />;
  const items: Delivery[] = state.data.items;
  if (items.length === 0) {
    return (
      <p className="muted">
        No delivery yet. When a held call is approved or denied, Arden POSTs a signed event to the
        webhook URL.
      </p>
    );
  }
  return (
    <>
      <div className="table-scroll">
        <table className="table table-compact" aria-label="Recent webhook deliveries">
          <thead>
            <tr>
              <th scope="col">Created</th>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col" className="numeric">
                Attempts
              </th>
              <th scope="col">Last answer</th>
              <th scope="col">Action</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {items.map((delivery) => (
              <tr key={delivery.id}>
                <td className="nowrap">{formatTime(delivery.created_at)}</td>
                <td>
                  <code>{delivery.event_type}</code>
                </td>
                <td>
                  <Badge value={delivery.status} />
                </td>
                <td className="numeric">{delivery.attempts}</td>
                <td>{delivery.last_status ?? delivery.last_error ?? '—'}</td>
                <td>
                  {delivery.action_id ? (
                    <Link to={`/actions/${encodeURIComponent(delivery.action_id)}`}>open</Link>
                  ) : (
                    '—'
                  )}
                </td>
                <td>
                  <button
                    type="button"
                    className="link-button"
                    aria-expanded={open === delivery.id}
                    onClick={() =>
                      setOpen((current) => (current === delivery.id ? undefined : delivery.id))
                    }
                  >
                    {open === delivery.id ? 'Hide' : 'Attempts'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open && detail.data ? (
        <DeliveryView
          delivery={detail.data}
          onRedelivered={() => {
            void detail.refetch();
            void state.refetch();
          }}
        />
      ) : null}
    </>
  );
}

function WebhookForm({
  agentId,
  url,
  onSaved,
}: {
  agentId: string;
  url: string | null;
  onSaved: () => void;
}) {
  const [value, setValue] = useState(url ?? '');
  const [message, setMessage] = useState<string | undefined>(undefined);
  return (
    <form
      className="inline-form"
      onSubmit={async (event) => {
        event.preventDefault();
        setMessage(undefined);
        try {
          await api.updateAgent(agentId, { webhook_url: value.trim() || null });
          setMessage('Saved.');
          onSaved();
        } catch (failure) {
          setMessage(errorText(failure));
        }
      }}
    >
      <label className="field field-grow">
        <span>Webhook URL</span>
        <input
          type="url"
          value={value}
          placeholder="https://example.com/arden-webhook (empty: no webhooks)"
          onChange={(event) => setValue(event.target.value)}
        />
      </label>
      <button type="submit" className="button">
        Save
      </button>
      {message ? <span role="status">{message}</span> : null}
    </form>
  );
}

/** One agent: keys (shown once, rotate, revoke), signing key, webhook URL and deliveries. */
export function AgentDetailPage({ id }: { id: string }) {
  const { administer } = usePermissions();
  const agents = useAgents();
  const agent = useQuery(queries.agent(id));
  const keys = useQuery(queries.keys(id));
  const [secrets, setSecrets] = useState<Secret[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  if (agent.error && !agent.data) return <ErrorNotice error={agent.error} retry={agent.refetch} />;
  if (!agent.data) return <Loading what="Loading the agent" />;
  const data = agent.data;
  const addSecret = (secret: Secret) => setSecrets((current) => [...current, secret]);
  return (
    <>
      <p className="breadcrumb">
        <Link to="/agents">← Agents</Link>
      </p>
      <PageHeader title={data.name}>
        <p>
          {data.description ?? ''} Default action <Badge value={data.default_action} />.{' '}
          <Link to={`/policies?agent=${encodeURIComponent(data.id)}`}>Policies</Link> ·{' '}
          <Link to={`/actions?agent=${encodeURIComponent(data.id)}`}>Actions</Link> ·{' '}
          <Link to={`/usage?agent=${encodeURIComponent(data.id)}`}>Usage</Link>
        </p>
      </PageHeader>
      {secrets.length > 0 ? (
        <SecretsPanel title="New secrets" secrets={secrets} onDismiss={() => setSecrets([])} />
      ) : null}
      <BudgetsPanel agentId={data.id} environment="live" />
      <BudgetsPanel agentId={data.id} environment="test" />
      <section className="panel" aria-labelledby="keys-title">
        <h2 id="keys-title">API keys</h2>
        <p className="muted">
          Agents send a key as <code>ARDEN_API_KEY</code>; its prefix (<code>arden_test_</code> or{' '}
          <code>arden_live_</code>) picks the environment. Keys are stored hashed: only their first
          characters are shown.
        </p>
        {keys.data ? (
          <KeysTable
            agentId={data.id}
            keys={keys.data.items}
            canChange={administer}
            onChanged={() => void keys.refetch()}
            onSecret={addSecret}
          />
        ) : keys.error ? (
          <ErrorNotice error={keys.error} retry={keys.refetch} />
        ) : (
          <Loading what="Loading keys" />
        )}
      </section>
      <section className="panel" aria-labelledby="signing-title">
        <h2 id="signing-title">Webhook signing key</h2>
        <p>
          <code>{data.signing_key_prefix}</code>{' '}
          <span className="muted">
            Verify deliveries with <code>verifyWebhookSignature()</code> and this key.
          </span>
        </p>
        {administer ? (
          <button
            type="button"
            className="button button-small"
            onClick={async () => {
              if (!window.confirm('Replace the signing key? Receivers must switch to the new one.'))
                return;
              setError(undefined);
              try {
                const rotated = await api.rotateSigningKey(data.id);
                addSecret({ label: 'New webhook signing key', value: rotated.signing_key });
                void agent.refetch();
              } catch (failure) {
                setError(errorText(failure));
              }
            }}
          >
            Rotate signing key
          </button>
        ) : null}
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
      </section>
      <section className="panel" aria-labelledby="owner-title">
        <h2 id="owner-title">Owner</h2>
        <p className="muted">
          A policy with <code>exclude_owner: true</code> keeps the agent’s owner from approving its
          calls.
        </p>
        <OwnerForm agent={data} canChange={administer} onSaved={() => void agent.refetch()} />
      </section>
      <section className="panel" aria-labelledby="webhook-title">
        <h2 id="webhook-title">Webhook</h2>
        {data.webhook_status === 'disabled' ? (
          <p className="form-error" role="status">
            Disabled since {formatTime(data.webhook_disabled_at)}:{' '}
            {data.webhook_disabled_reason ?? 'no reason recorded'}. Nothing is sent to it; fix the
            receiver, then save the URL again to enable it and redeliver what you need.
          </p>
        ) : data.webhook_status === 'failing' ? (
          <p className="muted" role="status">
            Every delivery since {formatTime(data.webhook_failing_since)} has failed; the endpoint
            is disabled after 5 days of failures.
          </p>
        ) : null}
        {administer ? (
          <WebhookForm
            agentId={data.id}
            url={data.webhook_url}
            onSaved={() => {
              void agent.refetch();
              agents.reload();
            }}
          />
        ) : (
          <p>{data.webhook_url ?? <span className="muted">No webhook URL.</span>}</p>
        )}
        <SensitiveInWebhooks
          agent={data}
          canChange={administer}
          onSaved={() => void agent.refetch()}
        />
        <h3>Recent deliveries</h3>
        <Deliveries agentId={data.id} />
      </section>
    </>
  );
}
