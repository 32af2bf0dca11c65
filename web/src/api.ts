/**
 * The console API client (docs/console-api.md). Every call is same-origin
 * with the session cookie; state-changing calls carry the CSRF header the
 * gateway requires.
 */

import type {
  AuthMethods,
  AuditPage,
  AuditQuery,
  BacktestReport,
  BacktestRequest,
  ClusterView,
  ConsoleApproval,
  ConsoleProposal,
  ConsoleToken,
  CreatedJoinToken,
  CreatedToken,
  ExplainRequest,
  Explanation,
  GatewayStatus,
  Integrity,
  JoinToken,
  NewToken,
  PolicySummary,
  SessionDetail,
  SessionSummary,
  WhoAmI,
} from './types.ts';

export const API = '/gatehouse/v1';

/** An error answer from the gateway, with its HTTP status and code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Set on a 401 when the gateway offers the dev-mode local admin sign-in. */
    readonly devLogin = false,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; devLogin?: unknown };
}

async function toApiError(res: Response): Promise<ApiError> {
  let body: ErrorBody = {};
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    // Not JSON (a proxy's error page, say): the status line is all there is.
  }
  const code = typeof body.error?.code === 'string' ? body.error.code : `http-${res.status}`;
  const message = typeof body.error?.message === 'string' ? body.error.message : `${res.status} ${res.statusText}`;
  return new ApiError(res.status, code, message, body.error?.devLogin === true);
}

async function request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['X-Gatehouse-Console'] = '1';
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(`${API}${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
  });
  if (!res.ok) throw await toApiError(res);
  return (await res.json()) as T;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

export const whoami = (): Promise<WhoAmI> => request('GET', '/whoami');
export const authMethods = (): Promise<AuthMethods> => request('GET', '/auth/methods');
export const devLogin = (): Promise<unknown> => request('POST', '/auth/dev-login');
export const tokenLogin = (token: string): Promise<unknown> => request('POST', '/auth/token-login', { token });
export const logout = (): Promise<unknown> => request('POST', '/auth/logout');
export const loginUrl = (returnTo: string): string => `${API}/auth/login${query({ return: returnTo })}`;

export const listApprovals = async (state?: string, limit?: number): Promise<ConsoleApproval[]> =>
  (await request<{ items: ConsoleApproval[] }>('GET', `/approvals${query({ state, limit })}`)).items;
export const getApproval = (id: string): Promise<ConsoleApproval> => request('GET', `/approvals/${encodeURIComponent(id)}`);
export const decideApproval = (id: string, decision: 'approve' | 'deny', comment: string): Promise<ConsoleApproval> =>
  request('POST', `/approvals/${encodeURIComponent(id)}/${decision}`, comment === '' ? {} : { comment });
export const eventsUrl = `${API}/events`;

export const listProposals = async (state?: string): Promise<ConsoleProposal[]> => (await request<{ items: ConsoleProposal[] }>('GET', `/proposals${query({ state })}`)).items;
export const getProposal = (id: string): Promise<ConsoleProposal> => request('GET', `/proposals/${encodeURIComponent(id)}`);
export const applyProposal = (id: string): Promise<ConsoleProposal> => request('POST', `/proposals/${encodeURIComponent(id)}/apply`, {});
export const rejectProposal = (id: string, comment: string): Promise<ConsoleProposal> => request('POST', `/proposals/${encodeURIComponent(id)}/reject`, { comment });

export const searchAudit = (q: AuditQuery): Promise<AuditPage> => request('GET', `/audit/events${query({ ...q })}`);
export const auditIntegrity = (): Promise<Integrity> => request('GET', '/audit/integrity');

export const listSessions = async (): Promise<SessionSummary[]> => (await request<{ items: SessionSummary[] }>('GET', '/sessions')).items;
export const getSession = (id: string, after?: string): Promise<SessionDetail> => request('GET', `/sessions/${encodeURIComponent(id)}${query({ after })}`);

/** An exec/attach recording as asciicast v2 text; `unverified` plays one whose chunks do not verify (or that is still open). */
export async function getAsciicast(streamSession: string, unverified: boolean): Promise<string> {
  const res = await fetch(`${API}/streams/${encodeURIComponent(streamSession)}/asciicast${query({ unverified: unverified ? 'true' : undefined })}`, {
    credentials: 'same-origin',
  });
  if (!res.ok) throw await toApiError(res);
  return res.text();
}

export const getPolicy = (): Promise<PolicySummary> => request('GET', '/policy');
export const explainPolicy = (req: ExplainRequest): Promise<Explanation> => request('POST', '/policy/explain', req);
export const backtestPolicy = (req: BacktestRequest): Promise<BacktestReport> => request('POST', '/policy/backtest', req);
export const shadowReport = (since: string): Promise<BacktestReport> => request('GET', `/policy/shadow-report${query({ since: since === '' ? undefined : since })}`);

export const listTokens = async (): Promise<ConsoleToken[]> => (await request<{ items: ConsoleToken[] }>('GET', '/tokens')).items;
export const createToken = (t: NewToken): Promise<CreatedToken> => request('POST', '/tokens', t);
export const revokeToken = (id: string): Promise<unknown> => request('DELETE', `/tokens/${encodeURIComponent(id)}`);

export const gatewayStatus = (): Promise<GatewayStatus> => request('GET', '/gateway');

export const listClusters = async (): Promise<ClusterView[]> => (await request<{ items: ClusterView[] }>('GET', '/clusters')).items;
const joinTokensPath = (cluster: string): string => `/clusters/${encodeURIComponent(cluster)}/join-tokens`;
export const listJoinTokens = async (cluster: string): Promise<JoinToken[]> => (await request<{ items: JoinToken[] }>('GET', joinTokensPath(cluster))).items;
export const createJoinToken = (cluster: string, description: string): Promise<CreatedJoinToken> =>
  request('POST', joinTokensPath(cluster), description === '' ? {} : { description });
export const revokeJoinToken = (cluster: string, id: string): Promise<unknown> => request('DELETE', `${joinTokensPath(cluster)}/${encodeURIComponent(id)}`);
