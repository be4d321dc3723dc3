import { useId, useState } from 'react';

// Charts as plain SVG, each with a title, a text summary for screen readers, a tooltip per mark,
// and a table view of the same numbers.

/** One bar or point: its label, its value, and how to print the value. */
export interface Datum {
  label: string;
  value: number;
}

interface ChartProps {
  title: string;
  data: Datum[];
  format: (value: number) => string;
  /** The column heading of the values in the table view. */
  valueLabel: string;
  /** Shown when `data` is empty. */
  empty?: string;
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function ChartFrame({
  title,
  data,
  format,
  valueLabel,
  empty,
  children,
}: ChartProps & { children: (ids: { title: string; description: string }) => React.ReactNode }) {
  const [asTable, setAsTable] = useState(false);
  const id = useId();
  const ids = { title: `${id}-title`, description: `${id}-description` };
  const total = data.reduce((sum, datum) => sum + datum.value, 0);
  const largest = data.reduce<Datum | undefined>(
    (best, datum) => (best === undefined || datum.value > best.value ? datum : best),
    undefined,
  );
  return (
    <figure className="chart">
      <figcaption className="chart-header">
        <span className="chart-title" id={ids.title}>
          {title}
        </span>
        {data.length > 0 ? (
          <button
            type="button"
            className="link-button"
            aria-pressed={asTable}
            onClick={() => setAsTable((value) => !value)}
          >
            {asTable ? 'Show chart' : 'Show table'}
          </button>
        ) : null}
      </figcaption>
      <p className="visually-hidden" id={ids.description}>
        {data.length === 0
          ? (empty ?? 'No data.')
          : `${data.length} entries, ${format(total)} in all; the largest is ${largest?.label}: ${format(largest?.value ?? 0)}.`}
      </p>
      {data.length === 0 ? (
        <p className="muted chart-empty">{empty ?? 'No data in this range.'}</p>
      ) : asTable ? (
        <table className="table table-compact">
          <thead>
            <tr>
              <th scope="col">{title.split(' by ')[1] ?? 'Item'}</th>
              <th scope="col" className="numeric">
                {valueLabel}
              </th>
            </tr>
          </thead>
          <tbody>
            {data.map((datum, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: labels may repeat (timelines).
              <tr key={index}>
                <td>{datum.label}</td>
                <td className="numeric">{format(datum.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        children(ids)
      )}
    </figure>
  );
}

/** Horizontal bars with their labels and values; for categories (models, agents, sessions). */
export function BarChart(props: ChartProps) {
  const { data, format } = props;
  const rowHeight = 28;
  const labelWidth = 170;
  const valueWidth = 90;
  const width = 640;
  const barSpace = width - labelWidth - valueWidth;
  const max = Math.max(...data.map((datum) => datum.value), 0) || 1;
  const height = data.length * rowHeight + 4;
  return (
    <ChartFrame {...props}>
      {(ids) => (
        <svg
          className="chart-svg"
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-labelledby={ids.title}
          aria-describedby={ids.description}
          preserveAspectRatio="xMinYMin meet"
        >
          <title>{props.title}</title>
          {data.map((datum, index) => {
            const y = index * rowHeight + 2;
            const barWidth = Math.max(datum.value > 0 ? 2 : 0, (datum.value / max) * barSpace);
            const label = datum.label.length > 24 ? `${datum.label.slice(0, 23)}…` : datum.label;
            return (
              <g key={datum.label}>
                <title>{`${datum.label}: ${format(datum.value)}`}</title>
                <text
                  x={labelWidth - 8}
                  y={y + rowHeight / 2}
                  className="chart-label"
                  textAnchor="end"
                  dominantBaseline="middle"
                >
                  {label}
                </text>
                <rect
                  x={labelWidth}
                  y={y + 5}
                  width={barWidth}
                  height={rowHeight - 10}
                  rx={3}
                  className="chart-bar"
                />
                <text
                  x={labelWidth + barWidth + 6}
                  y={y + rowHeight / 2}
                  className="chart-value"
                  dominantBaseline="middle"
                >
                  {format(datum.value)}
                </text>
              </g>
            );
          })}
        </svg>
      )}
    </ChartFrame>
  );
}

/** Columns over time (days), with a value axis; for series. */
export function ColumnChart(props: ChartProps) {
  const { data, format } = props;
  const width = 640;
  const height = 220;
  const left = 64;
  const bottom = 36;
  const top = 12;
  const plotWidth = width - left - 8;
  const plotHeight = height - top - bottom;
  const max = niceMax(Math.max(...data.map((datum) => datum.value), 0));
  const step = data.length > 0 ? plotWidth / data.length : plotWidth;
  const barWidth = Math.max(2, Math.min(40, step * 0.7));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((fraction) => fraction * max);
  const labelEvery = Math.max(1, Math.ceil(data.length / 8));
  return (
    <ChartFrame {...props}>
      {(ids) => (
        <svg
          className="chart-svg"
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-labelledby={ids.title}
          aria-describedby={ids.description}
        >
          <title>{props.title}</title>
          {ticks.map((tick) => {
            const y = top + plotHeight - (tick / max) * plotHeight;
            return (
              <g key={tick}>
                <line x1={left} x2={width - 8} y1={y} y2={y} className="chart-grid" />
                <text
                  x={left - 6}
                  y={y}
                  className="chart-axis"
                  textAnchor="end"
                  dominantBaseline="middle"
                >
                  {format(tick)}
                </text>
              </g>
            );
          })}
          {data.map((datum, index) => {
            const barHeight = (datum.value / max) * plotHeight;
            const x = left + index * step + (step - barWidth) / 2;
            return (
              <g key={datum.label}>
                <title>{`${datum.label}: ${format(datum.value)}`}</title>
                <rect
                  x={x}
                  y={top + plotHeight - barHeight}
                  width={barWidth}
                  height={Math.max(datum.value > 0 ? 1 : 0, barHeight)}
                  rx={2}
                  className="chart-bar"
                />
                {index % labelEvery === 0 ? (
                  <text
                    x={x + barWidth / 2}
                    y={height - bottom + 16}
                    className="chart-axis"
                    textAnchor="middle"
                  >
                    {datum.label}
                  </text>
                ) : null}
              </g>
            );
          })}
        </svg>
      )}
    </ChartFrame>
  );
}

/** A line rising over time (a running total), with points. */
export function LineChart(props: ChartProps) {
  const { data, format } = props;
  const width = 640;
  const height = 180;
  const left = 64;
  const bottom = 28;
  const top = 12;
  const plotWidth = width - left - 12;
  const plotHeight = height - top - bottom;
  const max = niceMax(Math.max(...data.map((datum) => datum.value), 0));
  const x = (index: number) =>
    left + (data.length <= 1 ? plotWidth / 2 : (index / (data.length - 1)) * plotWidth);
  const y = (value: number) => top + plotHeight - (value / max) * plotHeight;
  const points = data.map((datum, index) => `${x(index)},${y(datum.value)}`).join(' ');
  const labelEvery = Math.max(1, Math.ceil(data.length / 6));
  return (
    <ChartFrame {...props}>
      {(ids) => (
        <svg
          className="chart-svg"
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-labelledby={ids.title}
          aria-describedby={ids.description}
        >
          <title>{props.title}</title>
          {[0, 0.5, 1].map((fraction) => (
            <g key={fraction}>
              <line
                x1={left}
                x2={width - 12}
                y1={y(fraction * max)}
                y2={y(fraction * max)}
                className="chart-grid"
              />
              <text
                x={left - 6}
                y={y(fraction * max)}
                className="chart-axis"
                textAnchor="end"
                dominantBaseline="middle"
              >
                {format(fraction * max)}
              </text>
            </g>
          ))}
          <polyline points={points} className="chart-line" fill="none" />
          {data.map((datum, index) => (
            // Labels can repeat (two calls in one second); the index keeps keys unique.
            // biome-ignore lint/suspicious/noArrayIndexKey: points are positional.
            <g key={index}>
              <title>{`${datum.label}: ${format(datum.value)}`}</title>
              <circle cx={x(index)} cy={y(datum.value)} r={3.5} className="chart-point" />
              {index % labelEvery === 0 || index === data.length - 1 ? (
                <text
                  x={x(index)}
                  y={height - 8}
                  className="chart-axis"
                  textAnchor={
                    data.length > 1 && index === 0
                      ? 'start'
                      : index === data.length - 1 && data.length > 1
                        ? 'end'
                        : 'middle'
                  }
                >
                  {datum.label}
                </text>
              ) : null}
            </g>
          ))}
        </svg>
      )}
    </ChartFrame>
  );
}
