/**
 * The store's schema, one numbered migration at a time. A migration is never
 * edited once released; a change is a new migration with the next number.
 * The SQL sticks to what SQLite and PostgreSQL both accept where it can
 * (times are integer milliseconds since the epoch, lists are JSON text).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tokens',
    sql: `
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('agent', 'ci', 'human')),
        groups_json TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        sponsor TEXT,
        description TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        last_used_at BIGINT,
        revoked_at BIGINT
      );
      CREATE INDEX tokens_name ON tokens (name);
    `,
  },
];
