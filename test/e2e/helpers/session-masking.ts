import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { recordedChunks } from './audit-store.js';
import type { GatewayProcess } from './gateway.js';
import { startGatewayProcess } from './gateway.js';
import { run } from './run.js';
import { waitFor } from './wait.js';

/** A GitHub-token-shaped secret, built by concatenation so no token-shaped literal lives in the repository. */
export function sessionToken(): string {
  return ['gh', 'p_', randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)].join('');
}

/** How exec and attach output shows `token`: its mask padded with `*` to the token's length (session output keeps its length). */
export function sessionMask(token: string): string {
  return '<masked:github-token>'.padEnd(token.length, '*');
}

/**
 * Starts a gateway whose policy says `mask` for exec, attach and port-forward
 * in `ns`, with `masking.sessions.enabled` as given; files go to `work`.
 */
export function startSessionMaskingGateway(upstreamKubeconfig: string, work: string, ns: string, sessionsEnabled: boolean): Promise<GatewayProcess> {
  const policy = join(work, 'mask-sessions.yaml');
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'mask-sessions' },
      spec: {
        rules: [
          {
            name: 'mask-sessions',
            match: {
              verbs: ['create'],
              namespaces: [ns],
              resources: ['pods/exec', 'pods/attach', 'pods/portforward'].map((resource) => ({ group: '', resource })),
            },
            action: 'mask',
            message: 'session output is masked',
          },
        ],
      },
    }),
  );
  const config = join(work, `gatehouse-sessions-${sessionsEnabled}.yaml`);
  writeFileSync(config, JSON.stringify({ masking: { sessions: { enabled: sessionsEnabled } } }));
  return startGatewayProcess(upstreamKubeconfig, ['--policy', policy, '--config', config]);
}

export interface SessionEvent {
  requestId: string;
  request: { subresource: string };
  decision?: { action: string };
  result: { status: number; code?: string };
  stream?: { sessionId: string; hash: string };
  bodies: { masked: boolean };
}

/**
 * The audit event that closed a session of `subresource` (exec, attach) in
 * `ns` whose recording shows `marker`, with the recording's stdout and all
 * of it. Written just after the client left, so polled.
 */
export async function recordedSession(gateway: GatewayProcess, ns: string, subresource: string, marker: string): Promise<{ event: SessionEvent; stdout: string; all: string }> {
  return waitFor(`a closed ${subresource} session showing ${marker}`, async () => {
    const r = await run(process.execPath, ['bin/gatehouse.js', 'audit', 'search', '--namespace', ns, '--json', '--limit', '100', '--data-dir', gateway.dataDir]);
    for (const { event } of JSON.parse(r.stdout) as { event: SessionEvent }[]) {
      if (event.request.subresource !== subresource || event.stream?.hash === undefined) continue;
      const chunks = recordedChunks(gateway, event.stream.sessionId);
      const all = chunks.map((c) => c.data.toString()).join('');
      if (all.includes(marker)) return { event, stdout: chunks.filter((c) => c.channel === 'stdout').map((c) => c.data.toString()).join(''), all };
    }
    return undefined;
  });
}
