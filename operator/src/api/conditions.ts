/**
 * Conditions and their reasons. Reasons are exported constants, never spelled inline, so that
 * alerts and tests match on a name that cannot drift. A condition keeps its
 * lastTransitionTime while its status stays the same, so recomputing an unchanged state
 * yields an equal status and no write.
 */
import type { Condition } from './schema.js';

export const ConditionType = {
  Ready: 'Ready',
  Progressing: 'Progressing',
  Degraded: 'Degraded',
  Synced: 'Synced',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Reasons of SftpServer conditions. */
export const ServerReason = {
  Available: 'Available',
  NoReadyReplicas: 'NoReadyReplicas',
  ScaledToZero: 'ScaledToZero',
  RolloutInProgress: 'RolloutInProgress',
  RolloutComplete: 'RolloutComplete',
  AsExpected: 'AsExpected',
  DatabaseSecretMissing: 'DatabaseSecretMissing',
  DatabaseSecretInvalid: 'DatabaseSecretInvalid',
  HostKeySecretMissing: 'HostKeySecretMissing',
  HostKeySecretInvalid: 'HostKeySecretInvalid',
  S3CredentialsSecretMissing: 'S3CredentialsSecretMissing',
  S3CredentialsSecretInvalid: 'S3CredentialsSecretInvalid',
  MasterKeySecretMissing: 'MasterKeySecretMissing',
  MasterKeySecretInvalid: 'MasterKeySecretInvalid',
  ConfigRefused: 'ConfigRefused',
  ApplyFailed: 'ApplyFailed',
} as const;
export type ServerReason = (typeof ServerReason)[keyof typeof ServerReason];

/** Reasons of SftpUser conditions. */
export const UserReason = {
  Synced: 'Synced',
  Ready: 'AccountReady',
  Suspended: 'Suspended',
  ServerNotFound: 'ServerNotFound',
  ServerNotReady: 'ServerNotReady',
  DatabaseUnavailable: 'DatabaseUnavailable',
  SecretMissing: 'SecretMissing',
  SecretInvalid: 'SecretInvalid',
  ConfigMapMissing: 'ConfigMapMissing',
  ConfigMapInvalid: 'ConfigMapInvalid',
  AccountInvalid: 'AccountInvalid',
  UsernameTaken: 'UsernameTaken',
  /** The home asked for is that of a deleted account whose data the servers still remove. */
  HomeBeingRemoved: 'HomeBeingRemoved',
  Deleting: 'Deleting',
} as const;
export type UserReason = (typeof UserReason)[keyof typeof UserReason];

export interface ConditionInput {
  type: ConditionType;
  status: boolean;
  reason: string;
  message: string;
}

/**
 * The next conditions: each input replaces the condition of its type, keeping the previous
 * lastTransitionTime when the status did not change. Types not given are kept as they were.
 */
export function nextConditions(options: {
  previous: readonly Condition[] | undefined;
  inputs: readonly ConditionInput[];
  generation: number | undefined;
  now: Date;
}): Condition[] {
  const byType = new Map((options.previous ?? []).map((c) => [c.type, c]));
  for (const input of options.inputs) {
    const status = input.status ? 'True' : 'False';
    const before = byType.get(input.type);
    byType.set(input.type, {
      type: input.type,
      status,
      reason: input.reason,
      message: input.message,
      lastTransitionTime:
        before !== undefined && before.status === status
          ? before.lastTransitionTime
          : formatTime(options.now),
      ...(options.generation === undefined ? {} : { observedGeneration: options.generation }),
    });
  }
  return [...byType.values()].sort((a, b) => a.type.localeCompare(b.type));
}

/** metav1.Time: RFC 3339 in seconds, as the API server stores it. */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
