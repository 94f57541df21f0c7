/**
 * The pod's layout and the names of a server's objects, in one place: the Deployment builder,
 * the config builder and the tests that run the server as the pod would all read them here.
 */
export const CONTAINER_NAME = 'kubesftp';

export const PORTS = { sftp: 2022, http: 8080 } as const;

export const PATHS = {
  /** The ConfigMap, mounted read-only: the server's config dir. */
  configDir: '/etc/kubesftp',
  configFile: 'kubesftp.json',
  /** The host-key Secret, mounted read-only as a directory (never with subPath, so it updates). */
  hostKeys: '/var/run/kubesftp/host-keys',
  /** The master-key Secret, mounted read-only as a directory. */
  masterKey: '/var/run/kubesftp/master-key',
  /** The shared volume of the homes (absent with S3 storage, whose homes are not files). */
  homes: '/srv/sftp',
  /** An emptyDir for what the server writes besides homes (backups). */
  state: '/var/lib/kubesftp',
  tmp: '/tmp',
} as const;

/** The image's non-root user (distroless "nonroot"). */
export const RUN_AS = 65532;

export const serverNames = (
  server: string,
): Record<
  | 'deployment'
  | 'service'
  | 'httpService'
  | 'configMap'
  | 'hostKeys'
  | 'pdb'
  | 'networkPolicy'
  | 'serviceMonitor'
  | 'homes'
  | 'masterKey',
  string
> => ({
  deployment: server,
  service: server,
  httpService: `${server}-http`,
  configMap: `${server}-config`,
  hostKeys: `${server}-host-keys`,
  pdb: server,
  networkPolicy: server,
  serviceMonitor: server,
  homes: `${server}-homes`,
  masterKey: `${server}-master-key`,
});

/** The Secret a generated password goes to. */
export const credentialsSecretName = (user: string): string => `${user}-credentials`;
