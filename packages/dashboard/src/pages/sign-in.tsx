import { type FormEvent, useState } from 'react';
import { ApiError } from '../api/client';
import { useAuth } from '../state';

/** The sign-in form. */
export function SignInPage() {
  const { signIn, notice } = useAuth();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(email.trim(), password);
    } catch (failure) {
      setError(
        failure instanceof ApiError
          ? failure.message
          : 'Signing in failed. Check that the server is running and try again.',
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in" id="main">
      <form className="sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <div className="brand brand-large">
          <svg viewBox="0 0 32 32" width="32" height="32" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="currentColor" />
            <path d="M9 23 16 8l7 15h-4l-3-7-3 7z" fill="white" />
          </svg>
          <span>Arden</span>
        </div>
        <h1 id="sign-in-title">Sign in</h1>
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        <label className="field">
          <span>Email</span>
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
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
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="hint">
          First run? Sign in with the admin account set by <code>ARDEN_ADMIN_EMAIL</code> and{' '}
          <code>ARDEN_ADMIN_PASSWORD</code> when the server started, or create one with{' '}
          <code>arden users create</code>.
        </p>
      </form>
    </main>
  );
}
