import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client';
import { queries } from '../api/queries';
import { PageHeader } from '../components/layout';
import { SecretsPanel } from '../components/secret';
import { Badge, ErrorNotice, Loading } from '../components/states';
import { formatTime } from '../format';
import { useAuth } from '../state';

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setMessage(undefined);
    try {
      await api.changePassword(current, next);
      setCurrent('');
      setNext('');
      setMessage({ ok: true, text: 'Password changed. Your other browser sessions were ended.' });
    } catch (failure) {
      setMessage({ ok: false, text: errorText(failure) });
    }
  };
  return (
    <form className="panel form-grid" onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">Change your password</h2>
      <label className="field">
        <span>Current password</span>
        <input
          type="password"
          autoComplete="current-password"
          required
          value={current}
          onChange={(event) => setCurrent(event.target.value)}
        />
      </label>
      <label className="field">
        <span>New password (10 characters or more)</span>
        <input
          type="password"
          autoComplete="new-password"
          required
          minLength={10}
          value={next}
          onChange={(event) => setNext(event.target.value)}
        />
      </label>
      <button type="submit" className="button button-primary">
        Change password
      </button>
      {message ? (
        <p className={message.ok ? 'notice' : 'form-error'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </p>
      ) : null}
    </form>
  );
}

function Tokens() {
  const state = useQuery(queries.tokens());
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [secret, setSecret] = useState<{ label: string; value: string } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const created = await api.createToken(name.trim(), days === 'never' ? null : Number(days));
      setSecret({ label: `Token "${created.admin_token.name}"`, value: created.token });
      setName('');
      void state.refetch();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <section className="panel" aria-labelledby="tokens-title">
      <h2 id="tokens-title">Admin tokens</h2>
      <p className="muted">
        For the <code>arden</code> CLI and automation: send one as{' '}
        <code>Authorization: Bearer arden_admin_…</code>. A token acts with your role.
      </p>
      {secret ? (
        <SecretsPanel title="New token" secrets={[secret]} onDismiss={() => setSecret(undefined)} />
      ) : null}
      {state.error && !state.data ? (
        <ErrorNotice error={state.error} retry={state.refetch} />
      ) : !state.data ? (
        <Loading what="Loading tokens" />
      ) : state.data.items.length === 0 ? (
        <p className="muted">No token yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table table-compact" aria-label="Admin tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Token</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {state.data.items.map((token) => (
                <tr key={token.id} className={token.revoked_at ? 'row-muted' : undefined}>
                  <td>{token.name}</td>
                  <td>
                    <code>{token.prefix}</code>
                  </td>
                  <td className="nowrap">{formatTime(token.created_at)}</td>
                  <td className="nowrap">
                    {token.expires_at ? formatTime(token.expires_at) : 'never'}
                  </td>
                  <td className="nowrap">{formatTime(token.last_used_at)}</td>
                  <td>
                    {token.revoked_at ? (
                      <Badge value="revoked" />
                    ) : (
                      <button
                        type="button"
                        className="button button-small button-deny"
                        onClick={async () => {
                          setError(undefined);
                          try {
                            await api.revokeToken(token.id);
                            void state.refetch();
                          } catch (failure) {
                            setError(errorText(failure));
                          }
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="inline-form" onSubmit={create} aria-label="New admin token">
        <label className="field field-grow">
          <span>Name</span>
          <input
            required
            maxLength={100}
            placeholder="laptop CLI"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </label>
        <label className="field field-inline">
          <span>Expires after</span>
          <select value={days} onChange={(event) => setDays(event.target.value)}>
            <option value="30">30 days</option>
            <option value="90">90 days</option>
            <option value="365">a year</option>
            <option value="never">never</option>
          </select>
        </label>
        <button type="submit" className="button">
          Create token
        </button>
      </form>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </section>
  );
}

/** The signed-in user's password and admin tokens. */
export function AccountPage() {
  const { me } = useAuth();
  return (
    <>
      <PageHeader title="Your account">
        <p>
          {me?.user.email} <Badge value={me?.user.role ?? 'viewer'} />
        </p>
      </PageHeader>
      <ChangePassword />
      <Tokens />
    </>
  );
}
