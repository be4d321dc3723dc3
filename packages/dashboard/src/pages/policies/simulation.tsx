import { useState } from 'react';
import type { FlipCounts, HistoryFlip, SimulationCounts } from '../../api/types';
import { Badge } from '../../components/states';
import { formatTime, words } from '../../format';
import { Link } from '../../router';

/** A simulation over the log as it streams in: the counts so far and the flips listed so far. */
export interface SimulationRun {
  counts: SimulationCounts | undefined;
  flips: HistoryFlip[];
  done: boolean;
}

const kindLabel = (kind: string) =>
  kind.replaceAll('requires_approval', 'held').replace('->', ' → ');

function KindTable({ title, counts }: { title: string; counts: FlipCounts }) {
  const kinds = Object.entries(counts.kinds).sort((a, b) => b[1] - a[1]);
  return (
    <div>
      <h4>
        {title}: {counts.changed} {counts.changed === 1 ? 'call changes' : 'calls change'}
      </h4>
      {kinds.length > 0 ? (
        <table className="table table-compact" aria-label={`${title} by kind`}>
          <tbody>
            {kinds.map(([kind, count]) => (
              <tr key={kind}>
                <th scope="row">{kindLabel(kind)}</th>
                <td>{count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

/** The draft's simulation over a window of the log: progress, flips by kind, then the flips. */
export function SimulationView({ simulation }: { simulation: SimulationRun }) {
  const [against, setAgainst] = useState<'current' | 'logged'>('current');
  const [kind, setKind] = useState('');
  const { counts, flips, done } = simulation;
  const field = against === 'current' ? 'vs_current' : 'vs_logged';
  const shown = flips.filter(
    (flip) => flip[field] !== null && (kind === '' || flip[field] === kind),
  );
  const summary = counts?.[field];
  return (
    <section className="panel simulation" aria-labelledby="simulation-title">
      <h3 id="simulation-title">Simulation</h3>
      {counts && !done ? (
        <progress
          aria-label="Simulation progress"
          max={Math.max(1, counts.total)}
          value={counts.scanned}
        />
      ) : null}
      <p role="status">
        {!counts
          ? 'Reading the log…'
          : done && counts.total === 0
            ? 'No logged call in this window.'
            : `${done ? 'Replayed' : 'Replaying'} ${counts.evaluated.toLocaleString('en-US')}${counts.sampled ? ' sampled' : ''} of ${counts.total.toLocaleString('en-US')} calls: against the current policies the draft decides ${counts.vs_current.changed.toLocaleString('en-US')} differently, against the logged decisions ${counts.vs_logged.changed.toLocaleString('en-US')}.`}
      </p>
      {counts ? (
        <div className="simulation-summary">
          <KindTable title="Against the current policies" counts={counts.vs_current} />
          <KindTable title="Against the logged decisions" counts={counts.vs_logged} />
        </div>
      ) : null}
      {counts && (counts.vs_current.changed > 0 || counts.vs_logged.changed > 0) ? (
        <div className="editor-actions">
          <label className="field field-inline">
            <span>Compare with</span>
            <select
              value={against}
              onChange={(event) => {
                setAgainst(event.target.value as 'current' | 'logged');
                setKind('');
              }}
            >
              <option value="current">the current policies</option>
              <option value="logged">the logged decisions</option>
            </select>
          </label>
          <label className="field field-inline">
            <span>Kind</span>
            <select value={kind} onChange={(event) => setKind(event.target.value)}>
              <option value="">every kind</option>
              {Object.keys(summary?.kinds ?? {}).map((value) => (
                <option key={value} value={value}>
                  {kindLabel(value)}
                </option>
              ))}
            </select>
          </label>
        </div>
      ) : null}
      {shown.length > 0 ? (
        <div className="table-scroll">
          <table className="table table-compact" aria-label="Simulated decisions">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Tool</th>
                <th scope="col">Logged</th>
                <th scope="col">Current</th>
                <th scope="col">Draft</th>
                <th scope="col">Why (draft)</th>
              </tr>
            </thead>
            <tbody>
              {shown.slice(0, 500).map((flip) => (
                <tr key={flip.action_id} className="row-changed">
                  <td className="nowrap">{formatTime(flip.created_at)}</td>
                  <td>
                    <Link to={`/actions/${encodeURIComponent(flip.action_id)}`}>
                      <code>{flip.tool_name}</code>
                    </Link>
                  </td>
                  <td>
                    <Badge value={flip.logged} />
                  </td>
                  <td>
                    <Badge value={flip.current.decision} />
                  </td>
                  <td>
                    <span className="visually-hidden">changed to </span>
                    <Badge value={flip.draft.decision} />
                  </td>
                  <td className="small">
                    {flip.draft.explanation ?? words(flip.draft.reason ?? '')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {shown.length > 500 ? (
            <p className="muted">The first 500 are shown; narrow the window or pick a kind.</p>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
