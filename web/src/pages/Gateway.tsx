import type { ReactNode } from 'react';
import { gatewayStatus } from '../api.ts';
import { Badge } from '../components/Badge.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { age, when } from '../format.ts';
import type { ReloadRecord } from '../types.ts';
import { useAsync } from '../useAsync.ts';
import { useNow } from '../useNow.ts';
import { useRefresh } from '../useRefresh.ts';

/** Read again this often, so a reload (SIGHUP or an edit of the file) shows without reloading the page. */
const REFRESH_MS = 5_000;

const TRIGGERS: Record<ReloadRecord['trigger'], string> = { signal: 'SIGHUP', file: 'an edit of the config file' };

function LastReload({ reload }: { reload: ReloadRecord | null }): ReactNode {
  if (reload === null) return <p className="muted">No reload since the gateway started.</p>;
  const at = (
    <time dateTime={reload.at} title={reload.at}>
      {when(reload.at)}
    </time>
  );
  if (!reload.ok) {
    return (
      <div className="notice" role="alert">
        <p>
          <Badge value="rejected" /> The reload on {at}, after {TRIGGERS[reload.trigger]}, was rejected: the previous configuration stays in force until the file is
          fixed.
        </p>
        <pre className="wrap">{reload.reason}</pre>
      </div>
    );
  }
  return (
    <p>
      <Badge value="applied" /> Reloaded on {at}, after {TRIGGERS[reload.trigger]}:{' '}
      {reload.changed.length > 0 ? (
        <>
          {reload.changed.map((s, i) => (
            <span key={s}>
              {i > 0 && ', '}
              <code>{s}</code>
            </span>
          ))}{' '}
          changed.
        </>
      ) : (
        'nothing that applies live changed.'
      )}
    </p>
  );
}

/**
 * The gateway itself (admins and auditors): since when it runs, its log
 * level, the config file and how its last reload went, and the changed
 * settings that wait for a restart (docs/operations.md, "Reloading").
 */
export function Gateway(): ReactNode {
  const { data, error, reload } = useAsync(gatewayStatus, 'gateway');
  const now = useNow(REFRESH_MS);
  useRefresh(reload, REFRESH_MS);
  if (error !== undefined) return <ErrorNotice error={error} title="Could not load the gateway's status" />;
  if (data === undefined) return <Loading what="the gateway's status" />;
  return (
    <>
      <dl className="facts">
        <dt>Running for</dt>
        <dd>
          <time dateTime={data.startedAt} title={when(data.startedAt)}>
            {age(data.startedAt, now)}
          </time>
        </dd>
        <dt>Config file</dt>
        <dd>{data.configFile === null ? <span className="muted">none (command-line flags only)</span> : <code>{data.configFile}</code>}</dd>
        <dt>Log level</dt>
        <dd>
          <code>{data.logLevel}</code> <span className="muted">(change it with gatehouse log-level)</span>
        </dd>
      </dl>
      <section aria-labelledby="reload-h">
        <h2 id="reload-h">Configuration reload</h2>
        <LastReload reload={data.lastReload} />
        {data.restartPending.length > 0 && (
          <DataTable caption="Changed settings waiting for a restart" columns={['Setting', 'Why it needs a restart']}>
            {data.restartPending.map((r) => (
              <tr key={r.setting}>
                <td>
                  <code>{r.setting}</code>
                </td>
                <td>{r.why}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}
