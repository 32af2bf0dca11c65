import type { ReactNode } from 'react';

function lineClass(line: string): string {
  if (line.startsWith('+++') || line.startsWith('---')) return 'diff-file';
  if (line.startsWith('@@')) return 'diff-hunk';
  if (line.startsWith('+')) return 'diff-add';
  if (line.startsWith('-')) return 'diff-del';
  return '';
}

/** A unified diff with added and removed lines coloured (and marked by their +/- for colour-blind readers). */
export function DiffView({ diff }: { diff: string }): ReactNode {
  return (
    <pre className="diff" tabIndex={0} aria-label="Unified diff of the change">
      {diff.split('\n').map((line, i) => (
        <span key={i} className={lineClass(line)}>
          {line}
          {'\n'}
        </span>
      ))}
    </pre>
  );
}
