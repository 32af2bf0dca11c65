/**
 * A real OpenID Provider (`oidc-provider` 9) on http://127.0.0.1:<port> for
 * tests and demos: demo users with a `groups` claim, the public client
 * `gatehouse` (authorization code + PKCE with loopback redirect URIs on any
 * port, refresh tokens, device authorization grant), key rotation, and a
 * scripted browser that signs users in through the provider's own pages.
 *
 * The sign-in pages are this module's (`interactions.url`), not oidc-provider's
 * development interactions: the login form checks the demo users' passwords,
 * and consent is granted automatically (every client here is first-party).
 *
 * @example
 * ```ts
 * import { startOidcProvider } from './harness/oidc-provider.js';
 *
 * const idp = await startOidcProvider();
 * const { idToken } = await idp.loginAs('alice'); // groups: dev, approvers
 * // gatehouse.yaml: identity.oidc: [{ issuer: idp.issuer, audiences: [gatehouse] }]
 * await idp.stop();
 * ```
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign, decodeJwt, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { JWK, JWSHeaderParameters } from 'jose';
// @ts-expect-error -- oidc-provider 9 ships no type declarations; the few members used are typed below.
import ProviderClass from 'oidc-provider';
// @ts-expect-error -- as above. The package has no `exports` map; this is its own in-memory store.
import { createMemoryAdapter as createMemoryAdapterUntyped } from 'oidc-provider/lib/adapters/memory_adapter.js';

/** A person who can sign in to the demo provider. */
export interface DemoUser {
  /** Account id and `sub` claim. */
  username: string;
  password: string;
  groups: string[];
  email?: string;
  name?: string;
}

/** OAuth client metadata as oidc-provider takes it (RFC 7591 names). */
export interface ClientMetadata {
  client_id: string;
  [property: string]: unknown;
}

export interface OidcProviderOptions {
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /** Default {@link DEMO_USERS}. */
  users?: DemoUser[];
  /** Default [{@link gatehouseClient}()]. */
  clients?: ClientMetadata[];
  /** Seconds; default 3600. */
  accessTokenTtl?: number;
  /** Seconds; default 3600. */
  idTokenTtl?: number;
}

/** What a completed sign-in returns (the token endpoint's answer). */
export interface TokenSet {
  idToken: string;
  accessToken: string;
  refreshToken: string | undefined;
  expiresIn: number;
}

export interface LoginOptions {
  /** Default `gatehouse`. */
  clientId?: string;
  /** Default `openid profile email groups offline_access`; with offline_access, `prompt=consent` is sent so a refresh token is issued. */
  scope?: string;
  /** Any loopback port works for the native client; default `http://127.0.0.1/callback`. */
  redirectUri?: string;
  /** Default the demo user's own password. */
  password?: string;
}

export interface DeviceLoginOptions {
  clientId?: string;
  scope?: string;
  password?: string;
}

export interface OidcProviderHandle {
  /** `http://127.0.0.1:<port>`, exactly the `iss` of its tokens. */
  readonly issuer: string;
  readonly port: number;
  readonly users: readonly DemoUser[];
  /** The `kid` new tokens are signed with. */
  readonly currentKid: string;
  /** Signs with a new key (new `kid`); the JWKS then serves the new key and every earlier one. Returns the new `kid`. */
  rotateKeys(): Promise<string>;
  /**
   * Signs any claims with the provider's current signing key (RS256, its
   * `kid`): tokens a real issuer would vouch for, for testing claim checks.
   * `header` overrides or adds protected header parameters.
   */
  sign(claims: Record<string, unknown>, header?: Partial<JWSHeaderParameters>): Promise<string>;
  /** Authorization code + PKCE sign-in as `username`, driven over HTTP like a browser. */
  loginAs(username: string, options?: LoginOptions): Promise<TokenSet>;
  /**
   * Opens `authorizationUrl` (one the caller built, e.g. a CLI's), signs in
   * as `username` on the login page and follows redirects until the
   * `redirect_uri` of that URL is reached; returns that final URL (with
   * `code` and `state`, or `error`) without requesting it. A CLI listening on
   * a loopback port gets it with `await fetch(url)`.
   */
  completeInteraction(authorizationUrl: string, username: string, password: string): Promise<string>;
  /** Opens a device flow's `verification_uri_complete`, confirms the code and signs in, until the success page. */
  completeDeviceAuthorization(verificationUriComplete: string, username: string, password: string): Promise<void>;
  /** The whole device authorization grant: request, sign in, then poll the token endpoint. */
  deviceLoginAs(username: string, options?: DeviceLoginOptions): Promise<TokenSet>;
  /** The refresh_token grant for a public client. */
  refresh(refreshToken: string, clientId?: string): Promise<TokenSet>;
  stop(): Promise<void>;
}

