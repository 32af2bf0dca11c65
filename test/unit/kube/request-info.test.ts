import { describe, expect, it } from 'vitest';
import { classifyRequest } from '../../../src/kube/request-info.js';
import type { ClassifyResult, RequestInfo } from '../../../src/kube/request-info.js';

// Every expected value below was also checked against the Go resolver
// (k8s.io/apiserver v0.33 RequestInfoFactory.NewRequestInfo behind
// net/http.ReadRequest), except the rows marked "Gatehouse:" where we
// deliberately differ.

/** Optional columns of a row; the path defaults to the target without its query. */
interface Extra {
  path?: string;
  fieldSelector?: string;
  labelSelector?: string;
}

type Row = [method: string, target: string, want: ClassifyResult];

/** A resource request, columns in the order of the Go test table. */
function res(
  target: string,
  verb: string,
  apiPrefix: string,
  apiGroup: string,
  apiVersion: string,
  namespace: string,
  resource: string,
  subresource: string,
  name: string,
  parts: string[],
  extra: Extra = {},
): ClassifyResult {
  const info: RequestInfo = {
    isResourceRequest: true,
    path: extra.path ?? target.split('?')[0]!,
    verb,
    apiPrefix,
    apiGroup,
    apiVersion,
    namespace,
    resource,
    subresource,
    name,
    parts,
    fieldSelector: extra.fieldSelector ?? '',
    labelSelector: extra.labelSelector ?? '',
  };
  return { ok: true, info };
}

/** A non-resource request: everything empty except path, verb and (for /apis/{g}/{v}) the prefix. */
function nonres(target: string, verb: string, apiPrefix = '', path = target.split('?')[0]!): ClassifyResult {
  return {
    ok: true,
    info: {
      isResourceRequest: false,
      path,
      verb,
      apiPrefix,
      apiGroup: '',
      apiVersion: '',
      namespace: '',
      resource: '',
      subresource: '',
      name: '',
      parts: [],
      fieldSelector: '',
      labelSelector: '',
    },
  };
}

function refused(reason: string): ClassifyResult {
  return { ok: false, reason };
}

/** Shorthand for the many rows with a GET/HEAD etc. on the same target. */
function row(method: string, target: string, build: (target: string) => ClassifyResult): Row {
  return [method, target, build(target)];
}

const EMPTY_SEGMENT = "the request path contains an empty segment ('//')";
const DOT_SEGMENT = "the request path contains a '.' or '..' segment";
const ENCODED = (ch: string): string => `the request path percent-encodes '${ch}' outside a proxied sub-path`;
const NUL = 'the request path contains an encoded NUL byte (%00)';
const NOT_UTF8_PATH = 'the percent-encoded bytes in the request path are not valid UTF-8';
const BACKSLASH = "the request path contains '\\', which some servers read as '/'";
const HASH = "the request target contains '#'; fragments are never sent to a server";
const RAW_CHAR = 'the request target contains a control, space or non-ASCII character that should have been percent-encoded';
const NOT_ORIGIN_FORM = "the request target must be an origin-form path starting with '/'";
const BAD_ESCAPE = (esc: string): string => `the request path has an invalid percent-escape '${esc}'`;
const NO_RESOURCE = (verb: string): string => `the path names the '${verb}' verb but no resource`;
const BAD_METHOD = 'the HTTP method is not a valid token';

