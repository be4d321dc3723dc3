import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client';
import { queries } from '../api/queries';
import type { Role, User } from '../api/types';
import { roles } from '../api/types';
import { PageHeader } from '../components/layout';
import { SecretsPanel } from '../components/secret';
import { Badge, ErrorNotice, Loading } from '../components/states';
import { formatTime } from '../format';
import { useAuth, usePermissions } from '../state';

const roleHelp: Record<Role, string> = {
  viewer: 'sees everything, changes nothing',
  approver: 'also approves and denies held calls',
  admin: 'also manages agents, keys, policies and users',
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function CreateUser({ onCreated }: { onCreated: (user: User, password?: string) => void }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('approver');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await api.createUser({
        email: email.trim(),
        role,
        name: name.trim() || null,
        password: password || null,
      });
      setEmail('');
      setName('');
      setPassword('');
      onCreated(created.user, created.password);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel form-grid" onSubmit={submit} aria-labelledby="create-user-title">
      <h2 id="create-user-title">New user</h2>
      <label className="field">
        <span>Email</span>
        <input
          type="email"
          required
          value={email}
          onChange={(event) => setEmail(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Name (optional)</span>
        <input value={name} onChange={(event) => setName(event.target.value)} />
      </label>
      <label className="field">
        <span>Role</span>
        <select value={role} onChange={(event) => setRole(event.target.value as Role)}>
          {roles.map((item) => (
            <option key={item} value={item}>
              {item} — {roleHelp[item]}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Password (leave empty to generate one, shown once)</span>
        <input
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
        />
      </label>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" className="button button-primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create user'}
      </button>
    </form>
  );
}

/** Users and their roles (admins only). */
export function UsersPage() {
  const { administer } = usePermissions();
  const { me } = useAuth();
  const state = useQuery(queries.users(administer));
  const [secret, setSecret] = useState<{ label: string; value: string } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  if (!administer) {
    return (
      <>
        <PageHeader title="Users" />
        <p className="notice">Only admins can see and change users.</p>
      </>
    );
  }
  const change = async (user: User, body: { role?: Role; disabled?: boolean }) => {
    setError(undefined);
    try {
      await api.updateUser(user.id, body);
      void state.refetch();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <>
      <PageHeader title="Users">
        <p>
          Roles: <strong>viewer</strong> {roleHelp.viewer}; <strong>approver</strong>{' '}
          {roleHelp.approver}; <strong>admin</strong> {roleHelp.admin}. The server enforces them on
          every request.
        </p>
      </PageHeader>
      {secret ? (
        <SecretsPanel title="Password" secrets={[secret]} onDismiss={() => setSecret(undefined)} />
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {state.error && !state.data ? (
        <ErrorNotice error={state.error} retry={state.refetch} />
      ) : !state.data ? (
        <Loading what="Loading users" />
      ) : (
        <div className="table-scroll">
          <table className="table" aria-label="Users">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {state.data.items.map((user) => {
                const self = user.id === me?.user.id;
                return (
                  <tr key={user.id} className={user.disabled ? 'row-muted' : undefined}>
                    <td>{user.email}</td>
                    <td>{user.name ?? <span className="muted">—</span>}</td>
                    <td>
                      <select
                        aria-label={`Role of ${user.email}`}
                        value={user.role}
                        disabled={self}
                        title={self ? 'You cannot change your own role.' : undefined}
                        onChange={(event) =>
                          void change(user, { role: event.target.value as Role })
                        }
                      >
                        {roles.map((item) => (
                          <option key={item} value={item}>
                            {item}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td className="nowrap">{formatTime(user.last_login_at)}</td>
                    <td>{user.disabled ? <Badge value="disabled" /> : <Badge value="active" />}</td>
                    <td className="nowrap">
                      {self ? (
                        <span className="muted">you</span>
                      ) : (
                        <>
                          <button
                            type="button"
                            className="button button-small"
                            onClick={() => void change(user, { disabled: !user.disabled })}
                          >
                            {user.disabled ? 'Enable' : 'Disable'}
                          </button>{' '}
                          <button
                            type="button"
                            className="button button-small"
                            onClick={async () => {
                              setError(undefined);
                              try {
                                const reset = await api.resetPassword(user.id);
                                if (reset.password) {
                                  setSecret({
                                    label: `New password for ${user.email}`,
                                    value: reset.password,
                                  });
                                }
                              } catch (failure) {
                                setError(errorText(failure));
                              }
                            }}
                          >
                            Reset password
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <CreateUser
        onCreated={(user, password) => {
          void state.refetch();
          if (password) setSecret({ label: `Password for ${user.email}`, value: password });
        }}
      />
    </>
  );
}
