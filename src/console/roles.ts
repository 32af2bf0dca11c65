import type { ConsoleConfig } from './config.js';

export type ConsoleRole = 'admin' | 'auditor' | 'approver';

/** How a caller was authenticated: a bearer credential (as the identity stage names it) or a browser session. */
export type CallerVia = 'bootstrap-token' | 'token' | 'oidc' | 'console-oidc' | 'dev-login';

/** Someone the console API authenticated, with their roles resolved. */
export interface Caller {
  subject: string;
  groups: string[];
  /** Browser sessions are people. */
  kind: 'human' | 'agent' | 'ci';
  via: CallerVia;
  roles: ReadonlySet<ConsoleRole>;
  /** True when the credential came in the session cookie (CSRF applies). */
  cookie: boolean;
}

/**
 * The console roles of a subject's groups. Admins hold every role; the
 * bootstrap admin token and a dev-mode sign-in are admins whatever their
 * groups.
 *
 * @example
 * rolesOf(['approvers'], 'oidc', { admins: [], auditors: [], approvers: ['approvers'] }); // → Set { 'approver' }
 */
export function rolesOf(groups: readonly string[], via: CallerVia, roles: ConsoleConfig['roles']): Set<ConsoleRole> {
  const has = (wanted: readonly string[]) => groups.some((g) => wanted.includes(g));
  if (via === 'bootstrap-token' || via === 'dev-login' || has(roles.admins)) return new Set(['admin', 'auditor', 'approver']);
  const result = new Set<ConsoleRole>();
  if (has(roles.auditors)) result.add('auditor');
  if (has(roles.approvers)) result.add('approver');
  return result;
}