/** alice (dev, approvers), bob (dev), auditor (auditors); each password is `<username>-password`. */
export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  { username: 'alice', password: 'alice-password', groups: ['dev', 'approvers'], email: 'alice@example.com', name: 'Alice' },
  { username: 'bob', password: 'bob-password', groups: ['dev'], email: 'bob@example.com', name: 'Bob' },
  { username: 'auditor', password: 'auditor-password', groups: ['auditors'], email: 'auditor@example.com', name: 'Auditor' },
]);

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * The public native client `gatehouse login` uses: no secret, PKCE, loopback
 * redirect URIs (oidc-provider lets a native client's `http://127.0.0.1/…`,
 * `http://localhost/…` and `http://[::1]/…` redirect URIs use any port,
 * RFC 8252 §7.3), refresh tokens and the device grant.
 */
export function gatehouseClient(clientId = 'gatehouse'): ClientMetadata {
  return {
    client_id: clientId,
    client_name: 'Gatehouse CLI',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback', 'http://[::1]/callback'],
  };
}

/**
 * The web console as a client: a public web client (PKCE, no secret) whose
 * only redirect URI is the gateway's console callback, e.g.
 * `https://127.0.0.1:6443/gatehouse/v1/auth/callback`.
 */
export function consoleClient(redirectUri: string, clientId = 'gatehouse-console'): ClientMetadata {
  return {
    client_id: clientId,
    client_name: 'Gatehouse console',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
  };
}

// --- the few oidc-provider members used -------------------------------------

interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> } };
  params: Record<string, unknown>;
  grantId?: string;
  session?: { accountId?: string };
}
interface GrantInstance {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: object, options: { mergeWithLastSubmission: boolean }): Promise<void>;
  Grant: { new (init: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;
const Provider = ProviderClass as ProviderConstructor;
/** A factory of oidc-provider storage adapters over one in-memory store. */
type AdapterFactory = (model: string) => unknown;
const createMemoryAdapter = createMemoryAdapterUntyped as () => AdapterFactory;

/** The part of a Koa context the page renderers set. */
interface PageContext {
  body: unknown;
  type: string;
}

// --- start ------------------------------------------------------------------

/**
 * Starts the provider on 127.0.0.1 (plain http: Gatehouse accepts http
 * issuers on loopback only). Discovery is at
 * `<issuer>/.well-known/openid-configuration`, the JWKS at `<issuer>/jwks`.
 *
 * @example
 * ```ts
 * const idp = await startOidcProvider({ idTokenTtl: 300 });
 * const { idToken, refreshToken } = await idp.loginAs('bob', { redirectUri: 'http://127.0.0.1:53682/callback' });
 * ```
 */
export async function startOidcProvider(options: OidcProviderOptions = {}): Promise<OidcProviderHandle> {
  const users = new Map((options.users ?? DEMO_USERS).map((user) => [user.username, user]));
  const clients = options.clients ?? [gatehouseClient()];
  const cookieKeys = [randomBytes(32).toString('hex')];
  const signingKeys: JWK[] = [await newSigningKey()];
  // One store for every provider instance this handle builds (see rotateKeys).
  const adapter = createMemoryAdapter();

  let provider: ProviderInstance | undefined;
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const server = createServer((req, res) => {
    void route(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendPage(res, 500, 'Error', `<p>${escapeHtml(err instanceof Error ? err.message : String(err))}</p>`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  function build(): void {
    provider = new Provider(issuer, configuration({ users, clients, cookieKeys, signingKeys, adapter, options }));
    handle = provider.callback();
  }
  build();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', issuer).pathname;
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(path);
    if (match === null || provider === undefined) {
      handle?.(req, res);
      return;
    }
    if (match[2] === undefined && req.method === 'GET') await showInteraction(provider, req, res);
    else if (match[2] !== undefined && req.method === 'POST') await submitLogin(provider, users, req, res);
    else sendPage(res, 405, 'Method not allowed', '');
  }

  const handleObject: OidcProviderHandle = {
    issuer,
    port,
    get users() {
      return [...users.values()];
    },
    get currentKid() {
      return signingKeys[0]?.kid ?? '';
    },
    async rotateKeys() {
      signingKeys.unshift(await newSigningKey());
      // oidc-provider's key store is fixed at construction: build a new one over the same
      // cookie keys and the same store, so sessions, grants and refresh tokens carry over.
      build();
      return handleObject.currentKid;
    },
    sign: (claims, header) => signWith(signingKeys[0] as JWK, claims, header),
    loginAs: (username, loginOptions) => loginAs(handleObject, username, loginOptions),
    completeInteraction: async (authorizationUrl, username, password) => {
      const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri');
      if (redirectUri === null) throw new Error('the authorization URL has no redirect_uri');
      const target = new URL(redirectUri);
      const result = await browse(new URL(authorizationUrl), { username, password }, (url) => url.origin === target.origin && url.pathname === target.pathname);
      if (result.stoppedAt === undefined) throw new Error(`sign-in ended on ${result.url} without reaching ${redirectUri}`);
      return result.stoppedAt;
    },
    completeDeviceAuthorization: async (verificationUriComplete, username, password) => {
      const result = await browse(new URL(verificationUriComplete), { username, password }, () => false);
      if (!/signed in/i.test(result.body)) throw new Error(`the device sign-in ended on ${result.url} without success`);
    },
    deviceLoginAs: (username, deviceOptions) => deviceLoginAs(handleObject, username, deviceOptions),
    refresh: async (refreshToken, clientId = 'gatehouse') =>
      tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return handleObject;
}

function configuration(input: {
  users: ReadonlyMap<string, DemoUser>;
  clients: ClientMetadata[];
  cookieKeys: string[];
  signingKeys: JWK[];
  adapter: AdapterFactory;
  options: OidcProviderOptions;
}): Record<string, unknown> {
  const { users, clients, cookieKeys, signingKeys, adapter, options } = input;
  return {
    adapter,
    clients,
    jwks: { keys: signingKeys },
    cookies: { keys: cookieKeys },
    findAccount: (_ctx: unknown, sub: string) => {
      const user = users.get(sub);
      if (user === undefined) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          preferred_username: user.username,
          name: user.name ?? user.username,
          email: user.email,
          email_verified: user.email !== undefined,
          groups: user.groups,
        }),
      };
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // Claims of the granted scopes go into the ID token too (not only userinfo), as Kubernetes OIDC expects.
    conformIdTokenClaims: false,
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx: PageContext, form: string, _out: unknown, err: unknown) =>
          renderPage(ctx, 'Device sign-in', `${err === undefined ? '' : '<p>That code was not accepted.</p>'}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`),
        userCodeConfirmSource: (ctx: PageContext, form: string, _client: unknown, _info: unknown, userCode: string) =>
          renderPage(ctx, 'Confirm device', `<p>Code <code>${escapeHtml(userCode)}</code></p>${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`),
        successSource: (ctx: PageContext) => renderPage(ctx, 'Signed in', '<p>You are signed in; you can close this page.</p>'),
      },
      revocation: { enabled: true },
    },
    renderError: (ctx: PageContext, out: Record<string, unknown>) =>
      renderPage(ctx, 'Error', `<p id="error">${escapeHtml(textOf(out['error']))}: ${escapeHtml(textOf(out['error_description']))}</p>`),
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      IdToken: options.idTokenTtl ?? 3600,
      AuthorizationCode: 60,
      DeviceCode: 600,
      RefreshToken: 24 * 3600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
    },
  };
}

// --- the sign-in pages ------------------------------------------------------

async function showInteraction(provider: ProviderInstance, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    sendPage(res, 200, 'Sign in', loginForm(details.uid, ''));
    return;
  }
  if (details.prompt.name !== 'consent') {
    sendPage(res, 501, 'Not implemented', `<p>prompt ${escapeHtml(details.prompt.name)}</p>`);
    return;
  }
  // First-party clients only: consent is granted for whatever was asked.
  const accountId = details.session?.accountId;
  if (accountId === undefined) throw new Error('consent without a signed-in user');
  const grant =
    (details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId)) ??
    new provider.Grant({ accountId, clientId: String(details.params['client_id']) });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

