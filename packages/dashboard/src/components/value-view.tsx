import { useState } from 'react';
import { formatJsonText, jsonEntries } from '../json-text';

// Tool arguments, readable: one line per field, long strings and big objects folded behind a
// "show all" button so that one huge value cannot push the decision buttons off the screen.

const foldAfter = 160;

/** The JSON text of one value as sent: strings and long objects folded, nothing re-parsed. */
export function JsonTextView({ text }: { text: string }) {
  const trimmed = text.trim();
  if (trimmed.startsWith('"')) return <LongJsonString text={trimmed} />;
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return <NestedText text={trimmed} />;
  return <code className="value-scalar">{trimmed}</code>;
}

function LongJsonString({ text }: { text: string }) {
  const [open, setOpen] = useState(false);
  if (text.length <= foldAfter + 2) return <span className="value-string">{text}</span>;
  return (
    <span className="value-string">
      {open ? text : `${text.slice(0, foldAfter + 1)}…"`}{' '}
      <button
        type="button"
        className="link-button"
        aria-expanded={open}
        onClick={() => setOpen((value) => !value)}
      >
        {open ? 'fold' : `show all ${(text.length - 2).toLocaleString()} characters`}
      </button>
    </span>
  );
}

function NestedText({ text }: { text: string }) {
  const formatted = formatJsonText(text);
  const [open, setOpen] = useState(formatted.length <= 400);
  return (
    <span className="value-nested">
      {open ? (
        <pre className="value-json">{formatted}</pre>
      ) : (
        <code>{`${text.slice(0, 120)}…`}</code>
      )}
      {formatted.length > 400 ? (
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

/**
 * A call's arguments exactly as the agent sent them (from `args_json` and `kwargs_json`):
 * keyword arguments as a field list, positional ones numbered.
 */
export function ArgumentsView({ argsJson, kwargsJson }: { argsJson: string; kwargsJson: string }) {
  const entries: [string, string][] = [
    ...(jsonEntries(argsJson) ?? []),
    ...(jsonEntries(kwargsJson) ?? []),
  ];
  if (entries.length === 0) return <p className="muted">No arguments.</p>;
  return (
    <dl className="arguments">
      {entries.map(([name, value]) => (
        <div key={name} className="argument">
          <dt>{name}</dt>
          <dd>
            <JsonTextView text={value} />
          </dd>
        </div>
      ))}
    </dl>
  );
}
