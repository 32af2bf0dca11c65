import { describe, expect, test } from 'vitest';
import type { CelActivation } from '../../../../src/policy/cel/index.js';
import { create, del, run } from './fixtures.js';

/** Expected evaluation error whose message matches. */
class Err {
  constructor(readonly pattern: RegExp) {}
}
const err = (pattern: RegExp): Err => new Err(pattern);

type Row = [expression: string, expected: unknown];

function table(name: string, rows: Row[], activation: CelActivation = create): void {
  describe(name, () => {
    test.each(rows)('%s', (expression, expected) => {
      const r = run(expression, activation);
      if (expected instanceof Err) {
        expect(r.ok, `expected an error, got ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`).toBe(false);
        if (!r.ok) expect(r.error).toMatch(expected.pattern);
      } else {
        expect(r).toEqual({ ok: true, value: expected });
      }
    });
  });
}

table('variables and values', [
  ['object.metadata.name', 'web-1'],
  ['object.spec.containers[0].ports[0].containerPort', 8080n],
  ['object.spec.containers[0].ports[0].containerPort + 1', 8081n],
  ['object.spec.containers[0].ports[0].containerPort == 8080', true],
  ['object.spec.terminationGracePeriodSeconds > 10', true],
  ['object.spec.priority', 0.5],
  ['object.spec.priority * 2.0', 1],
  ['oldObject == null', true],
  ['object.spec.hostNetwork', false],
  ["namespaceObject.metadata.labels['env']", 'production'],
  ['request.operation', 'CREATE'],
  ['request.kind.kind', 'Pod'],
  ["request.resource.group == '' && request.resource.resource == 'pods'", true],
  ['request.requestKind.version', 'v1'],
  ['request.userInfo.username', 'system:serviceaccount:ci:deployer'],
  ["request.userInfo.groups.exists(g, g == 'system:masters')", false],
  ["request.userInfo.extra['scopes']", ['a', 'b']],
  ['request.dryRun', false],
  ['request.subResource', ''],
  ['request.verb + " " + request.path', 'create /api/v1/namespaces/prod/pods'],
  ['principal.kind', 'agent'],
  ["principal.groups.exists(g, g == 'ai-agents')", true],
  ['principal.tokenId', 't1'],
  ['object.metadata.labels', { app: 'web', team: 'payments' }],
  ['[1, 2.5, "x", null, true]', [1n, 2.5, 'x', null, true]],
  ['{"a": 1}', { a: 1n }],
  ['1u + 2u', 3n],
  ['object.metadata.name.size() > 3 ? "long" : "short"', 'long'],
]);

table('DELETE: object is null', [
  ['object == null', true],
  ['oldObject.metadata.name', 'web-1'],
  ['has(oldObject.spec.volumes)', true],
  ['request.operation', 'DELETE'],
  ["principal.tokenId == ''", true],
  ['object.metadata.name', err(/No such key: metadata/)],
], del);

table('has() and optional field selection', [
  ['has(object.metadata.labels)', true],
  ['has(object.metadata.labels.owner)', false],
  ["object.?metadata.?labels.?owner.orValue('none')", 'none'],
  ["object.?metadata.?labels.?app.orValue('none')", 'web'],
  ['object.?spec.?hostPID.orValue(false)', false],
  ['object.spec.?nonexistent.?deeper.?still.hasValue()', false],
  ['object.?spec.?containers.orValue([]).size()', 2n],
  ["object.metadata.labels[?'team'].orValue('')", 'payments'],
  ["object.metadata.labels[?'nope'].orValue('dflt')", 'dflt'],
  ['object.spec.containers.exists(c, c.?securityContext.?privileged.orValue(false))', true],
  ['object.spec.containers.all(c, c.?securityContext.?runAsNonRoot.orValue(false))', false],
  ['object.?spec.?hostPID', null],
  ['object.?metadata.?name', 'web-1'],
  ['object.spec.nope', err(/No such key: nope/)],
  ['object.spec.nope.bar', err(/No such key: nope/)],
  ['object.spec.containers[5]', err(/out of (range|bounds)/i)],
]);

table('macros', [
  ['object.spec.containers.exists(c, has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged)', true],
  ["object.spec.containers.all(c, c.image.startsWith('registry.example.com/'))", false],
  ['object.spec.volumes.exists(v, has(v.hostPath))', true],
  ["object.spec.containers.exists_one(c, c.name == 'app')", true],
  ['object.spec.containers.exists_one(c, has(c.securityContext))', false],
  ['object.spec.containers.map(c, c.name)', ['app', 'sidecar']],
  ['object.spec.containers.map(c, has(c.ports), c.name)', ['app']],
  ['object.spec.containers.filter(c, has(c.env)).size()', 1n],
  ['object.metadata.labels.all(k, k.size() > 2)', true],
  ["object.metadata.labels.exists(k, object.metadata.labels[k] == 'payments')", true],
  ['dyn([]).all(x, x > 0)', true],
  ['[1, 2, 3].map(x, x * 10)', [10n, 20n, 30n]],
  ['cel.bind(names, object.spec.containers.map(c, c.name), names.size() == 2 && "app" in names)', true],
  // exists absorbs an error on one element when another is true.
  ['object.spec.containers.exists(c, c.securityContext.privileged)', true],
  // …and all() reports it when nothing decides the result.
  ['object.spec.containers.all(c, c.securityContext.privileged)', err(/No such key: privileged/)],
]);

