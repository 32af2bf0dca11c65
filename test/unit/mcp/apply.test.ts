import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/mcp/tools/apply.js';

describe('parseManifest', () => {
  it('reads several YAML documents, skipping empty ones, and expands a List', () => {
    const objects = parseManifest(
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"b","namespace":"x"}}]}\n',
    );
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ConfigMap/a', 'Secret/b']);
  });

  it.each([
    ['kind: [', /^invalid manifest: document 1 is not valid YAML: /],
    ['- a\n- b\n', /^invalid manifest: document 1 is not an object$/],
    ['kind: Pod\nmetadata: {name: a}\n', /^invalid manifest: document 1 has no apiVersion$/],
    ['apiVersion: v1\nmetadata: {name: a}\n', /^invalid manifest: document 1 has no kind$/],
    ['apiVersion: v1\nkind: Pod\nmetadata: {generateName: a-}\n', /^invalid manifest: document 1 \(Pod\) has no metadata.name/],
    ['apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod}]\n', /^invalid manifest: document 1, item 1 \(Pod\) has no metadata.name/],
    ['---\n', /^invalid manifest: it holds no objects$/],
  ])('refuses %j', (text, message) => {
    expect(() => parseManifest(text)).toThrow(message);
  });
});
