import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Principal } from '../../src/identity/principal.js';
import { compileCel } from '../../src/policy/cel/index.js';
import { baselineAllowFile, builtinGuardrailsDir } from '../../src/policy/config.js';
import { evaluatePolicy } from '../../src/policy/engine.js';
import type { Decision } from '../../src/policy/engine.js';
import { kubeRequestFor } from '../../src/policy/kinds.js';
import { loadPolicy } from '../../src/policy/load.js';
import { rawRequest } from './helpers/https.js';
import { prng } from '../helpers/prng.js';

// Differential test of the Pod Security Standards guardrails against the API
// server's own PodSecurity admission (the same Kubernetes version the e2e
// cluster runs). For hundreds of generated pods — a compliant base for each
// level, then one mutation per control in a container or an init container,
// 200 random combinations of mutations, and ephemeral containers
// added to running pods — the API server judges a server-side dry-run in a
// namespace labelled pod-security.kubernetes.io/enforce=baseline|restricted,
// and Gatehouse judges the same request in-process with the shipped pack
// (the restricted namespace also carries gatehouse.dev/pod-security=restricted).
//
// Required, per request:
//   - the API server rejects ⇔ Gatehouse's verdict is not allow;
//   - the PodSecurity checks that failed (the reasons in the API server's
//     message) are exactly the checks of the Gatehouse rules that matched;
//   - no other rule matched and no rule failed to evaluate.

const cluster = inject('cluster');
const suffix = randomBytes(3).toString('hex');
const IMAGE = 'registry.invalid/app:1';

type Level = 'baseline' | 'restricted';
const namespaces: Record<Level, string> = { baseline: `pss-baseline-${suffix}`, restricted: `pss-restricted-${suffix}` };

// ---------------------------------------------------------------------------
// Which PodSecurity check each guardrail implements. The keys are every PSS
// rule of the pack; the values are the ForbiddenReason the API server prints.
// ---------------------------------------------------------------------------

const BASELINE_RULES: Readonly<Record<string, string>> = {
  'privileged-containers': 'privileged',
  'host-namespaces': 'host namespaces',
  'host-path-volumes': 'hostPath volumes',
  'host-ports': 'hostPort',
  'added-capabilities': 'non-default capabilities',
  'unmasked-proc-mount': 'procMount',
  'seccomp-unconfined': 'seccompProfile',
  'apparmor-unconfined': 'forbidden AppArmor profile',
  'selinux-options': 'seLinuxOptions',
  'unsafe-sysctls': 'forbidden sysctls',
  'windows-host-process': 'hostProcess',
};
const RESTRICTED_RULES: Readonly<Record<string, string>> = {
  'restricted-privilege-escalation': 'allowPrivilegeEscalation != false',
  'restricted-run-as-non-root': 'runAsNonRoot != true',
  'restricted-run-as-user-root': 'runAsUser=0',
  'restricted-seccomp': 'seccompProfile',
  'restricted-capabilities': 'unrestricted capabilities',
  'restricted-volume-types': 'restricted volume types',
};
// At the restricted level PodSecurity replaces two baseline checks with their
// stricter versions (OverrideCheckIDs), and reports only the stricter one.
const RESTRICTED_OVERRIDES: Readonly<Record<string, string>> = {
  'host-path-volumes': 'restricted volume types',
  'added-capabilities': 'unrestricted capabilities',
};

function checksOf(level: Level, decision: Decision): { checks: string[]; others: string[] } {
  const checks = new Set<string>();
  const others: string[] = [];
  for (const m of decision.matched) {
    const baseline = BASELINE_RULES[m.rule];
    const restricted = level === 'restricted' ? RESTRICTED_RULES[m.rule] : undefined;
    if (baseline !== undefined) checks.add(level === 'restricted' ? (RESTRICTED_OVERRIDES[m.rule] ?? baseline) : baseline);
    else if (restricted !== undefined) checks.add(restricted);
    else if (m.rule !== 'allow-everything-else') others.push(m.rule);
  }
  return { checks: [...checks].sort(), others };
}

