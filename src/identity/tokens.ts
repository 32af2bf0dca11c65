import { randomBytes } from 'node:crypto';
import { GatehouseError } from '../errors/codes.js';
import type { Store, TokenKind, TokenRow } from '../store/types.js';
import { hashToken } from './bootstrap-token.js';
import type { Principal } from './principal.js';
import type { Authenticator } from './stage.js';
import { MAX_TOKEN_TTL_SECONDS } from './tokens-ttl.js';

/** Every Gatehouse token starts with this, so authenticators skip others cheaply and secret scanners find leaks. */
export const TOKEN_PREFIX = 'ght_';
// The prefix and 32 random bytes in base64url (43 characters, no padding).
const TOKEN_LENGTH = TOKEN_PREFIX.length + 43;
const KINDS: readonly TokenKind[] = ['agent', 'ci', 'human'];
const NAME = /^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/;

export type TokenStatus = 'active' | 'expired' | 'revoked';

/** A token as shown to administrators: never the secret, never its hash. */
export interface TokenRecord extends Omit<TokenRow, 'createdAt' | 'expiresAt' | 'lastUsedAt' | 'revokedAt'> {
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  status: TokenStatus;
}

export interface NewToken {
  /** Lower-case letters, digits, `.`, `_` and `-`; unique among active tokens. The principal is `token:<name>`. */
  name: string;
  kind: TokenKind;
  groups: string[];
  /** Lifetime; without it the token never expires. */
  ttlSeconds?: number | undefined;
  /** The person accountable for this machine identity. */
  sponsor?: string | undefined;
  description?: string | undefined;
}

export interface TokenService {
  /** Makes a token; `token` is the only time the secret exists outside the caller. */
  create(input: NewToken): Promise<{ token: string; record: TokenRecord }>;
  /** Oldest first; revoked tokens only with `includeRevoked`. */
  list(options?: { includeRevoked?: boolean }): Promise<TokenRecord[]>;
  /** Revokes by id, or by the name of an active token; the next request with it is refused. */
  revoke(idOrName: string): Promise<{ record: TokenRecord; alreadyRevoked: boolean }>;
  /** For the identity stage: `ght_…` tokens that are active → Principal. */
  readonly authenticator: Authenticator;
  /** Writes the pending last-used times now (they are otherwise written within a second). */
  flush(): Promise<void>;
}

export interface TokenServiceOptions {
  /** The clock, in milliseconds since the epoch (default Date.now). */
  now?: () => number;
  /** A token's last-used time is written at most this often (default one minute). */
  lastUsedIntervalMs?: number;
  /** Told when writing last-used times fails; that write is best effort and never fails a request. */
  onBackgroundError?: (err: unknown) => void;
}

/** Why an administrative token operation was refused. */
export class TokenServiceError extends Error {
  readonly code: 'invalid' | 'name-taken' | 'not-found';

  constructor(code: TokenServiceError['code'], message: string) {
    super(message);
    this.name = 'TokenServiceError';
    this.code = code;
  }
}

const FLUSH_DELAY_MS = 1000;

/**
 * Gatehouse tokens for machine identities (agents, CI) and people without
 * OIDC: created with a kind, groups, a lifetime and a sponsor, stored only as
 * a SHA-256 hash, checked against the store on every request, so a
 * revocation holds from the next request on.
 *
 * @example
 * const tokens = createTokenService(openSqliteStore(path));
 * const { token } = await tokens.create({ name: 'cursor-alice', kind: 'agent', groups: ['dev'], ttlSeconds: parseTtl('30d') });
 * const identity = createIdentityStage([bootstrapAuth, tokens.authenticator]);
 */
