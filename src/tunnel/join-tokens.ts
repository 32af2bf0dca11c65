import { randomBytes, randomUUID } from 'node:crypto';
import { hashToken } from '../identity/bootstrap-token.js';
import type { ClusterAgentTokenRow, ClusterAgentTokensRepo } from '../store/cluster-agent-tokens.js';

/**
 * Join tokens start with this, never with a client token's `ght_`: the
 * identity stage does not know them, so a leaked join token cannot call the
 * Kubernetes API, and secret scanners can still find it.
 */
export const JOIN_TOKEN_PREFIX = 'ghj_';

export interface JoinTokens {
  /** Makes a token for `cluster`; the returned `token` is the only time the secret exists. */
  create(input: { cluster: string; description?: string | undefined; createdBy?: string | undefined }): Promise<{ token: string; row: ClusterAgentTokenRow }>;
  /** The active token's row, or undefined for an unknown, malformed or revoked one. */
  verify(token: string): Promise<ClusterAgentTokenRow | undefined>;
  list(options?: { includeRevoked?: boolean }): Promise<ClusterAgentTokenRow[]>;
  revoke(id: string): Promise<boolean>;
}

/**
 * The join tokens cluster agents present when they dial in, stored only as
 * SHA-256 hashes.
 *
 * @example
 * const { token } = await createJoinTokens(store.clusterAgentTokens).create({ cluster: 'prod' });
 */
export function createJoinTokens(repo: ClusterAgentTokensRepo, now: () => number = Date.now): JoinTokens {
  return {
    async create(input) {
      const token = `${JOIN_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const row: ClusterAgentTokenRow = {
        id: randomUUID(),
        cluster: input.cluster,
        description: input.description ?? null,
        createdBy: input.createdBy ?? null,
        createdAt: now(),
        lastUsedAt: null,
        revokedAt: null,
      };
      await repo.insert({ ...row, sha256: hashToken(token) });
      return { token, row };
    },
    async verify(token) {
      if (!token.startsWith(JOIN_TOKEN_PREFIX) || token.length > 200) return undefined;
      const row = await repo.findByHash(hashToken(token));
      if (row === undefined || row.revokedAt !== null) return undefined;
      await repo.touch(row.id, now());
      return row;
    },
    list: (options) => repo.list({ includeRevoked: options?.includeRevoked ?? false }),
    revoke: (id) => repo.revoke(id, now()),
  };
}
