import { useState } from 'react';
import type { ReactNode } from 'react';
import { authMethods, devLogin, loginUrl } from '../api.ts';
import { ErrorNotice } from '../components/Notice.tsx';
import { useAsync } from '../useAsync.ts';

/**
 * Shown when whoami answers 401: the OIDC sign-in when the gateway has a
 * provider, and the local admin one when it runs in dev mode (the 401 says so,
 * and so does /auth/methods).
 */
export function SignIn({ devLoginAvailable, onSignedIn }: { devLoginAvailable: boolean; onSignedIn: () => void }): ReactNode {
  const methods = useAsync(authMethods, 'auth-methods').data;
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const returnTo = window.location.pathname + window.location.search;
  const signInAsAdmin = (): void => {
    setBusy(true);
    devLogin().then(onSignedIn, (e: unknown) => {
      setError(e);
      setBusy(false);
    });
  };
  return (
    <main id="main" className="signin">
      <h1>Gatehouse console</h1>
      <p>Sign in to review held requests, search the audit record and replay sessions.</p>
      {methods?.oidc !== false && (
        <a className="button primary" href={loginUrl(returnTo)}>
          Sign in
        </a>
      )}
      {methods?.oidc === false && !devLoginAvailable && <p className="notice">Browser sign-in is not configured on this gateway: use a bearer token with the API.</p>}
      {(devLoginAvailable || methods?.devLogin === true) && (
        <button type="button" onClick={signInAsAdmin} disabled={busy}>
          Sign in as local admin (dev mode)
        </button>
      )}
      {error !== undefined && <ErrorNotice error={error} title="Sign-in failed" />}
    </main>
  );
}