/** The failed checks in `violates PodSecurity "restricted:latest": reason (detail), reason (detail)`. */
function podSecurityReasons(message: string): string[] {
  const at = message.indexOf('": ', message.indexOf('violates PodSecurity'));
  const text = message.slice(at + 3);
  const reasons: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (depth === 0 && ch === ',') {
      reasons.push(current);
      current = '';
      continue;
    }
    if (depth === 0) current += ch;
    if (ch === ')') depth--;
  }
  reasons.push(current);
  return reasons
    .map((r) => r.trim())
    .filter((r) => r !== '')
    .map((r) => (r === 'forbidden AppArmor profiles' ? 'forbidden AppArmor profile' : r))
    .sort();
}

// ---------------------------------------------------------------------------
// Pods.
// ---------------------------------------------------------------------------

type Json = Record<string, unknown>;
interface Container extends Json {
  name: string;
  securityContext?: Json;
}
interface PodSpec extends Json {
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  securityContext?: Json;
  volumes?: Json[];
}
interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: { name: string; annotations?: Record<string, string> } & Json;
  spec: PodSpec;
}

const hardened = (): Json => ({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });

/** A pod each level admits: one init container and one container. */
const BASES: Record<Level, () => PodSpec> = {
  baseline: () => ({
    initContainers: [{ name: 'init', image: IMAGE }],
    containers: [{ name: 'app', image: IMAGE }],
  }),
  restricted: () => ({
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    initContainers: [{ name: 'init', image: IMAGE, securityContext: hardened() }],
    containers: [{ name: 'app', image: IMAGE, securityContext: hardened() }],
  }),
};

const sc = (o: { securityContext?: Json }): Json => (o.securityContext ??= {});
const caps = (c: Container): Json => (sc(c).capabilities ??= {}) as Json;
const podSc = (pod: Pod): Json => (pod.spec.securityContext ??= {});

/** A change to one container (and, where a control needs it, the pod around it). */
interface ContainerMutation {
  name: string;
  apply(c: Container, pod: Pod): void;
  /** Ephemeral containers cannot carry this (ports), or it changes the pod too (hostUsers, annotations). */
  notEphemeral?: boolean;
}
/** A change to the pod. */
interface PodMutation {
  name: string;
  apply(pod: Pod): void;
}

