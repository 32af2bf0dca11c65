import { useState } from 'react';
import type { ChangeEvent, FormEvent, ReactNode } from 'react';
import { backtestPolicy, explainPolicy, getPolicy, shadowReport } from '../api.ts';
import { Badge } from '../components/Badge.tsx';
import { BacktestResult } from '../components/BacktestReport.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { commaList } from '../format.ts';
import type { BacktestReport, BacktestRequest, Explanation, ExplainRequest, PrincipalKind } from '../types.ts';
import { useAsync } from '../useAsync.ts';
import { useFields } from '../useFields.ts';
import { useAction } from '../useAction.ts';

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

const WINDOWS = [
  ['1h', 'the last hour'],
  ['24h', 'the last day'],
  ['7d', 'the last 7 days'],
  ['30d', 'the last 30 days'],
  ['', 'everything recorded'],
] as const;

function WindowSelect({ value, onChange }: { value: string; onChange: (e: ChangeEvent<HTMLSelectElement>) => void }): ReactNode {
  return (
    <label>
      Window
      <select value={value} onChange={onChange}>
        {WINDOWS.map(([v, label]) => (
          <option key={v} value={v}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A report that runs on a button (backtest, shadow report): the last answer, or the error that replaced it. */
function useReport(): { result: BacktestReport | undefined; busy: boolean; error: unknown; run: (work: () => Promise<BacktestReport>) => void } {
  const [result, setResult] = useState<BacktestReport>();
  const action = useAction<BacktestReport>();
  return {
    result: action.error === undefined ? result : undefined,
    busy: action.busy,
    error: action.error,
    run: (work) => action.run(work, setResult),
  };
}

/** Paste or upload a proposed policy and see which recorded decisions it would change (auditors and admins). */
function BacktestForm(): ReactNode {
  const { form, set } = useFields({ policy: '', since: '7d', guardrails: 'yes' });
  // Problems are reported under the uploaded file's name.
  const [file, setFile] = useState('pasted.yaml');
  const { result, busy, error, run } = useReport();
  const [uploadError, setUploadError] = useState<unknown>();
  const upload = (e: ChangeEvent<HTMLInputElement>): void => {
    const chosen = e.target.files?.[0];
    if (chosen === undefined) return;
    setFile(chosen.name);
    chosen.text().then((value) => set('policy')({ target: { value } }), setUploadError);
  };
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const req: BacktestRequest = { policy: form.policy, file, builtinGuardrails: form.guardrails === 'yes' };
    if (form.since !== '') req.since = form.since;
    run(() => backtestPolicy(req));
  };
  return (
    <section aria-labelledby="backtest-h">
      <h2 id="backtest-h">Backtest a policy</h2>
      <p className="muted">What a proposed policy would have decided for the recorded requests, compared with what was decided.</p>
      <form className="explain" onSubmit={submit}>
        <label>
          Policy file
          <input type="file" accept=".yaml,.yml" onChange={upload} />
        </label>
        <WindowSelect value={form.since} onChange={set('since')} />
        <label>
          Guardrail pack
          <select value={form.guardrails} onChange={set('guardrails')}>
            <option value="yes">load it first, as the gateway does</option>
            <option value="no">only the policy below</option>
          </select>
        </label>
        <label className="full">
          Policy (YAML, one or more Policy documents)
          <textarea rows={10} value={form.policy} onChange={set('policy')} spellCheck={false} required />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Running…' : 'Run backtest'}
        </button>
      </form>
      {uploadError !== undefined && <ErrorNotice error={uploadError} title="The file could not be read" />}
      {error !== undefined && <ErrorNotice error={error} title="Backtest failed" />}
      {result !== undefined && <BacktestResult report={result} />}
    </section>
  );
}

/** Where the shadow policy (policy.shadow), judging live traffic beside the enforced one, would have decided otherwise. */
function ShadowReportForm(): ReactNode {
  const { form, set } = useFields({ since: '24h' });
  const { result, busy, error, run } = useReport();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    run(() => shadowReport(form.since));
  };
  return (
    <section aria-labelledby="shadow-h">
      <h2 id="shadow-h">Shadow policy</h2>
      <p className="muted">A proposed policy can run beside the enforced one without enforcing anything (policy.shadow in gatehouse.yaml); here is where the two differed on live traffic.</p>
      <form className="explain" onSubmit={submit}>
        <WindowSelect value={form.since} onChange={set('since')} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Reading…' : 'Show the shadow report'}
        </button>
      </form>
      {error !== undefined && <ErrorNotice error={error} title="No shadow report" />}
      {result !== undefined && <BacktestResult report={result} />}
    </section>
  );
}

/** The active policy, a box to see what it would do with a request, a backtest of a proposed one, and the shadow policy's report. */
export function Policy(): ReactNode {
  return (
    <>
      <RulesTable />
      <ExplainForm />
      <BacktestForm />
      <ShadowReportForm />
    </>
  );
}
