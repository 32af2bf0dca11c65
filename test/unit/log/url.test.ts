import { describe, expect, it } from 'vitest';
import { loggableUrl } from '../../../src/log/url.js';

describe('loggableUrl', () => {
  it.each([
    ['no query', '/api/v1/namespaces/a/pods', '/api/v1/namespaces/a/pods'],
    ['plain Kubernetes parameters', '/api/v1/pods?labelSelector=app%3Dweb&limit=500&watch=1', '/api/v1/pods?labelSelector=app%3Dweb&limit=500&watch=1'],
    [
      'exec command arguments',
      '/api/v1/namespaces/a/pods/p/exec?command=mysql&command=-ps3cret&stdin=true&container=db',
      '/api/v1/namespaces/a/pods/p/exec?command=<redacted>&command=<redacted>&stdin=true&container=db',
    ],
    ['an application query through a proxy', '/api/v1/namespaces/a/services/web:80/proxy/login?password=hunter2&user=x', '/api/v1/namespaces/a/services/web:80/proxy/login?password=<redacted>&user=<redacted>'],
    ['a bare flag', '/x?pretty&token=abc', '/x?pretty&token=<redacted>'],
  ])('%s', (_name, url, logged) => {
    expect(loggableUrl(url)).toBe(logged);
  });

  it('passes undefined through', () => {
    expect(loggableUrl(undefined)).toBeUndefined();
  });
});
