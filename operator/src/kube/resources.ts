/**
 * The kinds the operator reads and writes, with what it takes to build their URLs. One table,
 * so that an API version is never spelled twice.
 */
import { API_VERSION, SFTP_SERVER, SFTP_USER } from '../api/group.js';

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

function resource(
  apiVersion: string,
  kind: string,
  plural: string,
  namespaced = true,
): ResourceType {
  return { apiVersion, kind, plural, namespaced };
}

export const Resources = {
  sftpServer: resource(API_VERSION, SFTP_SERVER.kind, SFTP_SERVER.plural),
  sftpUser: resource(API_VERSION, SFTP_USER.kind, SFTP_USER.plural),
  secret: resource('v1', 'Secret', 'secrets'),
  configMap: resource('v1', 'ConfigMap', 'configmaps'),
  service: resource('v1', 'Service', 'services'),
  persistentVolumeClaim: resource('v1', 'PersistentVolumeClaim', 'persistentvolumeclaims'),
  event: resource('v1', 'Event', 'events'),
  namespace: resource('v1', 'Namespace', 'namespaces', false),
  deployment: resource('apps/v1', 'Deployment', 'deployments'),
  podDisruptionBudget: resource('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  networkPolicy: resource('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies'),
  lease: resource('coordination.k8s.io/v1', 'Lease', 'leases'),
  serviceMonitor: resource('monitoring.coreos.com/v1', 'ServiceMonitor', 'servicemonitors'),
  customResourceDefinition: resource(
    'apiextensions.k8s.io/v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
  ),
} as const;

/** /api/v1 for the core group, /apis/<group>/<version> for the others. */
export function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

export interface ResourcePath {
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: 'status' | undefined;
}

/** The URL path of a collection, an object or a subresource. */
export function resourcePath(type: ResourceType, where: ResourcePath = {}): string {
  const parts = [groupVersionPath(type.apiVersion)];
  if (type.namespaced && where.namespace !== undefined) {
    parts.push('namespaces', encodeURIComponent(where.namespace));
  }
  parts.push(type.plural);
  if (where.name !== undefined) parts.push(encodeURIComponent(where.name));
  if (where.subresource !== undefined) parts.push(where.subresource);
  return parts.join('/');
}
