import { useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { createJoinToken, listClusters, listJoinTokens, revokeJoinToken } from '../api.ts';
import { Badge } from '../components/Badge.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { RevokeButton } from '../components/RevokeButton.tsx';
import { CopyButton, SecretOnce } from '../components/SecretOnce.tsx';
import { age, when } from '../format.ts';
import type { ClusterAgent, ClusterView, CreatedJoinToken } from '../types.ts';
import { useAsync } from '../useAsync.ts';
import { useNow } from '../useNow.ts';
import { useRefresh } from '../useRefresh.ts';

/** How often the cluster list is read again, so agents coming and going show without a reload. */
const REFRESH_MS = 5_000;

/** Join-token times are milliseconds since the epoch; the console shows them like its other times. */
const whenMs = (ms: number | null): string => when(ms === null ? null : new Date(ms).toISOString());

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/** The API servers an agent cluster's agents reported, or how it is reached while none is connected. */
function apiServer(c: ClusterView): ReactNode {
  if (c.mode === 'direct') return <code className="nowrap">{c.where}</code>;
  const servers = [...new Set(c.agents.map((a) => a.apiServer))];
  if (servers.length === 0) return <span className="muted">through an agent</span>;
  return servers.map((s) => (
    <div key={s}>
      <code className="nowrap">{s}</code>
    </div>
  ));
}

function AgentCount({ cluster }: { cluster: ClusterView }): ReactNode {
  if (cluster.mode === 'direct') return <span className="muted">—</span>;
  // The warning badge says it in words: colour alone would not.
  if (cluster.agents.length === 0) return <Badge value="no agent connected" />;
  return plural(cluster.agents.length, 'agent');
}

function Agents({ cluster, agents, now }: { cluster: string; agents: ClusterAgent[]; now: number }): ReactNode {
  return (
    <DataTable caption={`Agents connected to ${cluster}`} columns={['Agent', 'Version', 'Kubernetes', 'Address', 'Connected', 'Open streams']}>
      {agents.map((a) => (
        <tr key={a.connection}>
          <td className="nowrap">{a.agentId}</td>
          <td>{a.version}</td>
          <td>{a.kubernetesVersion ?? '—'}</td>
          <td className="nowrap">{a.address}</td>
          <td>
            <time dateTime={a.connectedAt} title={when(a.connectedAt)}>
              {age(a.connectedAt, now)} ago
            </time>
          </td>
          <td>{a.openStreams}</td>
        </tr>
      ))}
    </DataTable>
  );
}

/** The command an admin runs on the cluster's network, for this gateway and cluster. */
function agentCommand(cluster: string): string {
  return `gatehouse agent --gateway ${window.location.origin} --cluster ${cluster} --token-file ${cluster}.token --gateway-ca ca.crt`;
}

function NewJoinToken({ created, onDone }: { created: CreatedJoinToken; onDone: () => void }): ReactNode {
  const cluster = created.joinToken.cluster;
  const command = agentCommand(cluster);
  return (
    <SecretOnce
      secret={created.secret}
      lead={
        <>
          Join token for <strong>{cluster}</strong> made.
        </>
      }
      onDone={onDone}
    >
      <p>
        On a machine on the cluster&apos;s network, save it as <code>{cluster}.token</code> next to the gateway&apos;s CA certificate <code>ca.crt</code> (in the gateway&apos;s
        data directory when it made its own certificate), and run:
      </p>
      <div className="secret-row">
        <pre>
          {command}
        </pre>
        <CopyButton text={command} label="command" />
      </div>
    </SecretOnce>
  );
}

function MakeJoinToken({ cluster, onMade }: { cluster: string; onMade: (c: CreatedJoinToken) => void }): ReactNode {
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setError(undefined);
    createJoinToken(cluster, description.trim()).then((c) => {
      setDescription('');
      onMade(c);
    }, setError);
  };
  return (
    <form className="token-form" onSubmit={submit} aria-label={`Make a join token for ${cluster}`}>
      <label className="grow">
        Description (optional)
        <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={200} placeholder="e.g. eu-west-1 agent" />
      </label>
      <button type="submit" className="primary">
        Make a join token
      </button>
      {error !== undefined && (
        <div className="full">
          <ErrorNotice error={error} title="Could not make the join token" />
        </div>
      )}
    </form>
  );
}

