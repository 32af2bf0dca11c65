import type Database from 'better-sqlite3';
import type { NewTokenRow, TokenKind, TokenRow, TokensRepo } from './types.js';

/** A tokens row as the drivers return it (PostgreSQL returns BIGINT as a string). */
export interface DbTokenRow {
  id: string;
  name: string;
  kind: TokenKind;
  groups_json: string;
  sponsor: string | null;
  description: string | null;
  created_at: number | string;
  expires_at: number | string | null;
  last_used_at: number | string | null;
  revoked_at: number | string | null;
}

// Never the hash: nothing read back from the store carries it.
export const TOKEN_COLUMNS = 'id, name, kind, groups_json, sponsor, description, created_at, expires_at, last_used_at, revoked_at';
export const TOKEN_ACTIVE_AT = 'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)';

/** The tokens table over better-sqlite3; every statement is prepared once, here. */
export function createSqliteTokensRepo(db: Database.Database): TokensRepo {
  const byHash = db.prepare<[string], DbTokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE sha256 = ?`);
  const byId = db.prepare<[string], DbTokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = ?`);
  const activeByName = db.prepare<[string, number], DbTokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE name = ? AND ${TOKEN_ACTIVE_AT} LIMIT 1`);
  const all = db.prepare<[], DbTokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created_at, name`);
  const notRevoked = db.prepare<[], DbTokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, name`);
  const insert = db.prepare(
    `INSERT INTO tokens (id, name, kind, groups_json, sha256, sponsor, description, created_at, expires_at, last_used_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const revoke = db.prepare<[number, string]>('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const touch = db.prepare<[number, string, number]>('UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)');

  const insertIfNameFree = db.transaction((row: NewTokenRow, now: number): boolean => {
    if (activeByName.get(row.name, now)) return false;
    insert.run(
      row.id,
      row.name,
      row.kind,
      JSON.stringify(row.groups),
      row.sha256,
      row.sponsor,
      row.description,
      row.createdAt,
      row.expiresAt,
      row.lastUsedAt,
      row.revokedAt,
    );
    return true;
  });
  const touchAll = db.transaction((uses: ReadonlyArray<{ id: string; at: number }>) => {
    for (const use of uses) touch.run(use.at, use.id, use.at);
  });

  return {
    insertIfNameFree: (row, now) => settle(() => insertIfNameFree.immediate(row, now)),
    findByHash: (sha256) => settle(() => tokenFromDb(byHash.get(sha256))),
    findById: (id) => settle(() => tokenFromDb(byId.get(id))),
    findActiveByName: (name, now) => settle(() => tokenFromDb(activeByName.get(name, now))),
    list: ({ includeRevoked }) => settle(() => (includeRevoked ? all : notRevoked).all().map((r) => tokenFromDb(r))),
    revoke: (id, at) => settle(() => revoke.run(at, id).changes > 0),
    touch: (uses) => settle(() => touchAll.immediate(uses)),
  };
}

/** Runs a synchronous store call behind the async interface; a throw becomes a rejection. */
export function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export function tokenFromDb(row: DbTokenRow): TokenRow;
export function tokenFromDb(row: DbTokenRow | undefined): TokenRow | undefined;
export function tokenFromDb(row: DbTokenRow | undefined): TokenRow | undefined {
  if (row === undefined) return undefined;
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    groups: JSON.parse(row.groups_json) as string[],
    sponsor: row.sponsor,
    description: row.description,
    createdAt: Number(row.created_at),
    expiresAt: nullableNumber(row.expires_at),
    lastUsedAt: nullableNumber(row.last_used_at),
    revokedAt: nullableNumber(row.revoked_at),
  };
}

function nullableNumber(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}
