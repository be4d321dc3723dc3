import { useState } from 'react';

/**
 * A secret shown once (an API key, a signing key, a generated password): with a copy button and
 * a warning. The parent drops the secret from its state when the user dismisses it, so it is
 * never rendered again.
 */
export function OneTimeSecret({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="secret">
      <span className="secret-label">{label}</span>
      <code className="secret-value">{value}</code>
      <button type="button" className="button button-small" onClick={copy}>
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

/** A panel of one-time secrets with the "shown once" warning and a dismiss button. */
export function SecretsPanel({
  title,
  secrets,
  onDismiss,
}: {
  title: string;
  secrets: { label: string; value: string }[];
  onDismiss: () => void;
}) {
  return (
    <section className="panel panel-secret" aria-label={title}>
      <h3>{title}</h3>
      <p className="warning">
        Copy these now: they are shown this once and the server keeps only their hashes. If one is
        lost, rotate it.
      </p>
      {secrets.map((secret) => (
        <OneTimeSecret key={secret.label} label={secret.label} value={secret.value} />
      ))}
      <button type="button" className="button" onClick={onDismiss}>
        I have saved them — hide
      </button>
    </section>
  );
}
