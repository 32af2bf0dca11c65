import { useState } from 'react';
import type { ReactNode } from 'react';
import { ErrorNotice } from './Notice.tsx';

/**
 * Revokes something after the browser asks `question`; `label` says what for
 * screen readers ("Revoke <label>"). An error is shown beside the button.
 *
 * @example
 * <RevokeButton label={t.name} question={`Revoke token "${t.name}"?`} revoke={() => revokeToken(t.id)} onRevoked={reload} />
 */
export function RevokeButton({ label, question, revoke, onRevoked }: { label: string; question: string; revoke: () => Promise<unknown>; onRevoked: () => void }): ReactNode {
  const [error, setError] = useState<unknown>();
  const confirmAndRevoke = (): void => {
    if (!window.confirm(question)) return;
    setError(undefined);
    revoke().then(onRevoked, setError);
  };
  return (
    <>
      <button type="button" className="danger small" onClick={confirmAndRevoke}>
        Revoke<span className="visually-hidden"> {label}</span>
      </button>
      {error !== undefined && <ErrorNotice error={error} />}
    </>
  );
}