const BASELINE_CAPABILITIES = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];
const OTHER_CAPABILITIES = ['NET_RAW', 'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'SYS_TIME', 'SYS_RESOURCE', 'BPF', 'PERFMON', 'DAC_READ_SEARCH', 'ALL', 'CAP_CHOWN', 'chown'];

const CONTAINER_MUTATIONS: ContainerMutation[] = [
  {
    name: 'privileged=true',
    apply: (c) => {
      sc(c).privileged = true;
      // privileged with allowPrivilegeEscalation=false is invalid; the restricted base sets it.
      delete sc(c).allowPrivilegeEscalation;
    },
  },
  { name: 'privileged=false', apply: (c) => void (sc(c).privileged = false) },
  ...[...BASELINE_CAPABILITIES, ...OTHER_CAPABILITIES].map(
    (cap): ContainerMutation => ({ name: `capabilities.add=[${cap}]`, apply: (c) => void (caps(c).add = [cap]) }),
  ),
  { name: 'capabilities.add=[NET_BIND_SERVICE, CHOWN]', apply: (c) => void (caps(c).add = ['NET_BIND_SERVICE', 'CHOWN']) },
  { name: 'capabilities.drop=[NET_RAW] (not ALL)', apply: (c) => void (caps(c).drop = ['NET_RAW']) },
  { name: 'capabilities.drop=[ALL, NET_RAW]', apply: (c) => void (caps(c).drop = ['ALL', 'NET_RAW']) },
  { name: 'capabilities unset', apply: (c) => void delete sc(c).capabilities },
  {
    name: 'procMount=Unmasked (hostUsers=false)',
    apply: (c, pod) => {
      pod.spec.hostUsers = false;
      sc(c).procMount = 'Unmasked';
    },
    notEphemeral: true,
  },
  { name: 'procMount=Default', apply: (c) => void (sc(c).procMount = 'Default') },
  { name: 'seccompProfile=Unconfined', apply: (c) => void (sc(c).seccompProfile = { type: 'Unconfined' }) },
  { name: 'seccompProfile=RuntimeDefault', apply: (c) => void (sc(c).seccompProfile = { type: 'RuntimeDefault' }) },
  { name: 'seccompProfile=Localhost', apply: (c) => void (sc(c).seccompProfile = { type: 'Localhost', localhostProfile: 'profiles/audit.json' }) },
  { name: 'appArmorProfile=Unconfined', apply: (c) => void (sc(c).appArmorProfile = { type: 'Unconfined' }) },
  { name: 'appArmorProfile=RuntimeDefault', apply: (c) => void (sc(c).appArmorProfile = { type: 'RuntimeDefault' }) },
  { name: 'appArmorProfile=Localhost', apply: (c) => void (sc(c).appArmorProfile = { type: 'Localhost', localhostProfile: 'k8s-apparmor' }) },
  ...['unconfined', 'runtime/default', 'localhost/k8s-apparmor'].map(
    (value): ContainerMutation => ({
      name: `AppArmor annotation ${value}`,
      apply: (c, pod) => void ((pod.metadata.annotations ??= {})[`container.apparmor.security.beta.kubernetes.io/${c.name}`] = value),
      notEphemeral: true,
    }),
  ),
  ...['spc_t', 'unconfined_t', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'].map(
    (type): ContainerMutation => ({ name: `seLinuxOptions.type=${type}`, apply: (c) => void (sc(c).seLinuxOptions = { type }) }),
  ),
  { name: 'seLinuxOptions.user=system_u', apply: (c) => void (sc(c).seLinuxOptions = { user: 'system_u' }) },
  { name: 'seLinuxOptions.role=system_r', apply: (c) => void (sc(c).seLinuxOptions = { role: 'system_r' }) },
  { name: 'seLinuxOptions.level=s0:c1,c2', apply: (c) => void (sc(c).seLinuxOptions = { level: 's0:c1,c2' }) },
  { name: 'windowsOptions.hostProcess=false', apply: (c) => void (sc(c).windowsOptions = { hostProcess: false }) },
  { name: 'allowPrivilegeEscalation=true', apply: (c) => void (sc(c).allowPrivilegeEscalation = true) },
  { name: 'allowPrivilegeEscalation unset', apply: (c) => void delete sc(c).allowPrivilegeEscalation },
  { name: 'allowPrivilegeEscalation=false', apply: (c) => void (sc(c).allowPrivilegeEscalation = false) },
  { name: 'runAsNonRoot=false', apply: (c) => void (sc(c).runAsNonRoot = false) },
  { name: 'runAsNonRoot=true', apply: (c) => void (sc(c).runAsNonRoot = true) },
  { name: 'runAsUser=0', apply: (c) => void (sc(c).runAsUser = 0) },
  { name: 'runAsUser=1000', apply: (c) => void (sc(c).runAsUser = 1000) },
  { name: 'hostPort=8080', apply: (c) => void (c.ports = [{ containerPort: 80, hostPort: 8080 }]), notEphemeral: true },
  { name: 'containerPort only', apply: (c) => void (c.ports = [{ containerPort: 80 }]), notEphemeral: true },
];

const volume = (name: string, source: Json): PodMutation => ({
  name: `volume ${name}`,
  apply: (pod) => void (pod.spec.volumes ??= []).push({ name: 'v', ...source }),
});

const SAFE_SYSCTLS: [string, string][] = [
  ['kernel.shm_rmid_forced', '1'],
  ['net.ipv4.ip_local_port_range', '1024 65535'],
  ['net.ipv4.ip_local_reserved_ports', '8080'],
  ['net.ipv4.tcp_syncookies', '1'],
  ['net.ipv4.ping_group_range', '0 1000'],
  ['net.ipv4.ip_unprivileged_port_start', '80'],
  ['net.ipv4.tcp_keepalive_time', '60'],
  ['net.ipv4.tcp_fin_timeout', '30'],
  ['net.ipv4.tcp_keepalive_intvl', '10'],
  ['net.ipv4.tcp_keepalive_probes', '5'],
  ['net.ipv4.tcp_rmem', '4096 87380 6291456'],
  ['net.ipv4.tcp_wmem', '4096 16384 4194304'],
];
const UNSAFE_SYSCTLS: [string, string][] = [
  ['kernel.msgmax', '65536'],
  ['kernel.shmmax', '68719476736'],
  ['kernel.sem', '250 32000 32 128'],
  ['net.core.somaxconn', '1024'],
  ['net.ipv4.ip_forward', '1'],
  ['net.ipv4.conf.all.route_localnet', '1'],
  ['vm.swappiness', '10'],
  ['net/ipv4/tcp_syncookies', '1'],
];

const POD_MUTATIONS: PodMutation[] = [
  ...(['hostNetwork', 'hostPID', 'hostIPC'] as const).flatMap((field): PodMutation[] => [
    { name: `${field}=true`, apply: (pod) => void (pod.spec[field] = true) },
    { name: `${field}=false`, apply: (pod) => void (pod.spec[field] = false) },
  ]),
  { name: 'hostUsers=false', apply: (pod) => void (pod.spec.hostUsers = false) },
  // Volume types PodSecurity restricted allows…
  volume('configMap', { configMap: { name: 'cfg' } }),
  volume('csi', { csi: { driver: 'secrets-store.csi.k8s.io' } }),
  volume('downwardAPI', { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }),
  volume('emptyDir', { emptyDir: {} }),
  volume('ephemeral', { ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } }),
  volume('image', { image: { reference: 'registry.invalid/models:1' } }),
  volume('persistentVolumeClaim', { persistentVolumeClaim: { claimName: 'data' } }),
  volume('projected', { projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }),
  volume('secret', { secret: { secretName: 'tls' } }),
  // …and the ones it does not.
  volume('hostPath', { hostPath: { path: '/var/run' } }),
  volume('nfs', { nfs: { server: 'nfs.invalid', path: '/share' } }),
  volume('gitRepo', { gitRepo: { repository: 'https://git.invalid/repo.git' } }),
  volume('iscsi', { iscsi: { targetPortal: '10.0.0.1:3260', iqn: 'iqn.2001-04.com.example:storage', lun: 0 } }),
  volume('rbd', { rbd: { monitors: ['10.0.0.1:6789'], image: 'img' } }),
  volume('cephfs', { cephfs: { monitors: ['10.0.0.1:6789'] } }),
  volume('fc', { fc: { targetWWNs: ['500a0982991b8dc5'], lun: 0 } }),
  volume('flexVolume', { flexVolume: { driver: 'example.com/flex' } }),
  volume('cinder', { cinder: { volumeID: 'vol' } }),
  volume('glusterfs', { glusterfs: { endpoints: 'gluster', path: 'vol' } }),
  volume('flocker', { flocker: { datasetName: 'ds' } }),
  volume('awsElasticBlockStore', { awsElasticBlockStore: { volumeID: 'vol-1' } }),
  volume('gcePersistentDisk', { gcePersistentDisk: { pdName: 'disk' } }),
  volume('azureFile', { azureFile: { secretName: 'azure', shareName: 'share' } }),
  volume('azureDisk', { azureDisk: { diskName: 'd', diskURI: 'https://acct.blob.core.windows.net/vhds/d.vhd' } }),
  volume('vsphereVolume', { vsphereVolume: { volumePath: '[datastore] disk.vmdk' } }),
  volume('photonPersistentDisk', { photonPersistentDisk: { pdID: 'pd' } }),
  volume('portworxVolume', { portworxVolume: { volumeID: 'vol' } }),
  volume('storageos', { storageos: { volumeName: 'vol' } }),
  volume('scaleIO', { scaleIO: { gateway: 'https://gw.invalid', system: 'sys', secretRef: { name: 's' }, volumeName: 'vol' } }),
  volume('quobyte', { quobyte: { registry: 'quobyte.invalid:7861', volume: 'vol' } }),
  { name: 'pod seccompProfile=Unconfined', apply: (pod) => void (podSc(pod).seccompProfile = { type: 'Unconfined' }) },
  { name: 'pod seccompProfile=RuntimeDefault', apply: (pod) => void (podSc(pod).seccompProfile = { type: 'RuntimeDefault' }) },
  { name: 'pod seccompProfile=Localhost', apply: (pod) => void (podSc(pod).seccompProfile = { type: 'Localhost', localhostProfile: 'profiles/audit.json' }) },
  { name: 'pod seccompProfile unset', apply: (pod) => void delete podSc(pod).seccompProfile },
  {
    name: 'pod seccompProfile unset, every container RuntimeDefault',
    apply: (pod) => {
      delete podSc(pod).seccompProfile;
      for (const c of allContainers(pod)) sc(c).seccompProfile = { type: 'RuntimeDefault' };
    },
  },
  {
    name: 'pod seccompProfile unset, only the app container RuntimeDefault',
    apply: (pod) => {
      delete podSc(pod).seccompProfile;
      sc(pod.spec.containers[0]!).seccompProfile = { type: 'RuntimeDefault' };
    },
  },
  {
    // PodSecurity (since 1.19) and the kubelet read only the field; the API insists that annotation and field agree.
    name: 'seccomp annotation unconfined instead of the field',
    apply: (pod) => {
      delete podSc(pod).seccompProfile;
      (pod.metadata.annotations ??= {})['seccomp.security.alpha.kubernetes.io/pod'] = 'unconfined';
    },
  },
  { name: 'pod appArmorProfile=Unconfined', apply: (pod) => void (podSc(pod).appArmorProfile = { type: 'Unconfined' }) },
  { name: 'pod appArmorProfile=RuntimeDefault', apply: (pod) => void (podSc(pod).appArmorProfile = { type: 'RuntimeDefault' }) },
  { name: 'pod appArmorProfile=Localhost', apply: (pod) => void (podSc(pod).appArmorProfile = { type: 'Localhost', localhostProfile: 'k8s-apparmor' }) },
  { name: 'pod seLinuxOptions.type=spc_t', apply: (pod) => void (podSc(pod).seLinuxOptions = { type: 'spc_t' }) },
  { name: 'pod seLinuxOptions.type=container_t', apply: (pod) => void (podSc(pod).seLinuxOptions = { type: 'container_t' }) },
  { name: 'pod seLinuxOptions.user=system_u', apply: (pod) => void (podSc(pod).seLinuxOptions = { user: 'system_u' }) },
  { name: 'pod seLinuxOptions.role=system_r', apply: (pod) => void (podSc(pod).seLinuxOptions = { role: 'system_r' }) },
  { name: 'pod seLinuxOptions.level=s0:c1,c2', apply: (pod) => void (podSc(pod).seLinuxOptions = { level: 's0:c1,c2' }) },
  ...[...SAFE_SYSCTLS, ...UNSAFE_SYSCTLS].map(
    ([name, value]): PodMutation => ({ name: `sysctl ${name}`, apply: (pod) => void (podSc(pod).sysctls = [{ name, value }]) }),
  ),
  {
    name: 'sysctls safe + unsafe',
    apply: (pod) => void (podSc(pod).sysctls = [{ name: 'net.ipv4.tcp_syncookies', value: '1' }, { name: 'kernel.msgmax', value: '65536' }]),
  },
  {
    // The API only accepts hostProcess with hostNetwork, so this is also a host-namespaces case.
    name: 'pod windowsOptions.hostProcess=true (with hostNetwork)',
    apply: (pod) => {
      pod.spec.hostNetwork = true;
      podSc(pod).windowsOptions = { hostProcess: true };
    },
  },
  {
    name: 'every container windowsOptions.hostProcess=true (with hostNetwork)',
    apply: (pod) => {
      pod.spec.hostNetwork = true;
      for (const c of allContainers(pod)) sc(c).windowsOptions = { hostProcess: true };
    },
  },
  { name: 'pod runAsNonRoot=false', apply: (pod) => void (podSc(pod).runAsNonRoot = false) },
  { name: 'pod runAsNonRoot unset', apply: (pod) => void delete podSc(pod).runAsNonRoot },
  {
    name: 'pod runAsNonRoot unset, every container true',
    apply: (pod) => {
      delete podSc(pod).runAsNonRoot;
      for (const c of allContainers(pod)) sc(c).runAsNonRoot = true;
    },
  },
  {
    name: 'pod runAsNonRoot=false, every container true',
    apply: (pod) => {
      podSc(pod).runAsNonRoot = false;
      for (const c of allContainers(pod)) sc(c).runAsNonRoot = true;
    },
  },
  { name: 'pod runAsUser=0', apply: (pod) => void (podSc(pod).runAsUser = 0) },
  { name: 'pod runAsUser=1000', apply: (pod) => void (podSc(pod).runAsUser = 1000) },
  {
    name: 'pod runAsUser=0, every container runAsUser=1000',
    apply: (pod) => {
      podSc(pod).runAsUser = 0;
      for (const c of allContainers(pod)) sc(c).runAsUser = 1000;
    },
  },
];