// ---------------------------------------------------------------------------
// 1. The cases of requestinfo_test.go, TestGetAPIRequestInfo (success table).
// ---------------------------------------------------------------------------
const goResourceRows: Row[] = [
  // resource paths
  row('GET', '/api/v1/namespaces', (t) => res(t, 'list', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces'])),
  row('GET', '/api/v1/namespaces/other', (t) => res(t, 'get', 'api', '', 'v1', 'other', 'namespaces', '', 'other', ['namespaces', 'other'])),
  row('GET', '/api/v1/namespaces/other/pods', (t) => res(t, 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/namespaces/other/pods/foo', (t) => res(t, 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo'])),
  row('HEAD', '/api/v1/namespaces/other/pods/foo', (t) => res(t, 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo'])),
  row('GET', '/api/v1/pods', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('HEAD', '/api/v1/pods', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  // special verbs
  row('GET', '/api/v1/proxy/namespaces/other/pods/foo', (t) => res(t, 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo'])),
  row('GET', '/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource', (t) =>
    res(t, 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo', 'subpath', 'not', 'a', 'subresource']),
  ),
  row('GET', '/api/v1/watch/pods', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=true', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=false', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/watch/namespaces/other/pods', (t) => res(t, 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/namespaces/other/pods?watch=1', (t) => res(t, 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/namespaces/other/pods?watch=0', (t) => res(t, 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods'])),
  // subresource identification
  row('GET', '/api/v1/namespaces/other/pods/foo/status', (t) =>
    res(t, 'get', 'api', '', 'v1', 'other', 'pods', 'status', 'foo', ['pods', 'foo', 'status']),
  ),
  row('GET', '/api/v1/namespaces/other/pods/foo/proxy/subpath', (t) =>
    res(t, 'get', 'api', '', 'v1', 'other', 'pods', 'proxy', 'foo', ['pods', 'foo', 'proxy', 'subpath']),
  ),
  row('PUT', '/api/v1/namespaces/other/finalize', (t) =>
    res(t, 'update', 'api', '', 'v1', 'other', 'namespaces', 'finalize', 'other', ['namespaces', 'other', 'finalize']),
  ),
  row('PUT', '/api/v1/namespaces/other/status', (t) =>
    res(t, 'update', 'api', '', 'v1', 'other', 'namespaces', 'status', 'other', ['namespaces', 'other', 'status']),
  ),
  // verb identification
  row('PATCH', '/api/v1/namespaces/other/pods/foo', (t) => res(t, 'patch', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo'])),
  row('DELETE', '/api/v1/namespaces/other/pods/foo', (t) => res(t, 'delete', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo'])),
  row('POST', '/api/v1/namespaces/other/pods', (t) => res(t, 'create', 'api', '', 'v1', 'other', 'pods', '', '', ['pods'])),
  // deletecollection verb identification
  row('DELETE', '/api/v1/nodes', (t) => res(t, 'deletecollection', 'api', '', 'v1', '', 'nodes', '', '', ['nodes'])),
  row('DELETE', '/api/v1/namespaces', (t) => res(t, 'deletecollection', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces'])),
  row('DELETE', '/api/v1/namespaces/other/pods', (t) => res(t, 'deletecollection', 'api', '', 'v1', 'other', 'pods', '', '', ['pods'])),
  // The Go table says prefix "api" for the next three rows but never checks it; Go returns "apis".
  row('DELETE', '/apis/extensions/v1/namespaces/other/pods', (t) =>
    res(t, 'deletecollection', 'apis', 'extensions', 'v1', 'other', 'pods', '', '', ['pods']),
  ),
  // api group identification
  row('POST', '/apis/extensions/v1/namespaces/other/pods', (t) => res(t, 'create', 'apis', 'extensions', 'v1', 'other', 'pods', '', '', ['pods'])),
  // api version identification
  row('POST', '/apis/extensions/v1beta3/namespaces/other/pods', (t) =>
    res(t, 'create', 'apis', 'extensions', 'v1beta3', 'other', 'pods', '', '', ['pods']),
  ),
];

// ---------------------------------------------------------------------------
// 2. requestinfo_test.go error table and TestGetNonAPIRequestInfo.
// ---------------------------------------------------------------------------
const goNonResourceRows: Row[] = [
  // "errorCases" in TestGetAPIRequestInfo: all non-resource, no error.
  row('GET', '/', (t) => nonres(t, 'get')),
  row('GET', '/api/version/', (t) => nonres(t, 'get')),
  row('GET', '/apis/group/version/', (t) => nonres(t, 'get', 'apis')),
  row('GET', '/badprefix/version/resource', (t) => nonres(t, 'get')),
  row('GET', '/apis/version/resource', (t) => nonres(t, 'get', 'apis')),
  // TestGetNonAPIRequestInfo
  row('GET', '/api/version/resource', (t) => res(t, 'list', 'api', '', 'version', '', 'resource', '', '', ['resource'])),
  row('GET', '/apis/group/version/resource/name/subresource', (t) =>
    res(t, 'get', 'apis', 'group', 'version', '', 'resource', 'subresource', 'name', ['resource', 'name', 'subresource']),
  ),
  row('GET', '/api/version/resource/name/subresource', (t) =>
    res(t, 'get', 'api', '', 'version', '', 'resource', 'subresource', 'name', ['resource', 'name', 'subresource']),
  ),
  row('GET', '/apis/batch/v1/job', (t) => res(t, 'list', 'apis', 'batch', 'v1', '', 'job', '', '', ['job'])),
  row('GET', '/apis/batch/v1/job/foo', (t) => res(t, 'get', 'apis', 'batch', 'v1', '', 'job', '', 'foo', ['job', 'foo'])),
  row('GET', '/apis/batch/v1/job/foo/scale', (t) => res(t, 'get', 'apis', 'batch', 'v1', '', 'job', 'scale', 'foo', ['job', 'foo', 'scale'])),
  row('GET', '/not-api/version/resource', (t) => nonres(t, 'get')),
  row('GET', '/apis/extensions/v1beta1', (t) => nonres(t, 'get', 'apis')),
  row('GET', '/apis/extensions/v1beta1/', (t) => nonres(t, 'get', 'apis')),
  row('GET', '/api/version', (t) => nonres(t, 'get')),
  row('GET', '/api', (t) => nonres(t, 'get')),
  // Gatehouse: Go's "empty" case ("") is a Go-client artefact; on the wire it is not origin-form.
  ['GET', '', refused(NOT_ORIGIN_FORM)],
];

// ---------------------------------------------------------------------------
// 3. requestinfo_test.go TestSelectorParsing (AuthorizeWithSelectors is on by default).
// ---------------------------------------------------------------------------
const goSelectorRows: Row[] = [
  row('GET', '/apis/group/version/resource', (t) => res(t, 'list', 'apis', 'group', 'version', '', 'resource', '', '', ['resource'])),
  row('GET', '/apis/group/version/resource?fieldSelector=metadata.name=name1', (t) =>
    res(t, 'list', 'apis', 'group', 'version', '', 'resource', '', 'name1', ['resource'], { fieldSelector: 'metadata.name=name1' }),
  ),
  row('GET', '/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1', (t) =>
    res(t, 'watch', 'apis', 'group', 'version', '', 'resource', '', 'name1', ['resource'], { fieldSelector: 'metadata.name=name1' }),
  ),
  row('GET', '/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux', (t) =>
    res(t, 'list', 'apis', 'group', 'version', '', 'resource', '', '', ['resource'], { fieldSelector: 'foo=bar', labelSelector: 'baz=qux' }),
  ),
  // An unparsable field selector makes the whole list-options decode fail: no name.
  row('GET', '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo', (t) =>
    res(t, 'list', 'apis', 'group', 'version', '', 'resource', '', '', ['resource'], { fieldSelector: 'metadata.name=name1,foo' }),
  ),
  row('GET', '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true', (t) =>
    res(t, 'watch', 'apis', 'group', 'version', '', 'resource', '', '', ['resource'], { fieldSelector: 'metadata.name=name1,foo' }),
  ),
  row('GET', '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=false', (t) =>
    res(t, 'list', 'apis', 'group', 'version', '', 'resource', '', '', ['resource'], { fieldSelector: 'metadata.name=name1,foo' }),
  ),
  row('DELETE', '/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux', (t) =>
    res(t, 'deletecollection', 'apis', 'group', 'version', '', 'resource', '', '', ['resource'], {
      fieldSelector: 'foo=bar',
      labelSelector: 'baz=qux',
    }),
  ),
  row(
    'GET',
    '/apis/group/version/resource?fieldSelector=metadata.name=foo&fieldSelector=metadata.name=bar&labelSelector=foo=bar&labelSelector=foo=baz',
    (t) =>
      res(t, 'list', 'apis', 'group', 'version', '', 'resource', '', 'foo', ['resource'], {
        fieldSelector: 'metadata.name=foo',
        labelSelector: 'foo=bar',
      }),
  ),
  row('GET', '/apis/group/version/resource/name?fieldSelector=foo=bar&labelSelector=foo=bar', (t) =>
    res(t, 'get', 'apis', 'group', 'version', '', 'resource', '', 'name', ['resource', 'name']),
  ),
  row('GET', '/apis/group/version/watch/resource?fieldSelector=metadata.name=foo&labelSelector=foo=bar', (t) =>
    res(t, 'watch', 'apis', 'group', 'version', '', 'resource', '', '', ['resource']),
  ),
  row('GET', '/apis/group/version/watch/resource/name?fieldSelector=metadata.name=foo&labelSelector=foo=bar', (t) =>
    res(t, 'watch', 'apis', 'group', 'version', '', 'resource', '', 'name', ['resource', 'name']),
  ),
];

// ---------------------------------------------------------------------------
// 4. Shapes of real traffic: scopes, CRDs, subresources, proxies, methods.
// ---------------------------------------------------------------------------
const trafficRows: Row[] = [
  // cluster-scoped resources
  row('GET', '/api/v1/nodes', (t) => res(t, 'list', 'api', '', 'v1', '', 'nodes', '', '', ['nodes'])),
  row('GET', '/api/v1/nodes/node-1', (t) => res(t, 'get', 'api', '', 'v1', '', 'nodes', '', 'node-1', ['nodes', 'node-1'])),
  row('PATCH', '/api/v1/nodes/node-1/status', (t) => res(t, 'patch', 'api', '', 'v1', '', 'nodes', 'status', 'node-1', ['nodes', 'node-1', 'status'])),
  row('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/admin', (t) =>
    res(t, 'get', 'apis', 'rbac.authorization.k8s.io', 'v1', '', 'clusterroles', '', 'admin', ['clusterroles', 'admin']),
  ),
  row('POST', '/api/v1/namespaces', (t) => res(t, 'create', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces'])),
  row('DELETE', '/api/v1/namespaces/team-a', (t) => res(t, 'delete', 'api', '', 'v1', 'team-a', 'namespaces', '', 'team-a', ['namespaces', 'team-a'])),
  // A namespace literally called "status": the namespace itself, not a subresource.
  row('GET', '/api/v1/namespaces/status', (t) => res(t, 'get', 'api', '', 'v1', 'status', 'namespaces', '', 'status', ['namespaces', 'status'])),
  row('GET', '/api/v1/namespaces/ns/status/extra', (t) =>
    res(t, 'get', 'api', '', 'v1', 'ns', 'namespaces', 'status', 'ns', ['namespaces', 'ns', 'status', 'extra']),
  ),
  // CRD groups, namespaced and cluster-scoped
  row('GET', '/apis/stable.example.com/v1/namespaces/team-a/crontabs', (t) =>
    res(t, 'list', 'apis', 'stable.example.com', 'v1', 'team-a', 'crontabs', '', '', ['crontabs']),
  ),
  row('PUT', '/apis/stable.example.com/v1/namespaces/team-a/crontabs/nightly/status', (t) =>
    res(t, 'update', 'apis', 'stable.example.com', 'v1', 'team-a', 'crontabs', 'status', 'nightly', ['crontabs', 'nightly', 'status']),
  ),
  row('GET', '/apis/cert-manager.io/v1/clusterissuers/letsencrypt', (t) =>
    res(t, 'get', 'apis', 'cert-manager.io', 'v1', '', 'clusterissuers', '', 'letsencrypt', ['clusterissuers', 'letsencrypt']),
  ),
  // subresources
  row('GET', '/apis/apps/v1/namespaces/ns/deployments/web/scale', (t) =>
    res(t, 'get', 'apis', 'apps', 'v1', 'ns', 'deployments', 'scale', 'web', ['deployments', 'web', 'scale']),
  ),
  row('PATCH', '/apis/apps/v1/namespaces/ns/deployments/web/scale', (t) =>
    res(t, 'patch', 'apis', 'apps', 'v1', 'ns', 'deployments', 'scale', 'web', ['deployments', 'web', 'scale']),
  ),
  row('GET', '/api/v1/namespaces/ns/pods/web-0/log?container=app&follow=true', (t) =>
    res(t, 'get', 'api', '', 'v1', 'ns', 'pods', 'log', 'web-0', ['pods', 'web-0', 'log']),
  ),
  row('PATCH', '/api/v1/namespaces/ns/pods/web-0/ephemeralcontainers', (t) =>
    res(t, 'patch', 'api', '', 'v1', 'ns', 'pods', 'ephemeralcontainers', 'web-0', ['pods', 'web-0', 'ephemeralcontainers']),
  ),
  row('POST', '/api/v1/namespaces/ns/pods/web-0/binding', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'binding', 'web-0', ['pods', 'web-0', 'binding']),
  ),
  row('POST', '/api/v1/namespaces/ns/serviceaccounts/builder/token', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'serviceaccounts', 'token', 'builder', ['serviceaccounts', 'builder', 'token']),
  ),
  row('POST', '/api/v1/namespaces/ns/pods/web-0/eviction', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'eviction', 'web-0', ['pods', 'web-0', 'eviction']),
  ),
  // streaming subresources: POST (SPDY) is create upstream too
  row('POST', '/api/v1/namespaces/ns/pods/web-0/exec?command=ls&stdin=true', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'exec', 'web-0', ['pods', 'web-0', 'exec']),
  ),
  row('POST', '/api/v1/namespaces/ns/pods/web-0/portforward', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'portforward', 'web-0', ['pods', 'web-0', 'portforward']),
  ),
  // Gatehouse: WebSocket handshakes are GETs; classified as create (Go says get).
  row('GET', '/api/v1/namespaces/ns/pods/name/exec?command=ls&stdin=true', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'exec', 'name', ['pods', 'name', 'exec']),
  ),
  row('GET', '/api/v1/namespaces/ns/pods/name/exec?command=sh&command=-c&command=id&stdin=true&stdout=true&tty=true', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'exec', 'name', ['pods', 'name', 'exec']),
  ),
  row('GET', '/api/v1/namespaces/ns/pods/name/attach?container=app&stdin=true', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'attach', 'name', ['pods', 'name', 'attach']),
  ),
  row('GET', '/api/v1/namespaces/ns/pods/name/portforward?ports=8080', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'portforward', 'name', ['pods', 'name', 'portforward']),
  ),
  row('HEAD', '/api/v1/namespaces/ns/pods/name/exec', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'pods', 'exec', 'name', ['pods', 'name', 'exec']),
  ),
  // ...but only for core pods: a CRD that happens to be called "pods" keeps Go's verb,
  row('GET', '/apis/example.com/v1/namespaces/ns/pods/name/exec', (t) =>
    res(t, 'get', 'apis', 'example.com', 'v1', 'ns', 'pods', 'exec', 'name', ['pods', 'name', 'exec']),
  ),
  // and a verb that came from the deprecated path prefix is left alone.
  row('GET', '/api/v1/watch/namespaces/ns/pods/name/exec', (t) =>
    res(t, 'watch', 'api', '', 'v1', 'ns', 'pods', 'exec', 'name', ['pods', 'name', 'exec']),
  ),
  // proxies with trailing paths; the tail after 'proxy' is opaque (empty segments and %2F allowed)
  row('GET', '/api/v1/nodes/node-1/proxy/metrics/cadvisor', (t) =>
    res(t, 'get', 'api', '', 'v1', '', 'nodes', 'proxy', 'node-1', ['nodes', 'node-1', 'proxy', 'metrics', 'cadvisor']),
  ),
  row('GET', '/api/v1/nodes/node-1:10250/proxy/stats/summary?only_cpu_and_memory=true', (t) =>
    res(t, 'get', 'api', '', 'v1', '', 'nodes', 'proxy', 'node-1:10250', ['nodes', 'node-1:10250', 'proxy', 'stats', 'summary']),
  ),
  row('POST', '/api/v1/namespaces/ns/services/https:web:443/proxy/api/login', (t) =>
    res(t, 'create', 'api', '', 'v1', 'ns', 'services', 'proxy', 'https:web:443', ['services', 'https:web:443', 'proxy', 'api', 'login']),
  ),
  row('GET', '/api/v1/namespaces/ns/services/https%3Aweb%3A443/proxy/', (t) =>
    res(t, 'get', 'api', '', 'v1', 'ns', 'services', 'proxy', 'https:web:443', ['services', 'https:web:443', 'proxy'], {
      path: '/api/v1/namespaces/ns/services/https:web:443/proxy/',
    }),
  ),
  row('GET', '/api/v1/namespaces/ns/services/web/proxy/a//b/%2F/c', (t) =>
    res(t, 'get', 'api', '', 'v1', 'ns', 'services', 'proxy', 'web', ['services', 'web', 'proxy', 'a', '', 'b', '', '', 'c'], {
      path: '/api/v1/namespaces/ns/services/web/proxy/a//b///c',
    }),
  ),
  row('DELETE', '/api/v1/namespaces/ns/pods/web-0:8080/proxy/items/%2Fetc%5Cx%2e', (t) =>
    res(t, 'delete', 'api', '', 'v1', 'ns', 'pods', 'proxy', 'web-0:8080', ['pods', 'web-0:8080', 'proxy', 'items', '', 'etc\\x.'], {
      path: '/api/v1/namespaces/ns/pods/web-0:8080/proxy/items//etc\\x.',
    }),
  ),
  row('GET', '/api/v1/namespaces/ns/pods/web-0/proxy//', (t) =>
    res(t, 'get', 'api', '', 'v1', 'ns', 'pods', 'proxy', 'web-0', ['pods', 'web-0', 'proxy']),
  ),
  // the deprecated proxy verb: no subresource, the tail starts after the name
  row('GET', '/api/v1/proxy/nodes/node-1/stats//summary', (t) =>
    res(t, 'proxy', 'api', '', 'v1', '', 'nodes', '', 'node-1', ['nodes', 'node-1', 'stats', '', 'summary']),
  ),
  row('PUT', '/api/v1/proxy/namespaces/ns/services/web', (t) => res(t, 'proxy', 'api', '', 'v1', 'ns', 'services', '', 'web', ['services', 'web'])),
  row('GET', '/api/v1/proxy/nodes', (t) => res(t, 'proxy', 'api', '', 'v1', '', 'nodes', '', '', ['nodes'])),
  row('GET', '/api/v1/watch/namespaces/ns', (t) => res(t, 'watch', 'api', '', 'v1', 'ns', 'namespaces', '', 'ns', ['namespaces', 'ns'])),
  // methods
  row('HEAD', '/apis/apps/v1/deployments', (t) => res(t, 'list', 'apis', 'apps', 'v1', '', 'deployments', '', '', ['deployments'])),
  row('OPTIONS', '/api/v1/namespaces/ns/pods', (t) => res(t, '', 'api', '', 'v1', 'ns', 'pods', '', '', ['pods'])),
  row('OPTIONS', '/api/v1/namespaces/ns/pods/web-0', (t) => res(t, '', 'api', '', 'v1', 'ns', 'pods', '', 'web-0', ['pods', 'web-0'])),
  row('TRACE', '/api/v1/pods', (t) => res(t, '', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('CONNECT', '/api/v1/namespaces/ns/pods/x/exec', (t) => res(t, '', 'api', '', 'v1', 'ns', 'pods', 'exec', 'x', ['pods', 'x', 'exec'])),
  row('PROPFIND', '/api/v1/pods', (t) => res(t, '', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  // methods are case-sensitive in Go: "get" is not GET
  row('get', '/api/v1/pods', (t) => res(t, '', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('get', '/healthz', (t) => nonres(t, 'get')),
  // trailing slash: trimmed by the API server, so accepted
  row('GET', '/api/v1/namespaces/ns/pods/', (t) => res(t, 'list', 'api', '', 'v1', 'ns', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/namespaces/ns/pods/?watch=1', (t) => res(t, 'watch', 'api', '', 'v1', 'ns', 'pods', '', '', ['pods'])),
  // harmless percent-encoding is decoded like Go does
  row('GET', '/api/v1/namespaces/ns/configmaps/caf%C3%A9', (t) =>
    res(t, 'get', 'api', '', 'v1', 'ns', 'configmaps', '', 'café', ['configmaps', 'café'], { path: '/api/v1/namespaces/ns/configmaps/café' }),
  ),
  row('GET', '/api/v1/namespaces/n%73/pods', (t) => res(t, 'list', 'api', '', 'v1', 'ns', 'pods', '', '', ['pods'], { path: '/api/v1/namespaces/ns/pods' })),
  // '+' is literal in a path
  row('GET', '/api/v1/namespaces/ns/secrets/a+b', (t) => res(t, 'get', 'api', '', 'v1', 'ns', 'secrets', '', 'a+b', ['secrets', 'a+b'])),
  // names that merely contain dots are fine
  row('GET', '/api/v1/namespaces/ns/configmaps/..data', (t) => res(t, 'get', 'api', '', 'v1', 'ns', 'configmaps', '', '..data', ['configmaps', '..data'])),
  row('GET', '/api/v1/namespaces/ns/configmaps/...', (t) => res(t, 'get', 'api', '', 'v1', 'ns', 'configmaps', '', '...', ['configmaps', '...'])),
];

// ---------------------------------------------------------------------------
// 5. Non-resource and discovery paths.
// ---------------------------------------------------------------------------
const nonResourceRows: Row[] = [
  row('GET', '/version', (t) => nonres(t, 'get')),
  row('GET', '/version/', (t) => nonres(t, 'get')),
  row('GET', '/openapi/v3', (t) => nonres(t, 'get')),
  row('GET', '/openapi/v3/apis/apps/v1?hash=0123ABCD', (t) => nonres(t, 'get')),
  row('GET', '/openapi/v2?timeout=32s', (t) => nonres(t, 'get')),
  row('GET', '/healthz', (t) => nonres(t, 'get')),
  row('GET', '/healthz/etcd', (t) => nonres(t, 'get')),
  row('GET', '/livez?verbose', (t) => nonres(t, 'get')),
  row('GET', '/metrics', (t) => nonres(t, 'get')),
  row('GET', '/api', (t) => nonres(t, 'get')),
  row('GET', '/api/', (t) => nonres(t, 'get')),
  row('GET', '/api/v1', (t) => nonres(t, 'get')),
  row('GET', '/api/v1?timeout=32s', (t) => nonres(t, 'get')),
  row('GET', '/apis', (t) => nonres(t, 'get')),
  row('GET', '/apis/apps', (t) => nonres(t, 'get')),
  // /apis/{group}/{version} is discovery: non-resource, but Go has already recorded the prefix.
  row('GET', '/apis/apps/v1', (t) => nonres(t, 'get', 'apis')),
  row('GET', '/apis/stable.example.com/v1?watch=1', (t) => nonres(t, 'get', 'apis')),
  row('HEAD', '/healthz', (t) => nonres(t, 'head')),
  row('OPTIONS', '/version', (t) => nonres(t, 'options')),
  row('POST', '/apis', (t) => nonres(t, 'post')),
  row('DELETE', '/logs/kube-apiserver.log', (t) => nonres(t, 'delete')),
  row('GET', '/', (t) => nonres(t, 'get')),
  row('GET', '/?', (t) => nonres(t, 'get')),
  row('GET', '/something/with%20space', (t) => nonres(t, 'get', '', '/something/with space')),
];

// ---------------------------------------------------------------------------
// 6. Query handling, as the API server's parameter codec does it.
// ---------------------------------------------------------------------------
const queryRows: Row[] = [
  row('GET', '/api/v1/pods?watch=1', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=false', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=FALSE', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  // any other value is true, including empty and "no"
  row('GET', '/api/v1/pods?watch=', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=no', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=f', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=%FF', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  // strings.EqualFold folds U+017F (long s) to 's'...
  row('GET', '/api/v1/pods?watch=fal%C5%BFe', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  // ...but when decoding fails (bad limit), the fallback only lower-cases, so it is a watch.
  row('GET', '/api/v1/pods?watch=fal%C5%BFe&limit=x', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=FALSE&limit=x', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  // the first kept value counts; a piece with ';' or a bad escape is dropped; '+' is a space
  row('GET', '/api/v1/pods?watch=0&watch=1', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=0;x&watch=1', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=1;', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=%zz&watch=1', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?wat%63h=1', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?Watch=1&wat+ch=1', (t) => res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?watch=+false', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  row('GET', '/api/v1/pods?&&watch=1&&', (t) => res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'])),
  // a watch parameter on a named GET changes nothing
  row('GET', '/api/v1/namespaces/ns/pods/web-0?watch=1', (t) => res(t, 'get', 'api', '', 'v1', 'ns', 'pods', '', 'web-0', ['pods', 'web-0'])),
  // fieldSelector=metadata.name=X pins the name (list and watch only)
  row('GET', '/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dfoo', (t) =>
    res(t, 'list', 'api', '', 'v1', 'ns', 'pods', '', 'foo', ['pods'], { fieldSelector: 'metadata.name=foo' }),
  ),
  row('GET', '/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3D%3Dfoo&watch=1', (t) =>
    res(t, 'watch', 'api', '', 'v1', 'ns', 'pods', '', 'foo', ['pods'], { fieldSelector: 'metadata.name==foo' }),
  ),
  row('GET', '/api/v1/namespaces/ns/pods?fieldSelector=metadata.name!%3Dfoo', (t) =>
    res(t, 'list', 'api', '', 'v1', 'ns', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name!=foo' }),
  ),
  // Go sorts the terms and takes the first match
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Db,spec.nodeName%3Dn1,metadata.name%3Da', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', 'a', ['pods'], { fieldSelector: 'metadata.name=b,spec.nodeName=n1,metadata.name=a' }),
  ),
  // escaped values are unescaped
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Da%5C%2Cb', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', 'a,b', ['pods'], { fieldSelector: 'metadata.name=a\\,b' }),
  ),
  // names that are not valid path segments are ignored
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3D..', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=..' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Da%2Fb', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=a/b' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Da%25b', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=a%b' }),
  ),
  // the field name is not trimmed
  row('GET', '/api/v1/pods?fieldSelector=+metadata.name%3Dfoo', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: ' metadata.name=foo' }),
  ),
  // any decode failure drops the name: a bad label selector, limit or timeoutSeconds
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=app%3D%3D%3Dx', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'app===x' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=app+in+(a,b),!tier', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', 'foo', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'app in (a,b),!tier' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=x%3E-1', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'x>-1' }),
  ),
  // Go's lexer reads a NUL at the start of a token as the end of the selector
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=a%3Db,%00!!!', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'a=b,\0!!!' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=a%3Db%20%00!!!', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', 'foo', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'a=b \0!!!' }),
  ),
  // ...while after an identifier or an operator it only ends that token
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=a%00!!', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'a\0!!' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=a%3D%00!!', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'a=\0!!' }),
  ),
  // gt/lt need an integer that is also a valid label value
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=x%3E5,y%3C10', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', 'foo', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'x>5,y<10' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=x%3Ea', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'x>a' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=x%3E99999999999999999999', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo', labelSelector: 'x>99999999999999999999' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&labelSelector=example.com/app%20notin%20(,web,),!tier', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', 'foo', ['pods'], {
      fieldSelector: 'metadata.name=foo',
      labelSelector: 'example.com/app notin (,web,),!tier',
    }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&limit=500&timeoutSeconds=-9223372036854775808', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', 'foo', ['pods'], { fieldSelector: 'metadata.name=foo' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&timeoutSeconds=9223372036854775808', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo' }),
  ),
  row('GET', '/api/v1/pods?fieldSelector=metadata.name%3Dfoo&limit=1_000', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo' }),
  ),
  // a DELETE never takes its name from the selector
  row('DELETE', '/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dfoo', (t) =>
    res(t, 'deletecollection', 'api', '', 'v1', 'ns', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=foo' }),
  ),
  // a list with more than 10 000 parameters is read differently by different Go releases
  ['GET', `/api/v1/pods?${'a&'.repeat(10_000)}watch=1`, refused('the query has more than 10000 parameters')],
  row('GET', `/api/v1/pods?${'a&'.repeat(9_999)}watch=1`, (t) =>
    res(t, 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { path: '/api/v1/pods' }),
  ),
  // ...but the query of a named GET is not read at all
  row('GET', `/api/v1/namespaces/ns/pods/x?${'a&'.repeat(10_000)}`, (t) =>
    res(t, 'get', 'api', '', 'v1', 'ns', 'pods', '', 'x', ['pods', 'x'], { path: '/api/v1/namespaces/ns/pods/x' }),
  ),
  ['GET', '/api/v1/pods?fieldSelector=metadata.name%3D%FF', refused("the query parameter 'fieldSelector' is not valid UTF-8 once percent-decoded")],
  ['DELETE', '/api/v1/pods?labelSelector=%C3', refused("the query parameter 'labelSelector' is not valid UTF-8 once percent-decoded")],
  row('GET', '/api/v1/namespaces/ns/pods/x?fieldSelector=%FF', (t) => res(t, 'get', 'api', '', 'v1', 'ns', 'pods', '', 'x', ['pods', 'x'])),
  // raw characters that are fine in a query
  row('GET', '/api/v1/pods?labelSelector=a\\b&x="{|}~', (t) =>
    res(t, 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { labelSelector: 'a\\b' }),
  ),
];

// ---------------------------------------------------------------------------
// 7. Fail closed: targets the upstream, or a proxy in between, could read differently.
// ---------------------------------------------------------------------------
const refusedRows: Row[] = [
  // not origin-form
  ['GET', '*', refused(NOT_ORIGIN_FORM)],
  ['GET', 'http://kube.example:6443/api/v1/pods', refused(NOT_ORIGIN_FORM)],
  ['GET', 'api/v1/pods', refused(NOT_ORIGIN_FORM)],
  ['GET', '?watch=1', refused(NOT_ORIGIN_FORM)],
  // empty segments before any proxy sub-path
  ['GET', '//api/v1/pods', refused(EMPTY_SEGMENT)],
  ['GET', '/api//v1/pods', refused(EMPTY_SEGMENT)],
  ['GET', '/apis//v1/pods', refused(EMPTY_SEGMENT)],
  ['GET', '/api/v1/namespaces//pods', refused(EMPTY_SEGMENT)],
  ['GET', '/api/v1/pods//', refused(EMPTY_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/pods/x/status//y', refused(EMPTY_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/services//proxy/x', refused(EMPTY_SEGMENT)],
  ['GET', '/healthz//', refused(EMPTY_SEGMENT)],
  ['GET', '//', refused(EMPTY_SEGMENT)],
  // encoded '/', '\', '.', '%' before any proxy sub-path
  ['GET', '/api/v1/namespaces/a%2Fb/pods', refused(ENCODED('/'))],
  ['GET', '/api/v1/namespaces/a%2fb/pods', refused(ENCODED('/'))],
  ['GET', '/api/v1/namespaces/ns/secrets%2Fx', refused(ENCODED('/'))],
  ['GET', '/api/v1/namespaces/ns/pods%5Cfoo', refused(ENCODED('\\'))],
  ['GET', '/api/v1/namespaces/ns/pods/a%2Eb', refused(ENCODED('.'))],
  ['GET', '/apis/example%2ecom/v1/foos', refused(ENCODED('.'))],
  ['GET', '/api/v1/namespaces/ns/pods/a%25b', refused(ENCODED('%'))],
  ['GET', '/api/v1/namespaces/ns/services/web%2Fx/proxy/y', refused(ENCODED('/'))],
  ['GET', '/api/v1/namespaces/ns/services/web/proxy%2Fx/y', refused(ENCODED('/'))],
  ['GET', '/api/v1/proxy/nodes/n%2F1/x', refused(ENCODED('/'))],
  ['GET', '/version%2F', refused(ENCODED('/'))],
  // NUL anywhere, even in a proxy tail
  ['GET', '/api/v1/namespaces/ns/pods/a%00', refused(NUL)],
  ['GET', '/api/v1/namespaces/ns/services/web/proxy/a%00b', refused(NUL)],
  // dot segments anywhere, raw or encoded, even in a proxy tail
  ['GET', '/api/v1/namespaces/ns/pods/./x', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/pods/..', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/pods/../../secrets', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/pods/%2e%2e', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/pods/.%2E?x', refused(DOT_SEGMENT)],
  ['GET', '/./api/v1/pods', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/pods/.', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/services/web/proxy/../../../secrets', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/services/web/proxy/a/%2E%2E%2F%2E%2E', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/namespaces/ns/services/web/proxy/..%5Cx', refused(DOT_SEGMENT)],
  ['GET', '/api/v1/proxy/nodes/n1/..', refused(DOT_SEGMENT)],
  // backslash, '#', raw control/space/non-ASCII characters
  ['GET', '/api/v1/namespaces/ns/pods\\foo', refused(BACKSLASH)],
  ['GET', '/api/v1/namespaces/ns/services/web/proxy/a\\b', refused(BACKSLASH)],
  ['GET', '/api/v1/pods#frag', refused(HASH)],
  ['GET', '/api/v1/pods?watch=1#frag', refused(HASH)],
  ['GET', '/api/v1/pods\t', refused(RAW_CHAR)],
  ['GET', '/api/v1/pods x', refused(RAW_CHAR)],
  ['GET', '/api/v1/pods\x7f', refused(RAW_CHAR)],
  ['GET', '/api/v1/pods\x00', refused(RAW_CHAR)],
  ['GET', '/api/v1/namespaces/ns/configmaps/café', refused(RAW_CHAR)],
  ['GET', '/api/v1/pods?watch=\r\n', refused(RAW_CHAR)],
  ['GET', '/api/v1/pods?labelSelector=é', refused(RAW_CHAR)],
  // invalid percent-encoding and non-UTF-8 bytes in the path
  ['GET', '/api/v1/pods/%zz', refused(BAD_ESCAPE('%zz'))],
  ['GET', '/api/v1/pods/%4', refused(BAD_ESCAPE('%4'))],
  ['GET', '/api/v1/pods/%', refused(BAD_ESCAPE('%'))],
  ['GET', '/api/v1/pods/%4?x', refused(BAD_ESCAPE('%4?'))],
  ['GET', '/api/v1/namespaces/ns/services/web/proxy/%G0', refused(BAD_ESCAPE('%G0'))],
  ['GET', '/api/v1/namespaces/ns/pods/%FF', refused(NOT_UTF8_PATH)],
  ['GET', '/api/v1/namespaces/ns/pods/%C3', refused(NOT_UTF8_PATH)],
  ['GET', '/api/v1/namespaces/ns/pods/%C0%AF', refused(NOT_UTF8_PATH)],
  // a special verb with nothing after it is an error in Go too
  ['GET', '/api/v1/watch', refused(NO_RESOURCE('watch'))],
  ['GET', '/api/v1/proxy/', refused(NO_RESOURCE('proxy'))],
  ['GET', '/apis/apps/v1/watch?watch=1', refused(NO_RESOURCE('watch'))],
  // methods that are not tokens
  ['', '/api/v1/pods', refused(BAD_METHOD)],
  ['GET /', '/api/v1/pods', refused(BAD_METHOD)],
  ['G\u00c9T', '/api/v1/pods', refused(BAD_METHOD)],
];

describe('classifyRequest', () => {
  describe.each([
    ['requestinfo_test.go: resource table', goResourceRows],
    ['requestinfo_test.go: non-resource cases', goNonResourceRows],
    ['requestinfo_test.go: selector parsing', goSelectorRows],
    ['real traffic shapes', trafficRows],
    ['non-resource and discovery', nonResourceRows],
    ['query parameters', queryRows],
    ['fail closed', refusedRows],
  ])('%s', (_title, rows) => {
    it.each(rows.map(([method, target, want]) => ({ method, target, want, label: label(method, target) })))(
      '$label',
      ({ method, target, want }) => {
        expect(classifyRequest(method, target)).toStrictEqual(want);
      },
    );
  });

  it('takes time linear in the input on long and repetitive targets', () => {
    const longName = 'a'.repeat(200_000);
    const started = performance.now();
    expect(classifyRequest('GET', `/api/v1/namespaces/ns/configmaps/${longName}`)).toStrictEqual(
      res(`/api/v1/namespaces/ns/configmaps/${longName}`, 'get', 'api', '', 'v1', 'ns', 'configmaps', '', longName, ['configmaps', longName]),
    );
    const tail = 'x/'.repeat(100_000);
    const proxied = classifyRequest('GET', `/api/v1/nodes/n1/proxy/${tail}`);
    expect(proxied.ok && proxied.info.parts.length).toBe(3 + 100_000);
    expect(classifyRequest('GET', `/api/v1/pods/${'/'.repeat(200_000)}`)).toStrictEqual(refused(EMPTY_SEGMENT));
    expect(classifyRequest('GET', `/api/v1/pods/${'%2F'.repeat(100_000)}`)).toStrictEqual(refused(ENCODED('/')));
    const label = `${'('.repeat(100_000)}`;
    expect(classifyRequest('GET', `/api/v1/pods?fieldSelector=metadata.name%3Dx&labelSelector=${label}`)).toStrictEqual(
      res('/api/v1/pods', 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods'], { fieldSelector: 'metadata.name=x', labelSelector: label }),
    );
    const manyTerms = 'metadata.name%3Dz,'.repeat(20_000) + 'metadata.name%3Dy';
    const terms = classifyRequest('GET', `/api/v1/pods?fieldSelector=${manyTerms}`);
    expect(terms.ok && terms.info.name).toBe('y');
    const pieces = `watch=0&${'limit=1&'.repeat(9_000)}`;
    const many = classifyRequest('GET', `/api/v1/pods?${pieces}`);
    expect(many.ok && many.info.verb).toBe('list');
    // Generous bound: the point is no quadratic blow-up, which would take seconds here.
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('never throws and always answers a well-formed result on garbage', () => {
    let seed = 42;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const alphabet = ['/', '/', 'a', 'pods', 'api', 'apis', 'v1', 'namespaces', 'proxy', 'watch', '%', '%2', '%2F', '%2e', '%00', '%C3%A9', '%FF', '.', '..', '?', '&', '=', ';', '+', '#', '\\', ' ', '\u00e9', '\u0000', 'watch=', 'fieldSelector=', 'labelSelector=', 'metadata.name%3D', '(', ')', '!', ','];
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'get', '', 'X Y'];
    const stringKeys = ['path', 'verb', 'apiPrefix', 'apiGroup', 'apiVersion', 'namespace', 'resource', 'subresource', 'name', 'fieldSelector', 'labelSelector'] as const;
    let accepted = 0;
    for (let i = 0; i < 5_000; i++) {
      let target = next(10) === 0 ? '' : '/';
      const n = next(30);
      for (let j = 0; j < n; j++) target += alphabet[next(alphabet.length)]!;
      const result = classifyRequest(methods[next(methods.length)]!, target);
      if (result.ok) {
        accepted++;
        for (const key of stringKeys) expect(typeof result.info[key]).toBe('string');
        expect(typeof result.info.isResourceRequest).toBe('boolean');
        expect(Array.isArray(result.info.parts)).toBe(true);
        if (result.info.isResourceRequest) expect(result.info.resource).toBe(result.info.parts[0]);
      } else {
        expect(result.reason.length).toBeGreaterThan(0);
      }
    }
    // The generator must exercise both outcomes, or this test proves nothing.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(4_900);
  });
});

function label(method: string, target: string): string {
  const shown = target.length > 100 ? `${target.slice(0, 60)}…(${target.length} chars)` : target;
  return `${JSON.stringify(method)} ${JSON.stringify(shown)}`;
}