table('strings extension', [
  ["object.metadata.name.startsWith('web')", true],
  ["object.metadata.name.endsWith('-1')", true],
  ["object.metadata.name.contains('eb-')", true],
  ["'PROD'.lowerAscii() == object.metadata.namespace", true],
  ['object.metadata.namespace.upperAscii()', 'PROD'],
  ["'a,b,c'.split(',')", ['a', 'b', 'c']],
  ["'a,b,c'.split(',', 2)", ['a', 'b,c']],
  ["['a', 'b'].join('-')", 'a-b'],
  ["['a', 'b'].join()", 'ab'],
  ["'registry.example.com/app'.replace('registry.example.com', 'mirror.local')", 'mirror.local/app'],
  ["'aaa'.replace('a', 'b', 2)", 'bba'],
  ["'aaa'.replace('a', 'b', 0)", 'aaa'],
  ["'abc'.replace('', '-')", '-a-b-c-'],
  ["'  x  '.trim()", 'x'],
  ["object.spec.containers[1].image.indexOf(':')", 23n],
  ["'hello'.indexOf('l', 3)", 3n],
  ["'hello'.lastIndexOf('l')", 3n],
  ["'nope'.indexOf('z')", -1n],
  ['object.spec.containers[1].image.substring(0, 9)', 'docker.io'],
  ["'hello'.substring(3)", 'lo'],
  ["'héllo'.charAt(1)", 'é'],
  ["'abc'.charAt(3)", ''],
  ["'abc'.reverse()", 'cba'],
  ["'%s/%s has %d containers (%.1f%%)'.format([object.metadata.namespace, object.metadata.name, size(object.spec.containers), 12.34])", 'prod/web-1 has 2 containers (12.3%)'],
  ["'%s'.format([[1, 'a']])", '[1, a]'],
  ["'%x'.format([255])", 'ff'],
  ["'%d'.format(['x'])", err(/cannot format string/)],
  ["'%s %s'.format(['x'])", err(/missing argument/)],
  ["'abc'.charAt(4)", err(/index out of range/)],
  ["'hello'.substring(4, 2)", err(/index out of range/)],
  ['size("héllo")', 5n],
  ["'abc' + 'def'", 'abcdef'],
  ["'abc' < 'abd'", true],
]);

table('regex (RE2)', [
  ["object.metadata.name.matches('^[a-z0-9-]+$')", true],
  ["object.metadata.name.matches('[0-9]')", true],
  ["object.metadata.name.matches('^[0-9]+$')", false],
  ["matches(object.metadata.name, '^web')", true],
  ["object.spec.containers.all(c, c.image.matches('^registry\\\\.example\\\\.com/.+'))", false],
  ["object.spec.containers[1].image.find('[0-9]+\\\\.[0-9]+')", '1.25'],
  ["'no digits'.find('[0-9]+')", ''],
  ["'a1b22c333'.findAll('[0-9]+')", ['1', '22', '333']],
  ["'a1b22c333'.findAll('[0-9]+', 2)", ['1', '22']],
  ["'a1b22c333'.findAll('[0-9]+', 0)", []],
  ["'ab'.findAll('')", ['', '', '']],
  ["'ÄÖü'.matches('^\\\\p{Lu}+')", true],
  ["'x'.matches(object.metadata.name + '(')", err(/invalid regex/)],
  ["'abc'.matches('(?i)ABC')", true],
]);

table('lists extension', [
  ['[1, 2, 3].isSorted()', true],
  ['[1, 3, 2].isSorted()', false],
  ["['a', 'b', 'b'].isSorted()", true],
  ['[].isSorted()', true],
  ['[1, 2, 3].sum()', 6n],
  ['[1.5, 2.5].sum()', 4],
  ['[].sum()', 0n],
  ['[3, 1, 2].min()', 1n],
  ['[3, 1, 2].max()', 3n],
  ["['b', 'a'].min()", 'a'],
  ['[1, 2, 1].indexOf(1)', 0n],
  ['[1, 2, 1].lastIndexOf(1)', 2n],
  ['[1, 2].indexOf(5)', -1n],
  ["object.spec.containers.map(c, c.name).indexOf('sidecar')", 1n],
  ['[[1], [2, 3]].flatten()', [1n, 2n, 3n]],
  ['[1, 2, 1, 3].distinct()', [1n, 2n, 3n]],
  ['[1, 2, 3].reverse()', [3n, 2n, 1n]],
  ['[1, 2, 3, 4].slice(1, 3)', [2n, 3n]],
  ['object.spec.containers.map(c, c.name).isSorted()', true],
  ['[].min()', err(/empty list/)],
  ['[1, 2].slice(1, 5)', err(/invalid range/)],
  ['dyn([1, "a"]).isSorted()', err(/no ordering/)],
]);