function allContainers(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers, ...(pod.spec.ephemeralContainers ?? [])];
}

/** Pods that are not a mutation of a base. */
const STANDALONE: { name: string; spec: PodSpec }[] = [
  // Windows pods: exempt from the Linux-only restricted checks, which the API forbids setting on them.
  { name: 'windows pod with runAsNonRoot', spec: { os: { name: 'windows' }, securityContext: { runAsNonRoot: true }, containers: [{ name: 'app', image: IMAGE }] } },
  { name: 'windows pod without runAsNonRoot', spec: { os: { name: 'windows' }, containers: [{ name: 'app', image: IMAGE }] } },
  {
    name: 'windows HostProcess pod',
    spec: { os: { name: 'windows' }, hostNetwork: true, securityContext: { runAsNonRoot: true, windowsOptions: { hostProcess: true, runAsUserName: 'NT AUTHORITY\\SYSTEM' } }, containers: [{ name: 'app', image: IMAGE }] },
  },
  { name: 'linux pod (os.name=linux), restricted', spec: { ...BASES.restricted(), os: { name: 'linux' } } },
  {
    name: 'three containers, one missing drop ALL',
    spec: {
      ...BASES.restricted(),
      containers: [
        { name: 'a', image: IMAGE, securityContext: hardened() },
        { name: 'b', image: IMAGE, securityContext: { allowPrivilegeEscalation: false } },
        { name: 'c', image: IMAGE, securityContext: hardened() },
      ],
    },
  },
];

