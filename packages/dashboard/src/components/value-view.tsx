import { useState } from 'react';

// Tool arguments, readable: one line per field, long strings and big objects folded behind a
// "show all" button so that one huge value cannot push the decision buttons off the screen.

const foldAfter = 160;

function LongText({ text }: { text: string }) {
  const [open, setOpen] = useState(false);
  if (text.length <= foldAfter) return <span className="value-string">{JSON.stringify(text)}</span>;
  return (
    <span className="value-string">
      {open ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, foldAfter)).slice(0, -1)}…"`}{' '}
      <button
        type="button"
        className="link-button"
        aria-expanded={open}
        onClick={() => setOpen((value) => !value)}
      >
        {open ? 'fold' : `show all ${text.length.toLocaleString()} characters`}
      </button>
    </span>
  );
}

function Nested({ value }: { value: object }) {
  const text = JSON.stringify(value, null, 2) ?? '';
  const [open, setOpen] = useState(text.length <= 400);
  return (
    <span className="value-nested">
      {open ? (
        <pre className="value-json">{text}</pre>
      ) : (
        <code>{`${JSON.stringify(value).slice(0, 120)}…`}</code>
      )}
      {text.length > 400 ? (
        <button
          type="button"
          className="link-button"
          aria-expanded={open}
          onClick={() => setOpen((current) => !current)}
        >
          {open ? 'fold' : 'show all'}
        </button>
      ) : null}
    </span>
  );
}

/** One JSON value, with long strings and large objects folded. */
export function ValueView({ value }: { value: unknown }) {
  if (typeof value === 'string') return <LongText text={value} />;
  if (value === null || typeof value !== 'object') {
    return <code className="value-scalar">{JSON.stringify(value) ?? String(value)}</code>;
  }
  return <Nested value={value} />;
}

/** A call's arguments: keyword arguments as a field list, positional ones numbered. */
export function ArgumentsView({
  args,
  kwargs,
}: {
  args: unknown[];
  kwargs: Record<string, unknown>;
}) {
  const entries: [string, unknown][] = [
    ...args.map((value, index): [string, unknown] => [`#${index}`, value]),
    ...Object.entries(kwargs ?? {}),
  ];
  if (entries.length === 0) return <p className="muted">No arguments.</p>;
  return (
    <dl className="arguments">
      {entries.map(([name, value]) => (
        <div key={name} className="argument">
          <dt>{name}</dt>
          <dd>
            <ValueView value={value} />
          </dd>
        </div>
      ))}
    </dl>
  );
}
