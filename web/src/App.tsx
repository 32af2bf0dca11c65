import type { ReactNode } from 'react';
import { ApiError, logout, whoami } from './api.ts';
import { ApprovalFeedProvider, useApprovalFeed } from './approvalFeed.tsx';
import { IntegrityIndicator } from './components/IntegrityIndicator.tsx';
import { ErrorNotice, Loading } from './components/Notice.tsx';
import { ApprovalDetail } from './pages/ApprovalDetail.tsx';
import { Audit } from './pages/Audit.tsx';
import { Clusters } from './pages/Clusters.tsx';
import { Gateway } from './pages/Gateway.tsx';
import { History } from './pages/History.tsx';
import { Inbox } from './pages/Inbox.tsx';
import { Policy } from './pages/Policy.tsx';
import { ProposalDetail, Proposals } from './pages/Proposals.tsx';
import { SessionReplay } from './pages/SessionReplay.tsx';
import { Sessions } from './pages/Sessions.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { Tokens } from './pages/Tokens.tsx';
import { Link, matchPath, useLocation } from './router.tsx';
import type { Role, WhoAmI } from './types.ts';
import { useAsync } from './useAsync.ts';

const APPROVALS: Role[] = ['approver', 'auditor', 'admin'];
const AUDIT: Role[] = ['auditor', 'admin'];
const ADMIN: Role[] = ['admin'];

interface Route {
  pattern: string;
  title: string;
  roles: Role[] | 'any';
  render: (params: Record<string, string>, me: WhoAmI) => ReactNode;
  /** Shown in the navigation under this label. */
  nav?: string;
}

const ROUTES: Route[] = [
  { pattern: '/', title: 'Inbox', nav: 'Inbox', roles: APPROVALS, render: () => <Inbox /> },
  { pattern: '/history', title: 'History', nav: 'History', roles: APPROVALS, render: () => <History /> },
  { pattern: '/approvals/:id', title: 'Approval', roles: APPROVALS, render: (p) => <ApprovalDetail key={p.id} id={p.id ?? ''} /> },
  { pattern: '/proposals', title: 'Proposals', nav: 'Proposals', roles: APPROVALS, render: () => <Proposals /> },
  { pattern: '/proposals/:id', title: 'Proposal', roles: APPROVALS, render: (p) => <ProposalDetail key={p.id} id={p.id ?? ''} /> },
  { pattern: '/audit', title: 'Audit', nav: 'Audit', roles: AUDIT, render: () => <Audit /> },
  { pattern: '/sessions', title: 'Sessions', nav: 'Sessions', roles: AUDIT, render: () => <Sessions /> },
  { pattern: '/sessions/:id', title: 'Session replay', roles: AUDIT, render: (p) => <SessionReplay key={p.id} id={p.id ?? ''} /> },
  { pattern: '/policy', title: 'Policy', nav: 'Policy', roles: 'any', render: () => <Policy /> },
  { pattern: '/clusters', title: 'Clusters', nav: 'Clusters', roles: AUDIT, render: (_, me) => <Clusters admin={me.roles.includes('admin')} /> },
  { pattern: '/tokens', title: 'Tokens', nav: 'Tokens', roles: ADMIN, render: () => <Tokens /> },
  { pattern: '/gateway', title: 'Gateway', nav: 'Gateway', roles: AUDIT, render: () => <Gateway /> },
];

function allowed(route: Route, me: WhoAmI): boolean {
  return route.roles === 'any' || route.roles.some((r) => me.roles.includes(r));
}

function ArrivalBanner(): ReactNode {
  const { arrivals, dismiss } = useApprovalFeed();
  const { path } = useLocation();
  // The approval open on this page needs no banner pointing at it.
  const shown = arrivals.filter((a) => path !== `/approvals/${a.id}`);
  const first = shown[0];
  return (
    <div className="arrival-region" role="status" aria-live="polite">
      {first !== undefined && (
        <div className="banner">
          <span>
            {shown.length === 1 ? 'New approval request' : `${shown.length} new approval requests`}: <strong>{first.summary}</strong> from {first.requester.subject}
          </span>
          <Link to={`/approvals/${first.id}`} onClick={dismiss}>
            Review
          </Link>
          <button type="button" className="small" onClick={dismiss}>
            Dismiss
          </button>
        </div>
      )}
    </div>
  );
}

