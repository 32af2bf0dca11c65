/**
 * Request URLs as the log may show them: the path, and the query with the
 * values of anything but the Kubernetes API's own plain parameters replaced.
 * A query can carry secrets: an exec's `command=` arguments
 * (`mysql -p<password>`), or anything a client sends to an application
 * through a `services/proxy` or `pods/proxy` path.
 *
 * @module
 */

// Parameters of the Kubernetes API whose values say how, not what: kept for debugging.
const PLAIN = new Set([
  'allowWatchBookmarks', 'container', 'continue', 'dryRun', 'fieldManager', 'fieldSelector', 'fieldValidation', 'follow',
  'force', 'gracePeriodSeconds', 'labelSelector', 'limit', 'limitBytes', 'orphanDependents', 'ports', 'pretty', 'previous',
  'propagationPolicy', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'sinceSeconds', 'sinceTime',
  'stderr', 'stdin', 'stdout', 'tailLines', 'timeout', 'timeoutSeconds', 'timestamps', 'tty', 'watch',
]);

export const REDACTED = '<redacted>';

/**
 * @example
 * loggableUrl('/api/v1/namespaces/a/pods/p/exec?command=mysql&command=-ps3cret&stdin=true');
 * // → '/api/v1/namespaces/a/pods/p/exec?command=<redacted>&command=<redacted>&stdin=true'
 */
export function loggableUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  if (q === -1) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      const name = pair.slice(0, eq);
      return PLAIN.has(name) ? pair : `${name}=${REDACTED}`;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}
