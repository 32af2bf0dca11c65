import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const cachedTokensSchema = z.object({
  issuer: z.string(),
  clientId: z.string(),
  idToken: z.string(),
  refreshToken: z.string().optional(),
  /** Unix seconds: the ID token's `exp`. */
  expiresAt: z.number(),
});

export type CachedTokens = z.infer<typeof cachedTokensSchema>;

/**
 * The per-user cache of OIDC tokens that `gatehouse login` keeps between
 * kubectl invocations: one 0600 file per issuer and client, in a 0700 folder.
 */
export interface TokenCache {
  read(): CachedTokens | undefined;
  write(tokens: CachedTokens): void;
  readonly path: string;
}

/** Opens the cache entry for one issuer + client id in `dir`. */
export function openTokenCache(dir: string, issuer: string, clientId: string): TokenCache {
  const key = createHash('sha256').update(`${issuer}\n${clientId}`).digest('hex').slice(0, 32);
  const path = join(dir, `${key}.json`);
  return {
    path,
    read() {
      let raw: string;
      try {
        raw = readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
      // A corrupt or foreign entry is treated as absent: the user just signs in again.
      const parsed = cachedTokensSchema.safeParse(safeJson(raw));
      return parsed.success && parsed.data.issuer === issuer && parsed.data.clientId === clientId ? parsed.data : undefined;
    },
    write(tokens) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(tokens), { mode: 0o600 });
      renameSync(tmp, path);
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
