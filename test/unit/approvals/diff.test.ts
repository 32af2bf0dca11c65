import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../../src/approvals/diff.js';
import { fingerprint, summarize } from '../../../src/approvals/fingerprint.js';
import type { KubeRequest } from '../../../src/classify/kube-request.js';

const numbered = (n: number, change: Record<number, string> = {}): string =>
  Array.from({ length: n }, (_, i) => change[i + 1] ?? `line ${i + 1}`).join('\n') + '\n';

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', 'x', 'y')).toBe('');
  });

  it('shows one changed line with three lines of context, numbered like diff -u', () => {
    expect(unifiedDiff(numbered(10), numbered(10, { 6: 'privileged: true' }), 'live', 'after')).toBe(
      ['--- live', '+++ after', '@@ -3,7 +3,7 @@', ' line 3', ' line 4', ' line 5', '-line 6', '+privileged: true', ' line 7', ' line 8', ' line 9', ''].join('\n'),
    );
  });

  it('splits distant changes into hunks and joins near ones', () => {
    const out = unifiedDiff(numbered(30), numbered(30, { 2: 'two', 25: 'twenty-five', 28: 'twenty-eight' }), 'a', 'b');
    expect(out.match(/^@@/gm)).toHaveLength(2);
    expect(out).toContain('@@ -1,5 +1,5 @@');
    expect(out).toContain('@@ -22,9 +22,9 @@');
  });

  it('handles insertions at the end and deletions at the start', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\nc\n', 'x', 'y')).toBe('--- x\n+++ y\n@@ -1,2 +1,3 @@\n a\n b\n+c\n');
    expect(unifiedDiff('a\nb\n', 'b\n', 'x', 'y')).toBe('--- x\n+++ y\n@@ -1,2 +1,1 @@\n-a\n b\n');
    expect(unifiedDiff('', 'a\n', 'x', 'y')).toBe('--- x\n+++ y\n@@ -0,0 +1,1 @@\n+a\n');
  });

  it('keeps the diff bounded for huge rewrites', () => {
    const big = (p: string) => Array.from({ length: 5000 }, (_, i) => `${p}${i}`).join('\n');
    const out = unifiedDiff(big('a'), big('b'), 'x', 'y');
    expect(out.split('\n').filter((l) => l.startsWith('-')).length).toBe(5001);
  });
});

describe('fingerprint', () => {
  const body = Buffer.from('{"kind":"Pod"}');
  it('is the same for the same request, whatever the order of query parameters', () => {
    expect(fingerprint('bob', 'prod', 'POST', '/api/v1/namespaces/d/pods?b=2&a=1', body)).toBe(fingerprint('bob', 'prod', 'post', '/api/v1/namespaces/d/pods?a=1&b=2', body));
  });
  it('differs for another principal, target, query, method or body', () => {
    const base = fingerprint('bob', 'prod', 'POST', '/api/v1/namespaces/d/pods?a=1', body);
    expect(fingerprint('eve', 'prod', 'POST', '/api/v1/namespaces/d/pods?a=1', body)).not.toBe(base);
    expect(fingerprint('bob', 'prod', 'POST', '/api/v1/namespaces/e/pods?a=1', body)).not.toBe(base);
    expect(fingerprint('bob', 'prod', 'POST', '/api/v1/namespaces/d/pods?a=1&dryRun=All', body)).not.toBe(base);
    expect(fingerprint('bob', 'prod', 'PUT', '/api/v1/namespaces/d/pods?a=1', body)).not.toBe(base);
    // The identical request to another cluster is another request: a grant for staging is never spent on prod.
    expect(fingerprint('bob', 'staging', 'POST', '/api/v1/namespaces/d/pods?a=1', body)).not.toBe(base);
    // A grant for `echo sh -c x` must not run `sh -c x echo`, nor force=false&force=true become force=true&force=false.
    const exec = '/api/v1/namespaces/d/pods/p/exec?stdout=1';
    expect(fingerprint('bob', 'prod', 'POST', `${exec}&command=echo&command=sh&command=-c&command=x`, undefined)).not.toBe(
      fingerprint('bob', 'prod', 'POST', `${exec}&command=sh&command=-c&command=x&command=echo`, undefined),
    );
    expect(fingerprint('bob', 'prod', 'PATCH', '/apis/apps/v1/namespaces/d/deployments/w?force=false&force=true', body)).not.toBe(
      fingerprint('bob', 'prod', 'PATCH', '/apis/apps/v1/namespaces/d/deployments/w?force=true&force=false', body),
    );
    expect(fingerprint('bob', 'prod', 'POST', `${exec}&command=%zz`, undefined)).not.toBe(fingerprint('bob', 'prod', 'POST', `${exec}&command=%25zz`, undefined));
    expect(fingerprint('bob', 'prod', 'POST', `${exec}&command=ls&tty=0`, undefined)).toBe(fingerprint('bob', 'prod', 'POST', `/api/v1/namespaces/d/pods/p/exec?tty=0&command=ls&stdout=1`, undefined));
    expect(fingerprint('bob', 'prod', 'POST', '/api/v1/namespaces/d/pods?a=1', Buffer.from('{"kind":"Pod" }'))).not.toBe(base);
  });
});

describe('summarize', () => {
  const req = (r: Partial<KubeRequest>): KubeRequest => ({ isResourceRequest: true, verb: 'create', apiGroup: '', resource: 'pods', subresource: '', namespace: 'default', name: '', path: '/', ...r }) as KubeRequest;
  it('reads like a kubectl action', () => {
    expect(summarize(req({}), 'web')).toBe('create pods web in namespace default');
    expect(summarize(req({ verb: 'create', subresource: 'exec', name: 'web' }), '')).toBe('exec pods web in namespace default');
    expect(summarize(req({ verb: 'update', subresource: 'scale', name: 'web' }), '')).toBe('update pods/scale web in namespace default');
    expect(summarize(req({ verb: 'delete', apiGroup: 'apps', resource: 'deployments', name: 'api', namespace: 'prod' }), '')).toBe('delete deployments.apps api in namespace prod');
    expect(summarize(req({ isResourceRequest: false, verb: 'get', path: '/logs/' }), '')).toBe('GET /logs/');
    expect(summarize(req({ verb: 'delete', name: 'web', cluster: 'prod' }), '')).toBe('delete pods web in namespace default on cluster prod');
    expect(summarize(req({ verb: 'delete', name: 'web', cluster: 'default' }), '')).toBe('delete pods web in namespace default');
  });
});
