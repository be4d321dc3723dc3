import type { ReactNode } from 'react';
import { ApiError } from '../api/client';

/** A loading line that screen readers announce. */
export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {what}…
    </p>
  );
}

/** An empty state: what is missing, and what to do. */
export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children ? <div className="state-hint">{children}</div> : null}
    </div>
  );
}

function advice(error: Error): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  if (error.status === 0) return undefined;
  if (error.status === 403) return 'Your role does not allow this. Ask an admin for access.';
  if (error.status === 404) return 'It may have been deleted, or the link is wrong.';
  if (error.status >= 500) return 'This is a server fault: try again, and look at the server log.';
  return undefined;
}

/** An error with what to do, and a retry button when `retry` is given. */
export function ErrorNotice({ error, retry }: { error: Error; retry?: () => void }) {
  const hint = advice(error);
  return (
    <div className="state state-error" role="alert">
      <p className="state-title">{error.message}</p>
      {hint ? <p className="state-hint">{hint}</p> : null}
      {retry ? (
        <button type="button" className="button" onClick={() => retry()}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** A small coloured label for a decision, a status or a role. */
export function Badge({ value, label }: { value: string; label?: string }) {
  return <span className={`badge badge-${value}`}>{label ?? value.replaceAll('_', ' ')}</span>;
}

// Decisions made by a policy's on_error rather than by a rule or a default.
const ERROR_REASONS: Record<string, string> = {
  condition_error: 'condition error',
  invalid_arguments: 'invalid arguments',
};

/**
 * The label of a decision: "blocked: condition error" or "held: condition error" when a condition
 * could not be evaluated (or the arguments had the wrong types) and the policy's on_error decided.
 */
export function decisionLabel(decision: string, reason: string | null | undefined): string {
  const cause = reason ? ERROR_REASONS[reason] : undefined;
  if (cause === undefined) return decision.replaceAll('_', ' ');
  return `${decision === 'requires_approval' ? 'held' : decision === 'block' ? 'blocked' : decision.replaceAll('_', ' ')}: ${cause}`;
}

/** A decision's badge, saying when on_error decided it. */
export function DecisionBadge({
  decision,
  reason,
}: {
  decision: string;
  reason: string | null | undefined;
}) {
  return <Badge value={decision} label={decisionLabel(decision, reason)} />;
}
