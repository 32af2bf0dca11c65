import type { ReactNode } from 'react';

/** Pretty JSON in a disclosure, so large objects don't push the page's actions out of sight. */
export function JsonView({ value, summary, open = false }: { value: unknown; summary: string; open?: boolean }): ReactNode {
  return (
    <details className="json" open={open}>
      <summary>{summary}</summary>
      <pre tabIndex={0}>{JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}
