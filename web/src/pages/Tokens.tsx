import { useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { createToken, listTokens, revokeToken } from '../api.ts';
import { DataTable } from '../components/DataTable.tsx';
import { ErrorNotice, Loading } from '../components/Notice.tsx';
import { RevokeButton } from '../components/RevokeButton.tsx';
import { SecretOnce } from '../components/SecretOnce.tsx';
import { commaList, when } from '../format.ts';
import type { CreatedToken, NewToken, PrincipalKind } from '../types.ts';
import { useAsync } from '../useAsync.ts';
import { useFields } from '../useFields.ts';

function CreateForm({ onCreated }: { onCreated: (c: CreatedToken) => void }): ReactNode {
  const { form, set, reset } = useFields({ name: '', kind: 'agent', groups: '', ttl: '30d', description: '' });
  const [error, setError] = useState<unknown>();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const t: NewToken = {
      name: form.name.trim(),
      kind: form.kind as PrincipalKind,
      groups: commaList(form.groups),
    };
    if (form.ttl.trim() !== '') t.ttl = form.ttl.trim();
    if (form.description.trim() !== '') t.description = form.description.trim();
    setError(undefined);
    createToken(t).then((c) => {
      reset();
      onCreated(c);
    }, setError);
  };
  return (
    <form className="token-form" onSubmit={submit} aria-labelledby="create-h">
      <h2 id="create-h">Create a token</h2>
      <label>
        Name
        <input value={form.name} onChange={set('name')} required />
      </label>
      <label>
        Kind
        <select value={form.kind} onChange={set('kind')}>
          <option value="agent">agent</option>
          <option value="ci">ci</option>
          <option value="human">human</option>
        </select>
      </label>
      <label>
        Groups (comma-separated)
        <input value={form.groups} onChange={set('groups')} />
      </label>
      <label>
        Lifetime (e.g. 12h, 30d)
        <input value={form.ttl} onChange={set('ttl')} pattern="\d+[smhd]" title="a whole number and s, m, h or d" />
      </label>
      <label className="full">
        Description
        <input value={form.description} onChange={set('description')} />
      </label>
      <button type="submit" className="primary">
        Create token
      </button>
      {error !== undefined && <ErrorNotice error={error} title="Could not create the token" />}
    </form>
  );
}

/** Machine tokens for agents and CI (admins only). */
export function Tokens(): ReactNode {
  const { data, error, reload } = useAsync(listTokens, 'tokens');
  const [created, setCreated] = useState<CreatedToken>();
  const onCreated = (c: CreatedToken): void => {
    setCreated(c);
    reload();
  };
  return (
    <>
      {created !== undefined && (
        <SecretOnce
          secret={created.secret}
          lead={
            <>
              Token <strong>{created.token.name}</strong> created.
            </>
          }
          onDone={() => setCreated(undefined)}
        />
      )}
      <CreateForm onCreated={onCreated} />
      <h2>Tokens</h2>
      {error !== undefined && <ErrorNotice error={error} title="Could not load tokens" />}
      {data === undefined && error === undefined && <Loading what="tokens" />}
      {data?.length === 0 && <p className="empty">No tokens yet.</p>}
      {data !== undefined && data.length > 0 && (
        <DataTable caption="Machine tokens" columns={['Name', 'Kind', 'Groups', 'Created', 'Expires', 'Last used', 'State']}>
          {data.map((t) => (
            <tr key={t.id}>
              <td>
                {t.name}
                {t.description !== null && <div className="muted">{t.description}</div>}
              </td>
              <td>{t.kind}</td>
              <td>{t.groups.join(', ') || '—'}</td>
              <td>{when(t.createdAt)}</td>
              <td>{t.expiresAt === null ? 'never' : when(t.expiresAt)}</td>
              <td>{when(t.lastUsedAt)}</td>
              <td>
                {t.status === 'active' ? (
                  <RevokeButton label={t.name} question={`Revoke token "${t.name}"? Anything using it stops working at once.`} revoke={() => revokeToken(t.id)} onRevoked={reload} />
                ) : t.status === 'revoked' ? (
                  `revoked ${when(t.revokedAt)}`
                ) : (
                  'expired'
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}
