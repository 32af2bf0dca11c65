import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { staticPolicy } from '../../../src/policy/model.js';
import type { CompiledPolicy } from '../../../src/policy/model.js';
import { createPolicyStage } from '../../../src/policy/stage.js';
import { pod, policyOf, policyYaml, stageContext } from './helpers.js';

const context = (method: string, url: string, object?: unknown): RequestContext => stageContext(method, url, object);

const enforced = policyOf(
  policyYaml(`    - name: prod-deletes
      match: { verbs: [delete], namespaceSelector: { matchLabels: { tier: prod } } }
      action: deny
    - name: everything
      action: allow
`),
);
const proposed = policyOf(
  policyYaml(`    - name: no-deletes
      match: { verbs: [delete] }
      action: deny
    - name: labelled-reads
      match: { verbs: [get], namespaceSelector: { matchLabels: { tier: prod } } }
      action: review
    - name: privileged
      match: { verbs: [patch], resources: [{ group: "", resource: pods }] }
      when: object.spec.containers.exists(c, c.securityContext.privileged)
      action: deny
    - name: everything
      action: allow
`),
);

async function decideWith(shadow: CompiledPolicy | undefined, ctx: RequestContext): Promise<RequestContext> {
  const outcome = await createPolicyStage({
    policy: staticPolicy(enforced),
    namespaceLabels: () => Promise.resolve({ tier: 'dev' }),
    shadow: shadow && staticPolicy(shadow),
  }).run(ctx);
  expect(outcome.action).toBe('continue');
  return ctx;
}

describe('shadow policy in the policy stage', () => {
  it('records the shadow decision without changing the real one, and the namespace labels the real one used', async () => {
    const ctx = await decideWith(proposed, context('DELETE', '/api/v1/namespaces/team/pods/web'));
    expect(ctx.decision).toMatchObject({ action: 'allow', rule: 'everything', namespaceLabels: { tier: 'dev' } });
    expect(ctx.shadowDecision).toMatchObject({ action: 'deny', rule: 'no-deletes' });
  });

  it('is undetermined when the shadow needs what the enforced policy did not gather', async () => {
    const read = await decideWith(proposed, context('GET', '/api/v1/namespaces/team/pods/web'));
    expect(read.decision).toMatchObject({ action: 'allow' });
    expect(read.decision?.namespaceLabels).toBeUndefined();
    expect(read.shadowDecision).toMatchObject({ action: 'undetermined', message: expect.stringContaining('labels of namespace "team"') as string });
    const patch = await decideWith(proposed, context('PATCH', '/api/v1/namespaces/team/pods/web', pod('web', true)));
    expect(patch.shadowDecision).toMatchObject({ action: 'undetermined', message: expect.stringContaining('did not resolve') as string });
  });

  it('sets nothing when no shadow is configured, and a failing shadow only records the failure', async () => {
    expect((await decideWith(undefined, context('GET', '/api/v1/namespaces/team/pods/web'))).shadowDecision).toBeUndefined();
    const throwing = { ...proposed, get rules(): never { throw new Error('boom'); } } as CompiledPolicy;
    const ctx = await decideWith(throwing, context('GET', '/api/v1/namespaces/team/pods'));
    expect(ctx.decision?.action).toBe('allow');
    expect(ctx.shadowDecision).toMatchObject({ action: 'undetermined', message: 'the shadow policy failed: boom' });
  });
});
