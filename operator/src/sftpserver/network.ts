/**
 * How the pods are reached: the SFTP Service (its type, port and annotations from the spec), a
 * ClusterIP Service for the HTTP port (REST API, /metrics) that never leaves the cluster, and
 * an optional NetworkPolicy that admits only the declared peers.
 */
import { SFTP_SERVER } from '../api/group.js';
import { childMeta, selectorLabels } from '../api/children.js';
import type { KubeObject, SftpServer } from '../api/objects.js';
import { DEFAULT_SERVICE_PORT } from '../api/sftpserver.js';
import { Resources } from '../kube/resources.js';
import { PORTS, serverNames } from './layout.js';

const meta = (server: SftpServer, name: string, component: string): KubeObject['metadata'] =>
  childMeta({
    owner: server,
    ownerKind: SFTP_SERVER.kind,
    name,
    instance: server.metadata.name,
    component,
  });

export function buildService(server: SftpServer): KubeObject {
  const service = server.spec.service ?? {};
  const type = service.type ?? 'ClusterIP';
  const metadata = meta(server, serverNames(server.metadata.name).service, 'sftp');
  return {
    apiVersion: Resources.service.apiVersion,
    kind: Resources.service.kind,
    metadata: {
      ...metadata,
      ...(service.annotations === undefined ? {} : { annotations: service.annotations }),
    },
    spec: {
      type,
      selector: selectorLabels(server.metadata.name),
      ports: [
        {
          name: 'sftp',
          protocol: 'TCP',
          port: service.port ?? DEFAULT_SERVICE_PORT,
          targetPort: 'sftp',
          ...(service.nodePort === undefined ? {} : { nodePort: service.nodePort }),
        },
      ],
      ...(service.loadBalancerSourceRanges === undefined
        ? {}
        : { loadBalancerSourceRanges: service.loadBalancerSourceRanges }),
      ...(service.externalTrafficPolicy === undefined
        ? {}
        : { externalTrafficPolicy: service.externalTrafficPolicy }),
    },
  };
}

/** The HTTP port inside the cluster only: the REST API and /metrics (ServiceMonitor target). */
export function buildHttpService(server: SftpServer): KubeObject {
  return {
    apiVersion: Resources.service.apiVersion,
    kind: Resources.service.kind,
    metadata: meta(server, serverNames(server.metadata.name).httpService, 'http'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(server.metadata.name),
      ports: [{ name: 'http', protocol: 'TCP', port: PORTS.http, targetPort: 'http' }],
    },
  };
}

export function buildNetworkPolicy(server: SftpServer): KubeObject | undefined {
  const policy = server.spec.networkPolicy;
  if (policy?.enabled !== true) return undefined;
  return {
    apiVersion: Resources.networkPolicy.apiVersion,
    kind: Resources.networkPolicy.kind,
    metadata: meta(server, serverNames(server.metadata.name).networkPolicy, 'network-policy'),
    spec: {
      podSelector: { matchLabels: selectorLabels(server.metadata.name) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          ports: [{ protocol: 'TCP', port: PORTS.sftp }],
          ...(policy.sftpFrom === undefined ? {} : { from: policy.sftpFrom }),
        },
        ...(policy.httpFrom === undefined
          ? []
          : [{ ports: [{ protocol: 'TCP', port: PORTS.http }], from: policy.httpFrom }]),
      ],
    },
  };
}

export function buildPodDisruptionBudget(server: SftpServer): KubeObject | undefined {
  const budget = server.spec.podDisruptionBudget ?? {};
  if (budget.enabled === false) return undefined;
  return {
    apiVersion: Resources.podDisruptionBudget.apiVersion,
    kind: Resources.podDisruptionBudget.kind,
    metadata: meta(server, serverNames(server.metadata.name).pdb, 'sftp-server'),
    spec: {
      maxUnavailable: budget.maxUnavailable ?? 1,
      selector: { matchLabels: selectorLabels(server.metadata.name) },
    },
  };
}

export function buildServiceMonitor(server: SftpServer): KubeObject | undefined {
  const monitor = server.spec.metrics?.serviceMonitor;
  if (monitor?.enabled !== true) return undefined;
  const metadata = meta(server, serverNames(server.metadata.name).serviceMonitor, 'metrics');
  return {
    apiVersion: Resources.serviceMonitor.apiVersion,
    kind: Resources.serviceMonitor.kind,
    metadata: { ...metadata, labels: { ...metadata.labels, ...monitor.labels } },
    spec: {
      selector: {
        matchLabels: {
          ...selectorLabels(server.metadata.name),
          'app.kubernetes.io/component': 'http',
        },
      },
      endpoints: [
        {
          port: 'http',
          path: '/metrics',
          ...(monitor.interval === undefined ? {} : { interval: monitor.interval }),
        },
      ],
    },
  };
}

/**
 * The homes claim the operator creates when the spec gives a size. It has no owner reference:
 * deleting the SftpServer must not delete every user's files.
 */
export function buildHomesClaim(server: SftpServer): KubeObject | undefined {
  const claim = server.spec.storage.persistentVolumeClaim;
  if (claim?.size === undefined) return undefined;
  return {
    apiVersion: Resources.persistentVolumeClaim.apiVersion,
    kind: Resources.persistentVolumeClaim.kind,
    metadata: childMeta({
      owner: server,
      ownerKind: SFTP_SERVER.kind,
      name: serverNames(server.metadata.name).homes,
      instance: server.metadata.name,
      component: 'homes',
      owned: false,
    }),
    spec: {
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: claim.size } },
      ...(claim.storageClassName === undefined ? {} : { storageClassName: claim.storageClassName }),
    },
  };
}