export function createTokenService(store: Pick<Store, 'tokens'>, options: TokenServiceOptions = {}): TokenService {
  const repo = store.tokens;
  const now = options.now ?? Date.now;
  const interval = options.lastUsedIntervalMs ?? 60_000;
  const pending = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;

  const flush = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0) return;
    const uses = [...pending].map(([id, at]) => ({ id, at }));
    pending.clear();
    await repo.touch(uses);
  };

  const noteUse = (row: TokenRow, at: number): void => {
    if ((row.lastUsedAt !== null && at - row.lastUsedAt < interval) || pending.has(row.id)) return;
    pending.set(row.id, at);
    timer ??= setTimeout(() => {
      flush().catch((err: unknown) => options.onBackgroundError?.(err));
    }, FLUSH_DELAY_MS).unref();
  };

  const authenticator: Authenticator = async (token) => {
    if (token.length !== TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) return undefined;
    let row: TokenRow | undefined;
    try {
      row = await repo.findByHash(hashToken(token));
    } catch (err) {
      throw new GatehouseError('GH_IDENTITY_UNAVAILABLE', 'the gateway could not check the Gatehouse token: its token store is unavailable', {
        cause: err,
        retryAfterSeconds: 5,
      });
    }
    const at = now();
    if (!row || statusOf(row, at) !== 'active') return undefined;
    noteUse(row, at);
    const principal: Principal = { subject: `token:${row.name}`, groups: row.groups, kind: row.kind, via: 'token', tokenId: row.id, sponsor: row.sponsor ?? undefined };
    return principal;
  };

  return {
    async create(input) {
      const at = now();
      const fields = validate(input);
      const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const row: TokenRow = {
        id: randomBytes(6).toString('hex'),
        ...fields,
        createdAt: at,
        expiresAt: input.ttlSeconds === undefined ? null : at + input.ttlSeconds * 1000,
        lastUsedAt: null,
        revokedAt: null,
      };
      if (!(await repo.insertIfNameFree({ ...row, sha256: hashToken(token) }, at))) {
        const holder = await repo.findActiveByName(row.name, at);
        throw new TokenServiceError(
          'name-taken',
          `an active token is already named "${row.name}"${holder ? ` (id ${holder.id})` : ''}: revoke it first or choose another name`,
        );
      }
      return { token, record: toRecord(row, at) };
    },

    async list(listOptions = {}) {
      const at = now();
      const rows = await repo.list({ includeRevoked: listOptions.includeRevoked ?? false });
      return rows.map((r) => toRecord(r, at));
    },

    async revoke(idOrName) {
      const at = now();
      const row = (await repo.findById(idOrName)) ?? (await repo.findActiveByName(idOrName, at));
      if (!row) {
        throw new TokenServiceError('not-found', `unknown token "${idOrName}": no token has that id and no active token has that name`);
      }
      const changed = await repo.revoke(row.id, at);
      const current = (await repo.findById(row.id)) ?? { ...row, revokedAt: row.revokedAt ?? at };
      return { record: toRecord(current, at), alreadyRevoked: !changed };
    },

    authenticator,
    flush,
  };
}

function statusOf(row: TokenRow, at: number): TokenStatus {
  if (row.revokedAt !== null) return 'revoked';
  if (row.expiresAt !== null && row.expiresAt <= at) return 'expired';
  return 'active';
}

function toRecord(row: TokenRow, at: number): TokenRecord {
  const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    groups: [...row.groups],
    sponsor: row.sponsor,
    description: row.description,
    createdAt: new Date(row.createdAt),
    expiresAt: date(row.expiresAt),
    lastUsedAt: date(row.lastUsedAt),
    revokedAt: date(row.revokedAt),
    status: statusOf(row, at),
  };
}

function validate(input: NewToken): Pick<TokenRow, 'name' | 'kind' | 'groups' | 'sponsor' | 'description'> {
  const invalid = (message: string): TokenServiceError => new TokenServiceError('invalid', message);
  if (!NAME.test(input.name)) {
    throw invalid(`invalid token name "${input.name}": use 1-63 lower-case letters, digits, ".", "_" or "-", starting and ending with a letter or digit`);
  }
  if (!KINDS.includes(input.kind)) throw invalid(`invalid token kind "${String(input.kind)}": use one of ${KINDS.join(', ')}`);
  const groups = [...new Set(input.groups.map((g) => g.trim()))];
  for (const group of groups) {
    if (group === '' || /[\s,]/.test(group)) throw invalid(`invalid group "${group}": a group is a non-empty name without spaces or commas`);
    if (group.startsWith('system:')) throw invalid(`invalid group "${group}": groups starting with "system:" are reserved for Kubernetes`);
  }
  const ttl = input.ttlSeconds;
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_TOKEN_TTL_SECONDS)) {
    throw invalid(`invalid TTL ${ttl} seconds: it must be a whole number of seconds between 1 and ${MAX_TOKEN_TTL_SECONDS}`);
  }
  const optional = (label: string, value: string | undefined, max: number): string | null => {
    const text = value?.trim();
    if (!text) return null;
    if (text.length > max) throw invalid(`the ${label} is too long (at most ${max} characters)`);
    return text;
  };
  return {
    name: input.name,
    kind: input.kind,
    groups,
    sponsor: optional('sponsor', input.sponsor, 256),
    description: optional('description', input.description, 1024),
  };
}
