/**
 * The status of an SftpServer, computed from what was observed: pure, so that the same
 * observation gives the same status and no write. Ready means a pod serves; Progressing means
 * a rollout has not finished; Degraded means the operator cannot do what the spec asks.
 */
import {
  ConditionType,
  ServerReason,
  nextConditions,
  type ConditionInput,
} from '../api/conditions.js';
import type { KubeObject, SftpServer } from '../api/objects.js';
import {
  DEFAULT_SERVICE_PORT,
  type HostKeyStatus,
  type SftpServerStatus,
} from '../api/sftpserver.js';
import { serverNames } from './layout.js';

export interface Problem {
  reason: ServerReason;
  message: string;
}

export interface ServerObservation {
  server: SftpServer;
  deployment: KubeObject | undefined;
  service: KubeObject | undefined;
  hostKeys: HostKeyStatus[];
  problem: Problem | undefined;
  now: Date;
}

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
}

function deploymentStatus(deployment: KubeObject | undefined): DeploymentStatus {
  return (deployment?.['status'] as DeploymentStatus | undefined) ?? {};
}

function rolloutDone(deployment: KubeObject | undefined, wanted: number): boolean {
  if (deployment === undefined) return false;
  const status = deploymentStatus(deployment);
  return (
    (status.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0) &&
    (status.updatedReplicas ?? 0) >= wanted &&
    (status.readyReplicas ?? 0) >= wanted &&
    (status.replicas ?? 0) <= wanted
  );
}

function readyCondition(observation: ServerObservation, wanted: number): ConditionInput {
  const ready = deploymentStatus(observation.deployment).readyReplicas ?? 0;
  const base = { type: ConditionType.Ready };
  if (observation.problem !== undefined) {
    return { ...base, status: false, ...observation.problem };
  }
  if (wanted === 0)
    return { ...base, status: false, reason: ServerReason.ScaledToZero, message: 'replicas is 0' };
  if (ready > 0) {
    return {
      ...base,
      status: true,
      reason: ServerReason.Available,
      message: `${ready} of ${wanted} pods ready`,
    };
  }
  return {
    ...base,
    status: false,
    reason: ServerReason.NoReadyReplicas,
    message: `0 of ${wanted} pods ready`,
  };
}

function conditionInputs(observation: ServerObservation, wanted: number): ConditionInput[] {
  const done = rolloutDone(observation.deployment, wanted);
  const { problem } = observation;
  return [
    readyCondition(observation, wanted),
    {
      type: ConditionType.Progressing,
      status: problem === undefined && !done,
      reason:
        done || problem !== undefined
          ? ServerReason.RolloutComplete
          : ServerReason.RolloutInProgress,
      message: done
        ? 'every pod runs the current template'
        : problem === undefined
          ? 'pods are being updated'
          : 'blocked; see Degraded',
    },
    {
      type: ConditionType.Degraded,
      status: problem !== undefined,
      reason: problem?.reason ?? ServerReason.AsExpected,
      message: problem?.message ?? '',
    },
  ];
}

interface ServiceView {
  spec?: { clusterIP?: string; ports?: Array<{ port?: number; nodePort?: number }> };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

/** The load balancer's address when it has one, else the Service's cluster DNS name. */
function serviceAddress(server: SftpServer, view: ServiceView | undefined): string {
  const ingress = view?.status?.loadBalancer?.ingress?.[0];
  const dnsName = `${serverNames(server.metadata.name).service}.${server.metadata.namespace ?? 'default'}.svc`;
  return ingress?.ip ?? ingress?.hostname ?? dnsName;
}

function serviceStatus(
  server: SftpServer,
  service: KubeObject | undefined,
): SftpServerStatus['service'] {
  const view = service as ServiceView | undefined;
  const port = view?.spec?.ports?.[0];
  return {
    name: serverNames(server.metadata.name).service,
    address: serviceAddress(server, view),
    port: port?.port ?? server.spec.service?.port ?? DEFAULT_SERVICE_PORT,
    ...(port?.nodePort === undefined ? {} : { nodePort: port.nodePort }),
  };
}

export function serverStatus(observation: ServerObservation): SftpServerStatus {
  const { server } = observation;
  const wanted = server.spec.replicas ?? 1;
  const deployment = deploymentStatus(observation.deployment);
  return {
    observedGeneration: server.metadata.generation ?? 0,
    conditions: nextConditions({
      previous: server.status?.conditions,
      inputs: conditionInputs(observation, wanted),
      generation: server.metadata.generation,
      now: observation.now,
    }),
    replicas: deployment.replicas ?? 0,
    readyReplicas: deployment.readyReplicas ?? 0,
    service: serviceStatus(server, observation.service),
    hostKeys: observation.hostKeys,
  };
}
