/**
 * The Deployment of a server's pods. What it settles, and why:
 * - the config checksum on the pod template, so a config or credential change rolls the pods;
 * - Secrets and the ConfigMap mounted as whole directories, never with subPath, so their files
 *   follow updates (the server reads them at start; the checksum restarts it when it must);
 * - a termination grace longer than sftpd.shutdown_grace_period plus the preStop pause, so a
 *   rollout lets running transfers finish, and surge-first rollouts, so a server is always up;
 * - readiness on /healthz (ready while the database answers); no liveness probe, which would
 *   restart every pod while the database is down;
 * - non-root, read-only root filesystem, no privilege escalation, no capabilities, no API token.
 */
import { ConfigSchema } from '../../../server/src/config/schema.js';
import { ANNOTATIONS, SFTP_SERVER } from '../api/group.js';
import { childMeta, selectorLabels } from '../api/children.js';
import type { KubeObject, SftpServer } from '../api/objects.js';
import { Resources } from '../kube/resources.js';
import type { EnvVar } from './database.js';
import { CONTAINER_NAME, PATHS, PORTS, RUN_AS, serverNames } from './layout.js';

/** Seconds the pod waits before the server stops accepting, while endpoints drop it. */
export const PRE_STOP_SECONDS = 5;
/** Seconds past the drain for the process to close its logs and exit. */
const EXIT_MARGIN_SECONDS = 10;

export interface DeploymentInput {
  server: SftpServer;
  /** Image when spec.image is unset: the operator's own. */
  defaultImage: string;
  checksum: string;
  /** Database credentials, then S3 credentials, from their Secrets' keys. */
  env: EnvVar[];
  hostKeySecret: string;
  masterKeySecret: string;
  /** The homes volume source (a claim); none with S3 storage. */
  homesClaim: string | undefined;
}

export function shutdownGraceSeconds(server: SftpServer): number {
  const fallback = ConfigSchema.properties.sftpd.properties.shutdown_grace_period.default as number;
  return server.spec.config?.sftpd?.shutdown_grace_period ?? fallback;
}

/**
 * A Secret's files readable by the pod's group only: the server refuses a private key or a
 * master key that others can read or its group can write, and the kubelet gives the files to
 * root and the fsGroup, never to the pod's user.
 */
const privateSecret = (secretName: string): Record<string, unknown> => ({
  secretName,
  defaultMode: 0o440,
});

function volumes(input: DeploymentInput): Record<string, unknown>[] {
  const names = serverNames(input.server.metadata.name);
  return [
    { name: 'config', configMap: { name: names.configMap, defaultMode: 0o444 } },
    { name: 'host-keys', secret: privateSecret(input.hostKeySecret) },
    { name: 'master-key', secret: privateSecret(input.masterKeySecret) },
    ...(input.homesClaim === undefined
      ? []
      : [{ name: 'homes', persistentVolumeClaim: { claimName: input.homesClaim } }]),
    { name: 'state', emptyDir: {} },
    { name: 'tmp', emptyDir: {} },
  ];
}

function volumeMounts(input: DeploymentInput): Record<string, unknown>[] {
  return [
    { name: 'config', mountPath: PATHS.configDir, readOnly: true },
    { name: 'host-keys', mountPath: PATHS.hostKeys, readOnly: true },
    { name: 'master-key', mountPath: PATHS.masterKey, readOnly: true },
    ...(input.homesClaim === undefined ? [] : [{ name: 'homes', mountPath: PATHS.homes }]),
    { name: 'state', mountPath: PATHS.state },
    { name: 'tmp', mountPath: PATHS.tmp },
  ];
}

/** The server's command line after the image's entrypoint (`kubesftp`). */
export const SERVE_ARGS = ['serve', '--config-dir', PATHS.configDir, '--log-file-path', ''];

function container(input: DeploymentInput): Record<string, unknown> {
  const { spec } = input.server;
  return {
    name: CONTAINER_NAME,
    image: spec.image ?? input.defaultImage,
    ...(spec.imagePullPolicy === undefined ? {} : { imagePullPolicy: spec.imagePullPolicy }),
    args: SERVE_ARGS,
    // The AWS SDK looks for its config files under the home directory and fails every S3 call
    // when there is none: a uid without a passwd entry (any runAsUser the image does not
    // know) has none unless HOME names one.
    env: [{ name: 'HOME', value: PATHS.state }, ...input.env],
    ports: [
      { name: 'sftp', containerPort: PORTS.sftp, protocol: 'TCP' },
      { name: 'http', containerPort: PORTS.http, protocol: 'TCP' },
    ],
    readinessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
    ...(spec.resources === undefined ? {} : { resources: spec.resources }),
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: volumeMounts(input),
  };
}

function placement(server: SftpServer): Record<string, unknown> {
  const { spec } = server;
  return {
    ...(spec.nodeSelector === undefined ? {} : { nodeSelector: spec.nodeSelector }),
    ...(spec.tolerations === undefined ? {} : { tolerations: spec.tolerations }),
    ...(spec.affinity === undefined ? {} : { affinity: spec.affinity }),
    ...(spec.topologySpreadConstraints === undefined
      ? {}
      : { topologySpreadConstraints: spec.topologySpreadConstraints }),
    ...(spec.imagePullSecrets === undefined ? {} : { imagePullSecrets: spec.imagePullSecrets }),
  };
}

function podTemplate(input: DeploymentInput): Record<string, unknown> {
  const { server } = input;
  return {
    metadata: {
      labels: selectorLabels(server.metadata.name),
      annotations: {
        ...server.spec.podAnnotations,
        [ANNOTATIONS.configChecksum]: input.checksum,
      },
    },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // The server runs as the container's first process and Node reaps only its own
      // children: the orphans of an rsync or git it killed, or of an action program, would stay
      // zombies. With the pod's pause process as PID 1 they are reaped.
      shareProcessNamespace: true,
      terminationGracePeriodSeconds:
        PRE_STOP_SECONDS + shutdownGraceSeconds(server) + EXIT_MARGIN_SECONDS,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUN_AS,
        runAsGroup: RUN_AS,
        fsGroup: RUN_AS,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [container(input)],
      volumes: volumes(input),
      ...placement(server),
    },
  };
}

export function buildDeployment(input: DeploymentInput): KubeObject {
  const { server } = input;
  return {
    apiVersion: Resources.deployment.apiVersion,
    kind: Resources.deployment.kind,
    metadata: childMeta({
      owner: server,
      ownerKind: SFTP_SERVER.kind,
      name: serverNames(server.metadata.name).deployment,
      instance: server.metadata.name,
      component: 'sftp-server',
    }),
    spec: {
      replicas: server.spec.replicas ?? 1,
      selector: { matchLabels: selectorLabels(server.metadata.name) },
      // A new pod is ready before an old one stops: no moment without a server.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: podTemplate(input),
    },
  };
}
