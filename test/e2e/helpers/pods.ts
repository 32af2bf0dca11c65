import type { Kubectl } from './run.js';

/**
 * Creates namespace `ns` with a one-pod Deployment `app` (kwok runs it) and
 * returns the pod's name. A rollout that does not finish fails with what the
 * cluster says about the Deployment, its pods and the namespace's events, so
 * a slow or stuck control plane is told apart from a test's own mistake.
 */
export async function createRunningPod(direct: Kubectl, ns: string, app: string): Promise<string> {
  await direct.ok(['create', 'namespace', ns]);
  await direct.ok(['-n', ns, 'create', 'deployment', app, `--image=registry.invalid/${app}:1`]);
  const rollout = await direct(['-n', ns, 'rollout', 'status', `deployment/${app}`, '--timeout=90s'], { timeoutMs: 100_000 });
  // On a starved machine the node lifecycle controller can mark a pod not ready (event NodeNotReady) that kwok runs,
  // and the rollout never completes; exec, attach and logs need the pod running, not counted ready.
  if (rollout.code !== 0 && !(await runsItsContainers(direct, ns, app))) {
    const said = await Promise.all([
      direct(['-n', ns, 'get', 'deployment,replicaset,pods', '-o', 'wide']),
      direct(['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp']),
      direct(['get', 'nodes', '-o', 'wide']),
    ]);
    throw new Error(`deployment ${ns}/${app} did not roll out: ${rollout.stderr.trim()}\n${said.map((r) => r.stdout + r.stderr).join('\n')}`);
  }
  return (await direct.ok(['-n', ns, 'get', 'pods', '-l', `app=${app}`, '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
}

/** True when the Deployment's pod is running with every container ready (whatever its Ready condition says). */
async function runsItsContainers(direct: Kubectl, ns: string, app: string): Promise<boolean> {
  const r = await direct(['-n', ns, 'get', 'pods', '-l', `app=${app}`, '-o', 'jsonpath={.items[0].status.phase} {.items[0].status.containerStatuses[*].ready}']);
  const [phase, ...ready] = r.stdout.trim().split(/\s+/);
  return r.code === 0 && phase === 'Running' && ready.length > 0 && ready.every((x) => x === 'true');
}
