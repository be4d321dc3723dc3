import type { DiffLine } from '../../policy-yaml';

/** A line diff, added lines green and removed ones red. */
export function DiffView({ lines, label }: { lines: DiffLine[]; label: string }) {
  const changed = lines.some((line) => line.kind !== 'same');
  if (!changed) return <p className="muted">No change.</p>;
  return (
    <pre className="diff" title={label}>
      {lines.map((line, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: diff lines are positional.
        <span key={index} className={`diff-line diff-${line.kind}`}>
          {line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}
          {line.text}
          {'\n'}
        </span>
      ))}
    </pre>
  );
}
