import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api/client';
import { queries } from '../../api/queries';
import type { Environment, PolicyVersion } from '../../api/types';
import { Empty, ErrorNotice, Loading } from '../../components/states';
import { formatTime } from '../../format';
import { diffLines, policiesToYaml } from '../../policy-yaml';
import { DiffView } from './diff-view';

/** The saved versions of a policy set: who, when, what changed, and a rollback (admins). */
export function HistoryView({
  agentId,
  environment,
  canRollback,
  onRolledBack,
}: {
  agentId: string;
  environment: Environment;
  canRollback: boolean;
  onRolledBack: (version: PolicyVersion) => void;
}) {
  const state = useQuery(queries.policyVersions(agentId, environment));
  const [selected, setSelected] = useState<number | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  if (state.error && !state.data) return <ErrorNotice error={state.error} retry={state.refetch} />;
  if (!state.data) return <Loading what="Loading versions" />;
  const versions = state.data.items;
  if (versions.length === 0) {
    return (
      <Empty title="No version saved yet.">
        Every save is kept here, with who, when and what changed.
      </Empty>
    );
  }
  const current = versions.find((version) => version.version === selected) ?? versions[0]!;
  const index = versions.indexOf(current);
  const previous = versions[index + 1];
  const rollback = async (version: number) => {
    setError(undefined);
    try {
      onRolledBack(await api.rollbackPolicies(agentId, environment, version));
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  return (
    <div className="history">
      <ol className="versions" aria-label="Versions">
        {versions.map((version) => (
          <li key={version.version}>
            <button
              type="button"
              className={`version${version === current ? ' version-selected' : ''}`}
              aria-pressed={version === current}
              onClick={() => setSelected(version.version)}
            >
              <strong>v{version.version}</strong> {formatTime(version.created_at)}
              <span className="muted"> by {version.created_by_email ?? 'the CLI or system'}</span>
              {version.message ? <span className="version-message">{version.message}</span> : null}
              <span className="version-summary">
                {[
                  version.diff.added.length ? `+${version.diff.added.join(', +')}` : '',
                  version.diff.removed.length ? `−${version.diff.removed.join(', −')}` : '',
                  version.diff.changed.length ? `~${version.diff.changed.join(', ~')}` : '',
                ]
                  .filter(Boolean)
                  .join('  ') || 'no change'}
              </span>
            </button>
          </li>
        ))}
      </ol>
      <section className="panel" aria-labelledby="version-diff-title">
        <h3 id="version-diff-title">
          Version {current.version}
          {previous ? ` against version ${previous.version}` : ''}
        </h3>
        <DiffView
          label={`Changes in version ${current.version}`}
          lines={diffLines(
            previous
              ? policiesToYaml(previous.policies)
              : current.version === 1
                ? 'policies: []\n'
                : '',
            policiesToYaml(current.policies),
          )}
        />
        {canRollback && index > 0 ? (
          <button type="button" className="button" onClick={() => void rollback(current.version)}>
            Restore version {current.version} (as a new version)
          </button>
        ) : null}
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
      </section>
    </div>
  );
}
