import { describe, expect, it } from 'vitest';
import { requestFor } from '../../../src/mcp/tools/can-i.js';
import { execQuery, exitOf, formatExec } from '../../../src/mcp/tools/exec.js';
import { describe as describeObject } from '../../../src/mcp/tools/read.js';
import { rolloutState } from '../../../src/mcp/tools/rollout-status.js';
import { describeOutcome } from '../../../src/mcp/tools/wait-for-approval.js';

describe('can_i requestFor', () => {
  const pods = '/api/v1/namespaces/dev/pods';
  it.each([
    ['get', 'web', undefined, 'GET', `${pods}/web`],
    ['list', undefined, undefined, 'GET', pods],
    ['watch', undefined, undefined, 'GET', `${pods}?watch=true`],
    ['create', undefined, undefined, 'POST', pods],
    ['create', 'web', 'exec', 'POST', `${pods}/web/exec`],
    ['update', 'web', undefined, 'PUT', `${pods}/web`],
    ['patch', 'web', undefined, 'PATCH', `${pods}/web`],
    ['delete', 'web', undefined, 'DELETE', `${pods}/web`],
    ['deletecollection', undefined, undefined, 'DELETE', pods],
  ] as const)('%s %s %s → %s %s', (verb, name, sub, method, path) => {
    expect(requestFor(verb, pods, name, sub)).toEqual({ method, path });
  });

  it('needs a name for verbs on one object', () => {
    expect(() => requestFor('delete', pods, undefined, undefined)).toThrow('verb "delete" needs a name');
  });
});

describe('exec', () => {
  it('builds the query kubectl sends, without stdin or a TTY', () => {
    expect(execQuery(['sh', '-c', 'echo a b'], 'app')).toBe('command=sh&command=-c&command=echo+a+b&container=app&stdout=true&stderr=true');
  });

  it.each([
    ['{"status":"Success"}', { exitCode: 0, failure: undefined }],
    ['{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"2"}]}}', { exitCode: 2, failure: undefined }],
    ['{"status":"Failure","message":"container not found"}', { exitCode: undefined, failure: 'container not found' }],
  ])('reads the status frame %s', (text, want) => expect(exitOf(text)).toEqual(want));

  it('formats the outcome with bounded streams', () => {
    expect(formatExec({ stdout: 'hi\n', stderr: '', exitCode: 0, failure: undefined, timedOut: false }, 100)).toBe('exit code 0\n--- stdout\nhi\n');
    expect(formatExec({ stdout: 'x'.repeat(20), stderr: 'oops', exitCode: 1, failure: undefined, timedOut: false }, 10)).toMatch(/^exit code 1\n--- stdout\nx{10}\n… \[truncated: .*\]\n--- stderr\noops\n$/);
    expect(formatExec({ stdout: '', stderr: '', exitCode: undefined, failure: undefined, timedOut: true }, 10)).toBe('stopped: the command did not finish in time');
  });
});

describe('rolloutState', () => {
  it.each([
    [{ metadata: { generation: 2 }, status: { observedGeneration: 1 } }, false, 'Waiting for the deployment spec update to be observed…'],
    [{ spec: { replicas: 3 }, status: { updatedReplicas: 1 } }, false, 'Waiting for the rollout to finish: 1 of 3 new replicas have been updated…'],
    [{ spec: { replicas: 2 }, status: { updatedReplicas: 2, replicas: 3 } }, false, 'Waiting for the rollout to finish: 1 old replicas are pending termination…'],
    [{ spec: { replicas: 2 }, status: { updatedReplicas: 2, replicas: 2, availableReplicas: 1 } }, false, 'Waiting for the rollout to finish: 1 of 2 updated replicas are available…'],
    [{ spec: { replicas: 2 }, status: { updatedReplicas: 2, replicas: 2, availableReplicas: 2 } }, true, 'successfully rolled out'],
  ])('%j', (deployment, done, message) => {
    expect(rolloutState(deployment)).toEqual({ done, failed: false, message });
  });

  it('fails past the progress deadline', () => {
    const state = rolloutState({ status: { conditions: [{ type: 'Progressing', reason: 'ProgressDeadlineExceeded', message: 'took too long' }] } });
    expect(state).toEqual({ done: false, failed: true, message: 'The rollout exceeded its progress deadline: took too long' });
  });
});

describe('describe', () => {
  it('summarises a pod: status, containers and conditions', () => {
    const text = describeObject(
      {
        kind: 'Pod',
        metadata: { name: 'web', namespace: 'dev', creationTimestamp: '2025-01-01T11:00:00Z', labels: { app: 'web' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-1' }] },
        spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'web:1' }] },
        status: {
          phase: 'Pending',
          containerStatuses: [{ name: 'app', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } } }],
          conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
        },
      },
      Date.parse('2025-01-01T12:00:00Z'),
    );
    expect(text).toContain('Name:        web\nNamespace:   dev\nCreated:     2025-01-01T11:00:00Z (60m ago)\nLabels:      app=web\nAnnotations: <none>\nOwned by:    ReplicaSet/web-1\nStatus:      Pending\nNode:        node-1');
    expect(text).toMatch(/\n {2}app\s+web:1\s+waiting \(CrashLoopBackOff: back-off\)\s+false\s+3\n/);
    expect(text).toMatch(/\n {2}Ready\s+False\s+ContainersNotReady\s*$/);
  });
});

describe('describeOutcome', () => {
  it('names the object that went through', () => {
    expect(describeOutcome({ status: 201, contentType: 'application/json', text: '{"kind":"Pod","metadata":{"name":"x"}}' })).toBe('Approved: Pod/x went through (HTTP 201, created).');
    expect(describeOutcome({ status: 200, contentType: 'text/plain', text: 'ok' })).toBe('Approved: the request went through (HTTP 200).');
  });
});
