import type Database from 'better-sqlite3';
import type { NewTokenRow, TokenKind, TokenRow, TokensRepo } from './types.js';

interface DbTokenRow {
  id: string;
  name: string;
  kind: TokenKind;
  groups_json: string;
  sponsor: string | null;
  description: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

// Never the hash: nothing read back from the store carries it.
const COLUMNS = 'id, name, kind, groups_json, sponsor, description, created_at, expires_at, last_used_at, revoked_at';
const ACTIVE_AT = 'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)';

/** The tokens table over better-sqlite3; every statement is prepared once, here. */
export function createSqliteTokensRepo(db: Database.Database): TokensRepo {
  const byHash = db.prepare<[string], DbTokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE sha256 = ?`);
  const byId = db.prepare<[string], DbTokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`);
  const activeByName = db.prepare<[string, number], DbTokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE name = ? AND ${ACTIVE_AT} LIMIT 1`);
  const all = db.prepare<[], DbTokenRow>(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at, name`);
  const notRevoked = db.prepare<[], DbTokenRow>(`SELECT ${COLUMNS} FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, name`);
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
    findByHash: (sha256) => settle(() => fromDb(byHash.get(sha256))),
    findById: (id) => settle(() => fromDb(byId.get(id))),
    findActiveByName: (name, now) => settle(() => fromDb(activeByName.get(name, now))),
    list: ({ includeRevoked }) => settle(() => (includeRevoked ? all : notRevoked).all().map((r) => fromDb(r))),
    revoke: (id, at) => settle(() => revoke.run(at, id).changes > 0),
    touch: (uses) => settle(() => touchAll.immediate(uses)),
  };
}

/** Runs a synchronous store call behind the async interface; a throw becomes a rejection. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function fromDb(row: DbTokenRow): TokenRow;
function fromDb(row: DbTokenRow | undefined): TokenRow | undefined;
function fromDb(row: DbTokenRow | undefined): TokenRow | undefined {
  if (row === undefined) return undefined;
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    groups: JSON.parse(row.groups_json) as string[],
    sponsor: row.sponsor,
    description: row.description,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
