/**
 * Label values for request metrics. Every label takes its value from a fixed
 * set, so a client cannot grow the number of series by inventing resources or
 * verbs: anything outside the set is "other".
 *
 * @module
 */

import type { RequestContext } from '../pipeline/context.js';

const OTHER = 'other';

// Resource verbs, plus the lower-case HTTP methods non-resource requests report.
const VERBS: ReadonlySet<string> = new Set([
  'get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'proxy',
  'post', 'put', 'head', 'options',
]);

// The built-in resources of a current Kubernetes release; custom resources are "other".
const RESOURCES: ReadonlySet<string> = new Set([
  'apiservices', 'bindings', 'certificatesigningrequests', 'clusterrolebindings', 'clusterroles', 'componentstatuses',
  'configmaps', 'controllerrevisions', 'cronjobs', 'csidrivers', 'csinodes', 'csistoragecapacities',
  'customresourcedefinitions', 'daemonsets', 'deployments', 'endpoints', 'endpointslices', 'events',
  'flowschemas', 'horizontalpodautoscalers', 'ingressclasses', 'ingresses', 'jobs', 'leases', 'limitranges',
  'localsubjectaccessreviews', 'mutatingwebhookconfigurations', 'namespaces', 'networkpolicies', 'nodes',
  'persistentvolumeclaims', 'persistentvolumes', 'poddisruptionbudgets', 'pods', 'podtemplates',
  'priorityclasses', 'prioritylevelconfigurations', 'replicasets', 'replicationcontrollers', 'resourcequotas',
  'rolebindings', 'roles', 'runtimeclasses', 'secrets', 'selfsubjectaccessreviews', 'selfsubjectreviews',
  'selfsubjectrulesreviews', 'serviceaccounts', 'services', 'statefulsets', 'storageclasses',
  'subjectaccessreviews', 'tokenreviews', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings',
  'validatingwebhookconfigurations', 'volumeattachments',
]);

const SUBRESOURCES: ReadonlySet<string> = new Set([
  'attach', 'binding', 'ephemeralcontainers', 'eviction', 'exec', 'log', 'portforward', 'proxy', 'resize',
  'scale', 'status', 'token',
]);

/** The request's verb; "" when the request was refused before it was classified (e.g. unauthenticated). */
export function verbLabel(ctx: RequestContext): string {
  const verb = ctx.request?.verb;
  if (verb === undefined || verb === '') return '';
  return VERBS.has(verb) ? verb : OTHER;
}

/** A built-in resource name, "other" for the rest, "" for non-resource and unclassified requests. */
export function resourceLabel(ctx: RequestContext): string {
  const resource = ctx.request?.resource;
  if (!resource) return '';
  return RESOURCES.has(resource) ? resource : OTHER;
}

export function subresourceLabel(ctx: RequestContext): string {
  const sub = ctx.request?.subresource;
  if (!sub) return '';
  return SUBRESOURCES.has(sub) ? sub : OTHER;
}

/** The policy action, or "none" when the request ended before policy decided. */
export function decisionLabel(ctx: RequestContext): string {
  return ctx.decision?.action ?? 'none';
}

/**
 * Watches, follows and upgraded sessions last as long as the client wants;
 * like the API server, they stay out of the latency histograms.
 */
export function isLongRunning(ctx: RequestContext): boolean {
  if (ctx.upgrade) return true;
  const r = ctx.request;
  if (r === undefined) return false;
  return r.verb === 'watch' || (r.subresource === 'log' && /(?:^|&)follow=(?:true|1)(?:&|$)/.test(r.query));
}
