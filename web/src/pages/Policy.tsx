import { useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { explainPolicy, getPolicy } from '../api.ts';
import { Badge } from '../components/Badge.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { commaList } from '../format.ts';
import type { Explanation, ExplainRequest, PrincipalKind } from '../types.ts';
import { useAsync } from '../useAsync.ts';
import { useFields } from '../useFields.ts';

function RulesTable(): ReactNode {
  const { data, error } = useAsync(getPolicy, 'policy');
  if (error !== undefined) return <ErrorNotice error={error} title="Could not load the policy" />;
  if (data === undefined) return <Loading what="policy" />;
  return (
    <section aria-labelledby="rules-h">
      <h2 id="rules-h">Active rules</h2>
      <p>
        Default action: <Badge value={data.defaultAction} /> <span className="muted">(from {data.defaultActionFrom})</span>
      </p>
      <DataTable caption="Active policy rules, in order" columns={['Rule', 'Action', 'Description', 'Where']}>
        {data.rules.map((r) => (
          <tr key={`${r.policy}/${r.name}`}>
            <td>
              <code>{r.name}</code>
            </td>
            <td>
              <Badge value={r.action} />
            </td>
            <td>{r.description ?? '—'}</td>
            <td>
              <code className="wrap">{r.location}</code>
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}

function ExplainResult({ result }: { result: Explanation }): ReactNode {
  const d = result.decision;
  return (
    <div aria-live="polite">
      <p className="lead">
        Decision: <Badge value={d.action} /> {d.rule === null ? 'by default (no rule matched)' : <>by rule <code>{d.rule}</code></>}: {d.message}
      </p>
      {d.hint !== null && <p className="muted">Hint: {d.hint}</p>}
      <DataTable caption="Every rule's verdict on the request" columns={['Rule', 'Action', 'Verdict', 'Why']}>
        {result.rules.map((r) => (
          <tr key={`${r.location}/${r.name}`} className={r.outcome === 'matched' ? 'matched' : undefined}>
            <td>
              <code>{r.name}</code>
            </td>
            <td>
              <Badge value={r.action} />
            </td>
            <td>{r.outcome}</td>
            <td>{r.reason}</td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}

function ExplainForm(): ReactNode {
  const { form, set } = useFields({ method: 'GET', path: '/api/v1/namespaces/default/pods', body: '', subject: '', groups: '', kind: 'human' });
  const [result, setResult] = useState<Explanation>();
  const [error, setError] = useState<unknown>();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const req: ExplainRequest = { method: form.method, path: form.path, kind: form.kind as PrincipalKind };
    if (form.body.trim() !== '') req.body = form.body;
    if (form.subject.trim() !== '') req.subject = form.subject.trim();
    const groups = commaList(form.groups);
    if (groups.length > 0) req.groups = groups;
    setError(undefined);
    explainPolicy(req).then(setResult, (err: unknown) => {
      setResult(undefined);
      setError(err);
    });
  };
  return (
    <section aria-labelledby="explain-h">
      <h2 id="explain-h">Test a request</h2>
      <form className="explain" onSubmit={submit}>
        <label>
          Method
          <select value={form.method} onChange={set('method')}>
            {['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label className="grow">
          Path
          <input value={form.path} onChange={set('path')} required />
        </label>
        <label>
          Subject
          <input value={form.subject} onChange={set('subject')} placeholder="you" />
        </label>
        <label>
          Groups (comma-separated)
          <input value={form.groups} onChange={set('groups')} />
        </label>
        <label>
          Kind
          <select value={form.kind} onChange={set('kind')}>
            <option value="human">human</option>
            <option value="agent">agent</option>
            <option value="ci">ci</option>
          </select>
        </label>
        <label className="full">
          Body (YAML or JSON, optional)
          <textarea rows={6} value={form.body} onChange={set('body')} spellCheck={false} />
        </label>
        <button type="submit" className="primary">
          Explain
        </button>
      </form>
      {error !== undefined && <ErrorNotice error={error} title="Explain failed" />}
      {result !== undefined && <ExplainResult result={result} />}
    </section>
  );
}

/** The active policy and a box to see what it would do with a request. */
export function Policy(): ReactNode {
  return (
    <>
      <RulesTable />
      <ExplainForm />
    </>
  );
}
