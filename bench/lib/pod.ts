/** A realistic Pod object for policy benchmarks. */
const container = (name: string, image: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  image,
  imagePullPolicy: 'IfNotPresent',
  ports: [{ containerPort: 8080, protocol: 'TCP' }],
  resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '250m', memory: '128Mi' } },
  env: [
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ],
  volumeMounts: [{ name: 'config', mountPath: '/etc/app' }],
  securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  ...extra,
});

/** A typical Deployment-generated pod: 3 containers, 1 init container, 4 volumes; compliant. */
export function makePod(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-7d9f8c6b5-x2kqz',
      namespace: 'payments',
      labels: { app: 'web', 'pod-template-hash': '7d9f8c6b5', team: 'payments' },
      annotations: { 'kubectl.kubernetes.io/default-container': 'app' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f8c6b5', uid: 'u1', controller: true }],
    },
    spec: {
      serviceAccountName: 'web',
      initContainers: [container('migrate', 'registry.example.com/payments/migrate:1.4.2')],
      containers: [
        container('app', 'registry.example.com/payments/web:2.3.1'),
        container('proxy', 'ghcr.io/acme/envoy:1.29.1'),
        container('metrics', 'registry.example.com/infra/exporter:0.9.0'),
      ],
      volumes: [
        { name: 'config', configMap: { name: 'web-config' } },
        { name: 'tmp', emptyDir: {} },
        { name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
        { name: 'certs', secret: { secretName: 'web-tls' } },
      ],
    },
  };
}
