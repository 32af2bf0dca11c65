import { useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { authMethods, devLogin, loginUrl, tokenLogin } from '../api.ts';
import { ErrorNotice } from '../components/Notice.tsx';
import { useAsync } from '../useAsync.ts';

/**
 * Shown when whoami answers 401: the OIDC sign-in when the gateway has a
 * provider, a token a person holds (the admin token `gatehouse up` printed, a
 * human Gatehouse token), and the local admin one when it runs in dev mode
 * (the 401 says so, and so does /auth/methods).
 */
export function SignIn({ devLoginAvailable, onSignedIn }: { devLoginAvailable: boolean; onSignedIn: () => void }): ReactNode {
  const methods = useAsync(authMethods, 'auth-methods').data;
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const returnTo = window.location.pathname + window.location.search;
  const [token, setToken] = useState('');
  const attempt = (signIn: () => Promise<unknown>): void => {
    setBusy(true);
    setError(undefined);
    signIn().then(onSignedIn, (e: unknown) => {
      setError(e);
      setBusy(false);
    });
  };
  const signInAsAdmin = (): void => attempt(devLogin);
  const signInWithToken = (e: FormEvent): void => {
    e.preventDefault();
    attempt(() => tokenLogin(token));
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
      <form className="token-signin" onSubmit={signInWithToken}>
        <label htmlFor="signin-token">Or sign in with a token you hold (e.g. the admin token gatehouse up printed)</label>
        <input id="signin-token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} />
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in with token
        </button>
      </form>
      {(devLoginAvailable || methods?.devLogin === true) && (
        <button type="button" onClick={signInAsAdmin} disabled={busy}>
          Sign in as local admin (dev mode)
        </button>
      )}
      {error !== undefined && <ErrorNotice error={error} title="Sign-in failed" />}
    </main>
  );
}
