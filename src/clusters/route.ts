import { GatehouseError } from '../errors/codes.js';
import { CONTINUE, stop } from '../pipeline/context.js';
import type { RequestContext, Stage, StageOutcome } from '../pipeline/context.js';

/** The path prefix a client's kubeconfig carries to pick a cluster: `https://gateway/clusters/prod`. */
export const CLUSTER_PATH_PREFIX = '/clusters/';

/**
 * The route stage: picks the cluster from the `/clusters/<name>` prefix of
 * the path (kubectl keeps a server URL's path in front of every request) and
 * strips it, so every later stage and the API server see the ordinary path.
 * Without the prefix the request goes to the default cluster. It runs after
 * identity, so only signed-in callers learn which cluster names exist.
 *
 * @example
 * // GET /clusters/prod/api/v1/pods → ctx.cluster = 'prod', req.url = '/api/v1/pods'
 */
export function createRouteStage(options: { defaultCluster: string; known: (name: string) => boolean; names: () => readonly string[] }): Stage {
  return {
    name: 'route',
    run(ctx: RequestContext): StageOutcome {
      const url = ctx.req.url ?? '/';
      if (!url.startsWith(CLUSTER_PATH_PREFIX)) {
        ctx.cluster = options.defaultCluster;
        return CONTINUE;
      }
      const rest = url.slice(CLUSTER_PATH_PREFIX.length);
      const end = rest.search(/[/?]/);
      const name = end === -1 ? rest : rest.slice(0, end);
      if (!options.known(name)) {
        // The name is echoed only when it is a plain word, never raw bytes from the path.
        const shown = /^[a-z0-9-]{1,63}$/.test(name) ? `"${name}"` : 'in the path';
        return stop(new GatehouseError('GH_UNKNOWN_CLUSTER', `this gateway has no cluster ${shown}; it serves ${options.names().join(', ')}`));
      }
      const remainder = end === -1 ? '/' : rest.slice(end);
      ctx.cluster = name;
      ctx.req.url = remainder.startsWith('?') ? `/${remainder}` : remainder;
      return CONTINUE;
    },
  };
}