function Header({ me, path, onSignedOut }: { me: WhoAmI; path: string; onSignedOut: () => void }): ReactNode {
  const { pending } = useApprovalFeed();
  const signOut = (): void => void logout().finally(onSignedOut);
  return (
    <header className="top">
      <a href="#main" className="skip">
        Skip to content
      </a>
      <span className="brand">Gatehouse</span>
      <nav aria-label="Main">
        <ul>
          {ROUTES.filter((r) => r.nav !== undefined && allowed(r, me)).map((r) => (
            <li key={r.pattern}>
              <Link to={r.pattern} aria-current={matchPath(r.pattern, path) !== undefined ? 'page' : undefined}>
                {r.nav}
                {r.pattern === '/' && pending.length > 0 && <span className="count"> ({pending.length})</span>}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <span className="me">
        {me.subject} <span className="muted">({me.roles.join(', ') || 'no console role'})</span>
      </span>
      <button type="button" className="small" onClick={signOut}>
        Sign out
      </button>
    </header>
  );
}

/** Says which roles a page needs, so someone sent a link they cannot use knows whom to ask. */
function NotForYourRoles({ needs, me }: { needs: Route['roles']; me: WhoAmI }): ReactNode {
  const names = needs === 'any' ? [] : needs;
  return (
    <p className="notice">
      Your roles do not include this page: it needs the {names.join(', ').replace(/, ([^,]*)$/, ' or $1')} role, and {me.roles.length === 0 ? 'you have no console role' : `you have ${me.roles.join(', ')}`}.
      Ask an administrator if you should have it.
    </p>
  );
}

function Page({ me }: { me: WhoAmI }): ReactNode {
  const { path } = useLocation();
  const found = ROUTES.map((r) => ({ r, params: matchPath(r.pattern, path) })).find((m) => m.params !== undefined);
  // The inbox is the default page; someone who may not see it starts on the policy page.
  const fallback = ROUTES.find((r) => allowed(r, me)) ?? ROUTES[0];
  let body: ReactNode;
  let title: string;
  if (found === undefined || found.params === undefined) {
    title = 'Not found';
    body = <p>There is no page at this address.</p>;
  } else if (!allowed(found.r, me)) {
    title = found.r.title;
    body = found.r.pattern === '/' && fallback !== undefined ? fallback.render({}, me) : <NotForYourRoles needs={found.r.roles} me={me} />;
  } else {
    title = found.r.title;
    body = found.r.render(found.params, me);
  }
  const showsIntegrity = me.roles.some((r) => AUDIT.includes(r));
  return (
    <>
      <Header me={me} path={path} onSignedOut={() => window.location.reload()} />
      <ArrivalBanner />
      <main id="main">
        <div className="page-head">
          {!path.startsWith('/approvals/') && !path.startsWith('/sessions/') && !path.startsWith('/proposals/') && <h1>{title}</h1>}
          {showsIntegrity && (path.startsWith('/audit') || path.startsWith('/sessions')) && <IntegrityIndicator />}
        </div>
        {body}
      </main>
    </>
  );
}

/** Who is signed in decides everything else: the sign-in page, or the console with the pages their roles allow. */
export function App(): ReactNode {
  const { data: me, error, reload } = useAsync(whoami, 'whoami');
  if (error instanceof ApiError && error.status === 401) return <SignIn devLoginAvailable={error.devLogin} onSignedIn={reload} />;
  if (error !== undefined)
    return (
      <main id="main">
        <ErrorNotice error={error} title="The gateway did not answer" />
      </main>
    );
  if (me === undefined)
    return (
      <main id="main">
        <Loading what="the console" />
      </main>
    );
  return (
    <ApprovalFeedProvider enabled={me.roles.some((r) => APPROVALS.includes(r))}>
      <Page me={me} />
    </ApprovalFeedProvider>
  );
}
