/**
 * The server's config file, as the ConfigMap carries it: the keys of spec.config laid over the
 * keys the pod's layout decides. The server reads it from its config dir like any config file,
 * and the database credentials come on top as environment variables from their Secret.
 */
import { createHash } from 'node:crypto';
import { Resources } from '../kube/resources.js';
import { SFTP_SERVER } from '../api/group.js';
import { childMeta } from '../api/children.js';
import type { KubeObject, SftpServer } from '../api/objects.js';
import { PATHS, PORTS, serverNames } from './layout.js';

export interface ConfigMapObject extends KubeObject {
  data: Record<string, string>;
}

/** What the config file needs beyond the spec: the files of the mounted Secrets. */
export interface ConfigFiles {
  /** Secret keys holding a host key, in the host-key directory. */
  hostKeyFiles: readonly string[];
  /** The master key's file. */
  masterKeyFile: string;
}

/**
 * How many SFTP processes a pod runs when spec.config leaves sftpd.workers out: with a CPU
 * limit, 0 (the server reads the limit from its cgroup's cpu.max and runs one per CPU);
 * without one, 1, since automatic would then count every CPU of the node (decision 0014).
 */
export function defaultWorkers(resources: unknown): number {
  const limits = (resources as { limits?: Record<string, unknown> } | undefined)?.limits;
  return limits?.['cpu'] === undefined ? 1 : 0;
}

/** The config file: spec.config with the operator's keys on top. */
export function serverConfig(server: SftpServer, files: ConfigFiles): Record<string, unknown> {
  const config = server.spec.config ?? {};
  // A master key in the spec is refused (Degraded); it never reaches the ConfigMap either way.
  const secrets = { ...config.secrets };
  delete secrets.master_key;
  return {
    ...config,
    sftpd: {
      workers: defaultWorkers(server.spec.resources),
      ...config.sftpd,
      bind_port: PORTS.sftp,
      bind_address: '',
      keys: files.hostKeyFiles.map((file) => ({ private_key: `${PATHS.hostKeys}/${file}` })),
    },
    httpd: {
      ...config.httpd,
      bind_port: PORTS.http,
      bind_address: '',
      backups_path: `${PATHS.state}/backups`,
    },
    data_provider: {
      ...config.data_provider,
      driver: 'postgresql',
      users_base_dir: PATHS.homes,
    },
    secrets: { ...secrets, master_key_file: files.masterKeyFile },
  };
}

export function buildConfigMap(server: SftpServer, files: ConfigFiles): ConfigMapObject {
  const file = `${JSON.stringify(serverConfig(server, files), null, 2)}\n`;
  return {
    apiVersion: Resources.configMap.apiVersion,
    kind: Resources.configMap.kind,
    metadata: childMeta({
      owner: server,
      ownerKind: SFTP_SERVER.kind,
      name: serverNames(server.metadata.name).configMap,
      instance: server.metadata.name,
      component: 'config',
    }),
    data: { [PATHS.configFile]: file },
  };
}

/** A Secret the pods read, at the version they would read. */
export interface SecretVersion {
  name: string;
  resourceVersion: string;
}

/**
 * Changes whenever something the pods read only at start changes: the config, and the Secrets
 * behind their environment and files (database, host keys, master key, S3 credentials). Kept
 * on the pod template, it rolls the pods.
 */
export function configChecksum(parts: {
  configMap: ConfigMapObject;
  secrets: readonly SecretVersion[];
}): string {
  return createHash('sha256')
    .update(JSON.stringify([parts.configMap.data, ...parts.secrets]))
    .digest('hex');
}
