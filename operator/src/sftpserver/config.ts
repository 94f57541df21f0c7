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

/** The config file: spec.config with the operator's keys on top. */
export function serverConfig(
  server: SftpServer,
  hostKeyFiles: readonly string[],
): Record<string, unknown> {
  const config = server.spec.config ?? {};
  return {
    ...config,
    sftpd: {
      ...config.sftpd,
      bind_port: PORTS.sftp,
      bind_address: '',
      keys: hostKeyFiles.map((file) => ({ private_key: `${PATHS.hostKeys}/${file}` })),
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
  };
}

export function buildConfigMap(
  server: SftpServer,
  hostKeyFiles: readonly string[],
): ConfigMapObject {
  const file = `${JSON.stringify(serverConfig(server, hostKeyFiles), null, 2)}\n`;
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

/**
 * Changes whenever something the pods read only at start changes: the config, and the Secrets
 * behind their environment and host keys. Kept on the pod template, it rolls the pods.
 */
export function configChecksum(parts: {
  configMap: ConfigMapObject;
  databaseSecret: { name: string; resourceVersion: string };
  hostKeySecret: { name: string; resourceVersion: string };
}): string {
  return createHash('sha256')
    .update(JSON.stringify([parts.configMap.data, parts.databaseSecret, parts.hostKeySecret]))
    .digest('hex');
}
