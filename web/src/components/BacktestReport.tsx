import type { ReactNode } from 'react';
import { Link } from '../router.tsx';
import type { BacktestExample, BacktestGroup, BacktestReport } from '../types.ts';
import { DataTable } from './DataTable.tsx';

/** The audit search that finds this request: its principal at its time (`until` is exclusive). */
function auditPath(e: BacktestExample): string {
  const at = Date.parse(e.time);
  const q = new URLSearchParams({ subject: e.principal, since: new Date(at).toISOString(), until: new Date(at + 1).toISOString() });
  return `/audit?${q.toString()}`;
}

function Example({ e }: { e: BacktestExample }): ReactNode {
  const target = [e.namespace, e.name].filter(Boolean).join('/');
  return (
    <li>
      <Link to={auditPath(e)}>
        {e.verb} {e.resource}
        {target !== '' && ` ${target}`}
      </Link>{' '}
      by <code>{e.principal}</code> at {e.time.slice(0, 19)}Z: {e.before} → {e.detail ?? e.after}
    </li>
  );
}

function Groups({ title, groups }: { title: string; groups: BacktestGroup[] }): ReactNode {
  if (groups.length === 0) return null;
  return (
    <>
      <h3>{title}</h3>
      <DataTable caption={title} columns={['Count', 'Group', 'Example requests']}>
        {groups.map((g) => (
          <tr key={g.key}>
            <td>{g.count}</td>
            <td>
              <code className="wrap">{g.key}</code>
            </td>
            <td>
              <ul className="plain">
                {g.examples.map((e) => (
                  <Example key={e.requestId} e={e} />
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}

/** A backtest or shadow report: the counts, then the changes by transition, rule and principal, and what could not be determined. */
export function BacktestResult({ report }: { report: BacktestReport }): ReactNode {
  return (
    <div aria-live="polite">
      <p className="lead">
        {report.evaluated} request(s) evaluated ({report.skipped} never reached policy) in {report.durationMs} ms: <strong>{report.changed} changed</strong>, {report.unchanged} unchanged,{' '}
        {report.undetermined} undetermined.
      </p>
      {report.evaluated > 0 && report.changed === 0 && <p className="empty">No recorded decision would change.</p>}
      <Groups title="Changes by transition" groups={report.transitions} />
      <Groups title="Changes by rule" groups={report.rules} />
      <Groups title="Changes by principal" groups={report.principals} />
      <Groups title="Undetermined (the record does not hold what the decision depends on)" groups={report.undeterminedReasons} />
    </div>
  );
}
