import type { ReactNode } from 'react';

/**
 * The console's table: scrolls sideways on narrow screens, with a caption for
 * screen readers and one header cell per column; `children` are the body rows.
 */
export function DataTable({ caption, columns, className, children }: { caption: string; columns: ReactNode[]; className?: string; children: ReactNode }): ReactNode {
  return (
    <div className="table-scroll">
      <table className={className}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c, i) => (
              // The columns are fixed per table, so their position is a stable key.
              <th key={i} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