async function submitLogin(provider: ProviderInstance, users: ReadonlyMap<string, DemoUser>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const form = new URLSearchParams(await readBody(req, 16 * 1024));
  const username = form.get('username') ?? '';
  const user = users.get(username);
  if (details.prompt.name !== 'login' || user === undefined || !samePassword(user.password, form.get('password') ?? '')) {
    sendPage(res, 401, 'Sign in', loginForm(details.uid, 'Wrong user name or password.'));
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: user.username, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
}

function loginForm(uid: string, error: string): string {
  return `${error === '' ? '' : `<p id="error">${escapeHtml(error)}</p>`}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<input type="text" name="username" autocomplete="username" autofocus>
<input type="password" name="password" autocomplete="current-password">
<button type="submit">Sign in</button>
</form>`;
}

function samePassword(expected: string, given: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

function renderPage(ctx: PageContext, title: string, body: string): void {
  ctx.type = 'html';
  ctx.body = page(title, body);
}

function sendPage(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(page(title, body));
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  let body = '';
  for await (const chunk of req as AsyncIterable<Buffer>) {
    body += chunk.toString('utf8');
    if (body.length > limit) throw new Error('request body too large');
  }
  return body;
}

// --- keys -------------------------------------------------------------------

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `key-${randomUUID().slice(0, 8)}`, alg: 'RS256', use: 'sig' };
}

async function signWith(jwk: JWK, claims: Record<string, unknown>, header: Partial<JWSHeaderParameters> = {}): Promise<string> {
  const key = await importJWK(jwk, 'RS256');
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: jwk.kid, ...header })
    .sign(key);
}

let foreignKey: Promise<JWK> | undefined;

/**
 * Signs `claims` with an RSA key no provider knows (kid `foreign` unless
 * `header` says otherwise): the signature is well-formed but no trusted JWKS
 * can verify it.
 *
 * @example
 * const forged = await signWithForeignKey({ iss: idp.issuer, sub: 'alice', aud: 'gatehouse', iat, exp });
 */
export async function signWithForeignKey(claims: Record<string, unknown>, header: Partial<JWSHeaderParameters> = {}): Promise<string> {
  foreignKey ??= newSigningKey().then((jwk) => ({ ...jwk, kid: 'foreign' }));
  return signWith(await foreignKey, claims, header);
}

// --- the scripted browser ---------------------------------------------------

