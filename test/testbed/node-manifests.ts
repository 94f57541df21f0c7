/**
 * Plain YAML for the node smoke tests: kubesftp as a bare Pod and as a Deployment whose config
 * comes from a ConfigMap (rolled through a checksum annotation), and the Services in front of
 * it. The Helm chart will replace these.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';

export const adminSecretName = 'kubesftp-admin';
/** The server's own data (SQLite, host keys, homes): an emptyDir, as a pod has nothing else. */
export const dataDir = '/var/lib/kubesftp';

export function adminSecret(password: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: adminSecretName },
    stringData: { password },
  });
}

/** The server's settings as KUBESFTP_* variables, the pod's environment through envFrom. */
export function configMap(name: string, settings: Record<string, string>): string {
  return stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: settings });
}

/** Changes whenever the settings do, so that a new value in the template rolls the pods. */
export function configChecksum(settings: Record<string, string>): string {
  const sorted = Object.fromEntries(
    Object.entries(settings).sort(([a], [b]) => a.localeCompare(b)),
  );
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

export interface ServerPodOptions {
  image: string;
  labels: Record<string, string>;
  configMapName?: string;
  /** Longer than sftpd.shutdown_grace_period, so that the kubelet lets the drain finish. */
  terminationGracePeriodSeconds: number;
}

export function serverPodSpec(options: ServerPodOptions): Record<string, unknown> {
  return {
    terminationGracePeriodSeconds: options.terminationGracePeriodSeconds,
    securityContext: { runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, runAsNonRoot: true },
    containers: [
      {
        name: 'kubesftp',
        image: options.image,
        imagePullPolicy: 'Never',
        args: ['serve', '--config-dir', dataDir, '--log-file-path', ''],
        env: [
          // The REST port must answer the probe and the tests on the pod's address.
          { name: 'KUBESFTP_HTTPD__BIND_ADDRESS', value: '0.0.0.0' },
          {
            name: 'KUBESFTP_ADMIN_PASSWORD',
            valueFrom: { secretKeyRef: { name: adminSecretName, key: 'password' } },
          },
        ],
        envFrom: options.configMapName ? [{ configMapRef: { name: options.configMapName } }] : [],
        ports: [
          { name: 'sftp', containerPort: 2022 },
          { name: 'http', containerPort: 8080 },
        ],
        readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
        // The server stops accepting at SIGTERM, while kube-proxy takes a moment to stop
        // sending it new connections: without the pause they would be refused meanwhile.
        lifecycle: { preStop: { sleep: { seconds: 2 } } },
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        volumeMounts: [{ name: 'data', mountPath: dataDir }],
      },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
  };
}

export function serverPod(name: string, options: ServerPodOptions): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: options.labels },
    spec: serverPodSpec(options),
  });
}

export function serverDeployment(
  name: string,
  options: ServerPodOptions & { configChecksum: string },
): string {
  return stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: options.labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: options.labels },
      // A new pod is Ready before the old one goes: no moment without a server.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: options.labels,
          annotations: { 'kubesftp.io/config-checksum': options.configChecksum },
        },
        spec: serverPodSpec(options),
      },
    },
  });
}

export function service(
  name: string,
  options: { type: 'ClusterIP' | 'NodePort'; selector: Record<string, string> },
): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: {
      type: options.type,
      selector: options.selector,
      ports: [
        { name: 'sftp', port: 22, targetPort: 'sftp' },
        { name: 'http', port: 8080, targetPort: 'http' },
      ],
    },
  });
}
