import { useState } from 'react';
import type { Simulation } from '../../api/types';
import { Badge } from '../../components/states';
import { formatTime, words } from '../../format';
import { Link } from '../../router';

/** The draft's simulation: the logged calls it would decide differently, or all of them. */
export function SimulationView({ simulation }: { simulation: Simulation }) {
  const [onlyChanges, setOnlyChanges] = useState(simulation.changed > 0);
  const items = onlyChanges ? simulation.items.filter((item) => item.changed) : simulation.items;
  return (
    <section className="panel simulation" aria-labelledby="simulation-title">
      <h3 id="simulation-title">Simulation</h3>
      <p role="status">
        {simulation.evaluated === 0
          ? 'No logged call to replay yet in this environment.'
          : `On the last ${simulation.evaluated} calls, the draft decides ${simulation.changed} differently.`}
      </p>
      {simulation.evaluated > 0 ? (
        <label className="checkbox">
          <input
            type="checkbox"
            checked={onlyChanges}
            onChange={(event) => setOnlyChanges(event.target.checked)}
          />{' '}
          Only the calls that change
        </label>
      ) : null}
      {items.length > 0 ? (
        <div className="table-scroll">
          <table className="table table-compact" aria-label="Simulated decisions">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Tool</th>
                <th scope="col">Logged</th>
                <th scope="col">Draft</th>
                <th scope="col">Why (draft)</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.action_id} className={item.changed ? 'row-changed' : undefined}>
                  <td className="nowrap">{formatTime(item.created_at)}</td>
                  <td>
                    <Link to={`/actions/${encodeURIComponent(item.action_id)}`}>
                      <code>{item.tool_name}</code>
                    </Link>
                  </td>
                  <td>
                    <Badge value={item.old.decision} />
                  </td>
                  <td>
                    {item.changed ? <span className="visually-hidden">changed to </span> : null}
                    <Badge value={item.new.decision} />
                  </td>
                  <td className="small">{item.new.explanation ?? words(item.new.reason ?? '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