/** Cookies by name and path, sent to URLs under their path (enough for one origin). */
class CookieJar {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.split('=').map((s) => s.trim());
        if (key.toLowerCase() === 'path') path = val;
        if (key.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
        if (key.toLowerCase() === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      }
      const id = `${name};${path}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path });
    }
  }

  header(url: URL): string {
    const p = url.pathname;
    return [...this.#cookies.values()]
      .filter((c) => p === c.path || p.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

interface BrowseResult {
  /** The redirect target `stopAt` matched, if it did. */
  stoppedAt: string | undefined;
  /** The last page loaded. */
  url: string;
  body: string;
}

/**
 * Follows redirects and submits forms like a browser with cookies: a form
 * with a password field gets `username` and `password`, any other form is
 * submitted with its hidden fields (oidc-provider's device confirmation).
 * Stops at a redirect `stopAt` accepts, or at a page without a form.
 */
async function browse(start: URL, credentials: { username: string; password: string }, stopAt: (url: URL) => boolean): Promise<BrowseResult> {
  const jar = new CookieJar();
  let request: { url: URL; form?: URLSearchParams } = { url: start };
  let passwordsSent = 0;
  for (let step = 0; step < 30; step++) {
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = jar.header(request.url);
    if (cookie !== '') headers['cookie'] = cookie;
    if (request.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(request.url, {
      method: request.form === undefined ? 'GET' : 'POST',
      headers,
      body: request.form?.toString(),
      redirect: 'manual',
    });
    jar.store(response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel();
      const next = new URL(location, request.url);
      if (stopAt(next)) return { stoppedAt: next.href, url: request.url.href, body: '' };
      request = { url: next };
      continue;
    }
    const body = await response.text();
    if (response.status >= 400) {
      throw new Error(`${request.form === undefined ? 'GET' : 'POST'} ${request.url.pathname} answered HTTP ${response.status}: ${visibleText(body)}`);
    }
    const form = parseForm(body);
    if (form === undefined) return { stoppedAt: undefined, url: request.url.href, body };
    if (form.hasPassword) {
      if (++passwordsSent > 1) throw new Error('the login form came back after signing in');
      form.fields.set('username', credentials.username);
      form.fields.set('password', credentials.password);
    }
    request = { url: new URL(form.action, request.url), form: form.fields };
  }
  throw new Error(`sign-in did not finish within 30 requests (last: ${request.url.href})`);
}

function parseForm(html: string): { action: string; fields: URLSearchParams; hasPassword: boolean } | undefined {
  const match = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (match === null) return undefined;
  const action = attributesOf(match[1] ?? '')['action'] ?? '';
  const fields = new URLSearchParams();
  let hasPassword = false;
  for (const input of (match[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
    const attrs = attributesOf(input[1] ?? '');
    if (attrs['type'] === 'password') hasPassword = true;
    if (attrs['type'] === 'hidden' && attrs['name'] !== undefined) fields.set(attrs['name'], attrs['value'] ?? '');
  }
  return { action, fields, hasPassword };
}

function attributesOf(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w-]+)\s*=\s*"([^"]*)"/g)) attrs[(m[1] ?? '').toLowerCase()] = unescapeHtml(m[2] ?? '');
  return attrs;
}

function unescapeHtml(value: string): string {
  return value
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function visibleText(html: string): string {
  return html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
}

// --- the flows --------------------------------------------------------------

async function loginAs(idp: OidcProviderHandle, username: string, options: LoginOptions = {}): Promise<TokenSet> {
  const user = idp.users.find((u) => u.username === username);
  const password = options.password ?? user?.password;
  if (password === undefined) throw new Error(`no demo user ${username}`);
  const clientId = options.clientId ?? 'gatehouse';
  const scope = options.scope ?? 'openid profile email groups offline_access';
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1/callback';
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const authorization = new URL('/auth', idp.issuer);
  authorization.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope,
    redirect_uri: redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    nonce,
    // oidc-provider drops offline_access unless consent is prompted for (OIDC Core §11).
    ...(scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
  }).toString();

  const callback = new URL(await idp.completeInteraction(authorization.href, username, password));
  const error = callback.searchParams.get('error');
  if (error !== null) throw new Error(`sign-in failed: ${error}: ${callback.searchParams.get('error_description') ?? ''}`);
  if (callback.searchParams.get('state') !== state) throw new Error('the callback carries another state');
  if (callback.searchParams.get('iss') !== idp.issuer) throw new Error('the callback names another issuer');
  const code = callback.searchParams.get('code');
  if (code === null) throw new Error('the callback has no code');
  const tokens = await tokenRequest(idp.issuer, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId });
  if (decodeJwt(tokens.idToken)['nonce'] !== nonce) throw new Error('the id_token carries another nonce');
  return tokens;
}

async function deviceLoginAs(idp: OidcProviderHandle, username: string, options: DeviceLoginOptions = {}): Promise<TokenSet> {
  const user = idp.users.find((u) => u.username === username);
  const password = options.password ?? user?.password;
  if (password === undefined) throw new Error(`no demo user ${username}`);
  const clientId = options.clientId ?? 'gatehouse';
  const response = await fetch(new URL('/device/auth', idp.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, scope: options.scope ?? 'openid profile email groups offline_access' }).toString(),
  });
  const started = (await response.json()) as { device_code?: string; verification_uri_complete?: string; error?: string };
  if (started.device_code === undefined || started.verification_uri_complete === undefined) {
    throw new Error(`device authorization failed: HTTP ${response.status} ${started.error ?? ''}`);
  }
  await idp.completeDeviceAuthorization(started.verification_uri_complete, username, password);
  return tokenRequest(idp.issuer, { grant_type: DEVICE_CODE_GRANT, device_code: started.device_code, client_id: clientId });
}

async function tokenRequest(issuer: string, form: Record<string, string>): Promise<TokenSet> {
  const response = await fetch(new URL('/token', issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || typeof body['id_token'] !== 'string' || typeof body['access_token'] !== 'string') {
    throw new Error(`token request (${form['grant_type']}) failed: HTTP ${response.status} ${textOf(body['error'])}: ${textOf(body['error_description'])}`);
  }
  return {
    idToken: body['id_token'],
    accessToken: body['access_token'],
    refreshToken: typeof body['refresh_token'] === 'string' ? body['refresh_token'] : undefined,
    expiresIn: typeof body['expires_in'] === 'number' ? body['expires_in'] : 0,
  };
}