interface PodCase {
  name: string;
  pod: Pod;
  /** True for random combinations: an invalid pod is skipped (and counted), not a failure. */
  combination?: boolean;
}

let serial = 0;
function podOf(spec: PodSpec): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: `pss-${(serial++).toString(36)}` }, spec };
}

function targetsOf(pod: Pod): { label: string; container: Container }[] {
  return [
    { label: 'container', container: pod.spec.containers[0]! },
    { label: 'initContainer', container: pod.spec.initContainers![0]! },
  ];
}

function generateCases(): PodCase[] {
  const cases: PodCase[] = [];
  for (const base of ['baseline', 'restricted'] as const) {
    cases.push({ name: `${base} base`, pod: podOf(BASES[base]()) });
    for (const m of CONTAINER_MUTATIONS) {
      for (const target of ['container', 'initContainer']) {
        const pod = podOf(BASES[base]());
        const t = targetsOf(pod).find((x) => x.label === target)!;
        m.apply(t.container, pod);
        cases.push({ name: `${base} base, ${target}: ${m.name}`, pod });
      }
    }
    for (const m of POD_MUTATIONS) {
      const pod = podOf(BASES[base]());
      m.apply(pod);
      cases.push({ name: `${base} base, ${m.name}`, pod });
    }
  }
  for (const s of STANDALONE) cases.push({ name: s.name, pod: podOf(s.spec) });
  // Random combinations of two to four mutations, from a fixed seed.
  const random = prng(0x5eed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  for (let i = 0; i < 200; i++) {
    const base = pick(['baseline', 'restricted'] as const);
    const pod = podOf(BASES[base]());
    const names: string[] = [];
    const count = 2 + Math.floor(random() * 3);
    for (let k = 0; k < count; k++) {
      if (random() < 0.6) {
        const m = pick(CONTAINER_MUTATIONS);
        const t = pick(targetsOf(pod));
        m.apply(t.container, pod);
        names.push(`${t.label}: ${m.name}`);
      } else {
        const m = pick(POD_MUTATIONS);
        m.apply(pod);
        names.push(m.name);
      }
    }
    cases.push({ name: `combination ${i}: ${base} base, ${names.join(' + ')}`, pod, combination: true });
  }
  return cases;
}


/** Ephemeral containers (kubectl debug) added to a running pod of each base. */
interface EphemeralCase {
  name: string;
  base: Level;
  mutate(c: Container): void;
}
function generateEphemeralCases(): EphemeralCase[] {
  const out: EphemeralCase[] = [];
  for (const base of ['baseline', 'restricted'] as const) {
    out.push({ name: `${base} pod, ephemeral container as its base`, base, mutate: () => undefined });
    for (const m of CONTAINER_MUTATIONS) {
      if (m.notEphemeral) continue;
      // The pod argument is unused by mutations that ephemeral containers can take.
      out.push({ name: `${base} pod, ephemeral container: ${m.name}`, base, mutate: (c) => m.apply(c, podOf(BASES[base]())) });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The two verdicts.
// ---------------------------------------------------------------------------

interface ApiVerdict {
  outcome: 'allowed' | 'rejected' | 'invalid';
  reasons: string[];
  message: string;
}

const auth = () => ({ authorization: `Bearer ${cluster.adminToken}`, accept: 'application/json', 'content-type': 'application/json' });

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await rawRequest(cluster.server, { method, path, headers: auth(), caPem: cluster.caPem, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, json: JSON.parse(res.body.toString('utf8')) as Json };
}

function verdictOf(res: { status: number; json: Json }): ApiVerdict {
  const message = typeof res.json.message === 'string' ? res.json.message : '';
  if (res.status === 200 || res.status === 201) return { outcome: 'allowed', reasons: [], message: '' };
  if (res.status === 403 && message.includes('violates PodSecurity')) return { outcome: 'rejected', reasons: podSecurityReasons(message), message };
  return { outcome: 'invalid', reasons: [], message: `${res.status}: ${message}` };
}

const principal: Principal = { subject: 'test:pss', groups: [], kind: 'human', via: 'token', tokenId: undefined };
const policy = loadPolicy([builtinGuardrailsDir(), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' });
const namespaceLabels: Partial<Record<Level, Record<string, string>>> = {};

function gatehouse(level: Level, verb: string, resource: string, name: string, pod: Pod): Decision {
  const request = kubeRequestFor({ verb, group: '', version: 'v1', resource, namespace: namespaces[level], name, object: pod });
  return evaluatePolicy(policy, { request, principal, object: pod, namespaceLabels: namespaceLabels[level] });
}

interface Result {
  name: string;
  level: Level;
  pod: Pod;
  api: ApiVerdict;
  decision: Decision;
  ephemeral: boolean;
}

/** What is wrong with one comparison, or undefined when both sides agree. */
function disagreement(r: Result): string | undefined {
  const { checks, others } = checksOf(r.level, r.decision);
  const problems: string[] = [];
  const gatehouseRejects = r.decision.action !== 'allow';
  if ((r.api.outcome === 'rejected') !== gatehouseRejects) {
    problems.push(`API server ${r.api.outcome}, Gatehouse ${r.decision.action}${r.decision.rule ? ` (${r.decision.rule})` : ''}`);
  }
  // With hostNetwork the API server defaults every containerPort's hostPort to
  // it, so PodSecurity also reports hostPort; Gatehouse judges the request as
  // sent, where host-namespaces already holds the pod.
  if (r.api.reasons.includes('hostPort') && !checks.includes('hostPort') && r.pod.spec.hostNetwork === true && allContainers(r.pod).some((c) => Array.isArray(c.ports))) {
    checks.push('hostPort');
    checks.sort();
  }
  if (JSON.stringify(checks) !== JSON.stringify(r.api.reasons)) problems.push(`checks: API server [${r.api.reasons.join('; ')}], Gatehouse [${checks.join('; ')}]`);
  if (others.length > 0) problems.push(`rules outside the PSS mapping matched: ${others.join(', ')}`);
  if (r.decision.errors.length > 0) problems.push(`rules failed: ${r.decision.errors.map((e) => `${e.rule}: ${e.error}`).join('; ')}`);
  return problems.length === 0 ? undefined : `${problems.join(' | ')}${r.api.message ? `\n    API server: ${r.api.message}` : ''}`;
}

// ---------------------------------------------------------------------------

const podCases = generateCases();
const ephemeralCases = generateEphemeralCases();
const results: Result[] = [];
let skippedCombinations = 0;

async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

async function waitForDefaultServiceAccount(namespace: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await api('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the default service account of ${namespace} never appeared`);
}

beforeAll(async () => {
  const labels: Record<Level, Record<string, string>> = {
    baseline: { 'pod-security.kubernetes.io/enforce': 'baseline' },
    restricted: { 'pod-security.kubernetes.io/enforce': 'restricted', 'gatehouse.dev/pod-security': 'restricted' },
  };
  for (const level of ['baseline', 'restricted'] as const) {
    const created = await api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespaces[level], labels: labels[level] } });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    // Gatehouse reads the labels the API server stored, as the gateway would.
    const ns = await api('GET', `/api/v1/namespaces/${namespaces[level]}`);
    namespaceLabels[level] = (ns.json.metadata as { labels: Record<string, string> }).labels;
    await waitForDefaultServiceAccount(namespaces[level]);
  }

  // Every pod, in both namespaces: a server-side dry-run create, and Gatehouse's verdict on the same create.
  const jobs = podCases.flatMap((c) => (['baseline', 'restricted'] as const).map((level) => ({ c, level })));
  await inBatches(jobs, 16, async ({ c, level }) => {
    const res = await api('POST', `/api/v1/namespaces/${namespaces[level]}/pods?dryRun=All`, { ...c.pod, metadata: { ...c.pod.metadata, namespace: namespaces[level] } });
    const verdict = verdictOf(res);
    if (verdict.outcome === 'invalid' && c.combination) {
      skippedCombinations++;
      return;
    }
    results.push({ name: c.name, level, pod: c.pod, api: verdict, decision: gatehouse(level, 'create', 'pods', '', c.pod), ephemeral: false });
  });

  // Ephemeral containers: a real pod per base (the restricted base in both
  // namespaces, the baseline base only where baseline is enforced), then a
  // dry-run update of its ephemeralcontainers subresource per mutation.
  const running: { level: Level; base: Level; pod: Pod }[] = [];
  for (const [level, base] of [['baseline', 'baseline'], ['baseline', 'restricted'], ['restricted', 'restricted']] as const) {
    const name = `debug-${base}`;
    const made = await api('POST', `/api/v1/namespaces/${namespaces[level]}/pods`, { ...podOf(BASES[base]()), metadata: { name, namespace: namespaces[level] } });
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    running.push({ level, base, pod: made.json as unknown as Pod });
  }
  const ephemeralJobs = running.flatMap((r) => ephemeralCases.filter((c) => c.base === r.base).map((c) => ({ c, r })));
  await inBatches(ephemeralJobs, 16, async ({ c, r }) => {
    const pod = structuredClone(r.pod);
    const debug: Container = { name: 'debugger', image: IMAGE, ...(r.base === 'restricted' ? { securityContext: { ...hardened(), runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } } : {}) };
    c.mutate(debug);
    pod.spec.ephemeralContainers = [debug];
    // An unconditional update: kwok keeps updating the pod's status.
    delete pod.metadata.resourceVersion;
    const res = await api('PUT', `/api/v1/namespaces/${namespaces[r.level]}/pods/${pod.metadata.name}/ephemeralcontainers?dryRun=All`, pod);
    results.push({ name: `${c.name} (in ${r.level})`, level: r.level, pod, api: verdictOf(res), decision: gatehouse(r.level, 'update', 'pods/ephemeralcontainers', pod.metadata.name, pod), ephemeral: true });
  });
  results.sort((a, b) => a.name.localeCompare(b.name) || a.level.localeCompare(b.level));
});

afterAll(async () => {
  for (const ns of Object.values(namespaces)) await api('DELETE', `/api/v1/namespaces/${ns}`);
});

describe('Pod Security Standards guardrails agree with the API server\'s PodSecurity admission', () => {
  it('judged every generated pod on both sides', () => {
    const expected = podCases.length * 2 + 3 * (ephemeralCases.length / 2) - skippedCombinations;
    expect(results.length).toBe(expected);
    // Generated pods must be valid: only random combinations may be skipped as invalid.
    const invalid = results.filter((r) => r.api.outcome === 'invalid').map((r) => `${r.level}: ${r.name}: ${r.api.message}`);
    expect(invalid).toEqual([]);
    // The comparison is not one-sided: both verdicts occur often, at both levels.
    for (const level of ['baseline', 'restricted'] as const) {
      const at = results.filter((r) => r.level === level);
      expect(at.filter((r) => r.api.outcome === 'allowed').length, level).toBeGreaterThan(50);
      expect(at.filter((r) => r.api.outcome === 'rejected').length, level).toBeGreaterThan(50);
    }
    expect(skippedCombinations).toBeLessThan(100);
    const rejected = results.filter((r) => r.api.outcome === 'rejected').length;
    console.info(
      `PodSecurity differential: ${results.length} comparisons (${podCases.length} pods × 2 namespaces, ${results.filter((r) => r.ephemeral).length} ephemeral containers), ` +
        `${rejected} rejected and ${results.length - rejected} admitted by the API server; ${skippedCombinations} random combinations skipped as invalid pods`,
    );
  });

  it('agrees on every pod and ephemeral container (verdict and failed checks)', () => {
    const wrong = results.flatMap((r) => {
      const d = disagreement(r);
      return d === undefined ? [] : [`${r.level}: ${r.name}: ${d}`];
    });
    expect(wrong.join('\n'), `${wrong.length} of ${results.length} comparisons disagree`).toBe('');
  });
});
