import type { ReactNode } from 'react';

/** A policy action, approval state or decision as a coloured word (the word carries the meaning, colour only helps). */
export function Badge({ value }: { value: string }): ReactNode {
  return <span className={`badge badge-${value.replace(/[^a-z-]/gi, '').toLowerCase()}`}>{value}</span>;
}