/** An agent cluster's join tokens (admins): make one, see them, revoke one. */
function JoinTokens({ cluster }: { cluster: string }): ReactNode {
  const { data, error, reload } = useAsync(() => listJoinTokens(cluster), `join-tokens-${cluster}`);
  const [created, setCreated] = useState<CreatedJoinToken>();
  const onMade = (c: CreatedJoinToken): void => {
    setCreated(c);
    reload();
  };
  return (
    <>
      <h3>Join tokens</h3>
      <p className="muted">Agents dial in with a join token. It cannot call the Kubernetes API; revoking it ends the tunnels using it within 30 seconds.</p>
      {created !== undefined && <NewJoinToken created={created} onDone={() => setCreated(undefined)} />}
      <MakeJoinToken cluster={cluster} onMade={onMade} />
      {error !== undefined && <ErrorNotice error={error} title="Could not load join tokens" />}
      {data === undefined && error === undefined && <Loading what="join tokens" />}
      {data?.length === 0 && <p className="empty">No join tokens for {cluster} yet.</p>}
      {data !== undefined && data.length > 0 && (
        <DataTable caption={`Join tokens for ${cluster}`} columns={['Description', 'ID', 'Made by', 'Made', 'Last used', 'State']}>
          {data.map((t) => (
            <tr key={t.id}>
              <td>{t.description ?? <span className="muted">—</span>}</td>
              <td className="mono nowrap">{t.id}</td>
              <td>{t.createdBy ?? '—'}</td>
              <td>{whenMs(t.createdAt)}</td>
              <td>{whenMs(t.lastUsedAt)}</td>
              <td>
                {t.revokedAt === null ? (
                  <RevokeButton
                    label={t.description ?? t.id}
                    question={`Revoke the join token${t.description === null ? '' : ` "${t.description}"`} for ${cluster}? Agents using it are disconnected within 30 seconds.`}
                    revoke={() => revokeJoinToken(cluster, t.id)}
                    onRevoked={reload}
                  />
                ) : (
                  `revoked ${whenMs(t.revokedAt)}`
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

function AgentCluster({ cluster, admin, now }: { cluster: ClusterView; admin: boolean; now: number }): ReactNode {
  const headingId = `cluster-${cluster.name}-h`;
  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>{cluster.name}</h2>
      {cluster.agents.length > 0 ? (
        <Agents cluster={cluster.name} agents={cluster.agents} now={now} />
      ) : (
        <p className="notice">
          No agent is connected to {cluster.name}: its requests wait a few seconds for one, then fail with 503.{' '}
          {admin ? 'Make a join token below and run gatehouse agent on the cluster’s network.' : 'An admin can make a join token for an agent.'}
        </p>
      )}
      {admin && <JoinTokens cluster={cluster.name} />}
    </section>
  );
}

/**
 * The clusters this gateway serves (admins and auditors), read again every
 * few seconds: how each is reached, and the agents connected to those reached
 * through agents; admins also make and revoke the agents' join tokens.
 */
export function Clusters({ admin }: { admin: boolean }): ReactNode {
  const { data, error, reload } = useAsync(listClusters, 'clusters');
  const now = useNow(REFRESH_MS);
  useRefresh(reload, REFRESH_MS);
  return (
    <>
      {error !== undefined && <ErrorNotice error={error} title="Could not load clusters" />}
      {data === undefined && error === undefined && <Loading what="clusters" />}
      {data !== undefined && (
        <DataTable caption="Clusters" columns={['Cluster', 'Mode', 'Default', 'API server', 'Agents']}>
          {data.map((c) => (
            <tr key={c.name}>
              <td>
                <strong>{c.name}</strong>
              </td>
              <td>
                <Badge value={c.mode} />
              </td>
              <td>{c.default ? 'default' : <span className="muted">—</span>}</td>
              <td>{apiServer(c)}</td>
              <td className="nowrap">
                <AgentCount cluster={c} />
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {data
        ?.filter((c) => c.mode === 'agent')
        .map((c) => (
          <AgentCluster key={c.name} cluster={c} admin={admin} now={now} />
        ))}
    </>
  );
}