table('sets extension', [
  ["sets.contains(object.spec.containers[1].securityContext.capabilities.add, ['NET_ADMIN'])", true],
  ["sets.contains(['a'], ['a', 'b'])", false],
  ['sets.contains([1, 2], [])', true],
  ["sets.intersects(object.spec.containers[1].securityContext.capabilities.add, ['SYS_ADMIN', 'SYS_TIME'])", true],
  ["sets.intersects(['a'], ['b'])", false],
  ['sets.equivalent([1, 2, 2], [2, 1])', true],
  ['sets.equivalent([1, 2], [1, 2, 3])', false],
  ['sets.contains([1.0], [1])', true],
]);

table('quantity', [
  ["quantity(object.spec.containers[0].resources.limits.memory).isLessThan(quantity('1Gi'))", true],
  ["quantity(object.spec.containers[0].resources.limits.cpu).compareTo(quantity('1'))", -1n],
  ["quantity('1').compareTo(quantity('1000m'))", 0n],
  ["quantity('2').isGreaterThan(quantity('1999m'))", true],
  ["quantity('1') == quantity('1000m')", true],
  ["quantity('1') != quantity('1001m')", true],
  ["quantity('500m').asApproximateFloat()", 0.5],
  ["quantity('2Gi').asInteger()", 2147483648n],
  ["quantity('1.5Gi').asInteger()", 1610612736n],
  ["quantity('1e3').asInteger()", 1000n],
  ["quantity('1.5').isInteger()", false],
  ["quantity('-2k').sign()", -1n],
  ["quantity('1Gi').add(quantity('512Mi')).asInteger()", 1610612736n],
  ["quantity('1').add(2).asInteger()", 3n],
  ["quantity('1').sub(quantity('250m')).asApproximateFloat()", 0.75],
  ["isQuantity('100Mi')", true],
  ["isQuantity('100MB')", false],
  ["quantity('500m')", '500m'],
  ["quantity('1.5').asInteger()", err(/cannot be represented as an integer/)],
  ["quantity(object.metadata.name)", err(/invalid quantity "web-1"/)],
]);

table('url', [
  ["url('https://example.com:8443/path?x=1&x=2&y').getHost()", 'example.com:8443'],
  ["url('https://example.com:8443/path').getHostname()", 'example.com'],
  ["url('https://example.com:8443/path').getPort()", '8443'],
  ["url('https://example.com/path').getPort()", ''],
  ["url('HTTPS://example.com/').getScheme()", 'https'],
  ["url('https://[::1]:80/').getHostname()", '::1'],
  ["url('https://user:pw@example.com/a%20b').getEscapedPath()", '/a%20b'],
  ["url('https://example.com/p?x=1&x=2&y=a+b').getQuery()", { x: ['1', '2'], y: ['a b'] }],
  ["url('/just/a/path').getHost()", ''],
  ["isURL('https://example.com')", true],
  ["isURL('not a url')", false],
  ["url(object.metadata.name)", err(/invalid URL/)],
]);

table('size and arithmetic', [
  ['size(object.spec.containers)', 2n],
  ['object.spec.containers.size()', 2n],
  ['size(object.metadata.labels)', 2n],
  ['size("abc")', 3n],
  ['7 / 2', 3n],
  ['7.0 / 2.0', 3.5],
  ['7 % 3', 1n],
  ['int("42") + 1', 43n],
  ['string(42)', '42'],
  ['double(1) + 0.5', 1.5],
  ['1 / 0', err(/division by zero/)],
  ['9223372036854775807 + 1', err(/overflow/)],
]);

table('type errors at run time', [
  ['object.metadata.name + 1', err(/no such overload/)],
  ['object.metadata.name > 1', err(/no such overload/)],
  ['dyn(object.spec.containers.size()) == "2"', false],
  ['object.metadata.labels.app.startsWith(1)', err(/no matching overload/)],
  ['object.spec.containers[0].matches("x")', err(/no matching overload/)],
  ['object.spec.hostNetwork || object.metadata.name', err(/bool/)],
  ["object.metadata.name.find(object.spec.containers)", err(/no matching overload/)],
  ['quantity(object.spec.containers)', err(/no matching overload/)],
]);
