/**
 * The status of an SftpUser (pure). Synced: the database holds the account as declared.
 * Ready: it can log in (synced, not suspended, and its server has a ready pod).
 */
import {
  ConditionType,
  UserReason,
  findCondition,
  nextConditions,
  type ConditionInput,
} from '../api/conditions.js';
import type { SftpServer, SftpUser } from '../api/objects.js';
import type { SftpUserStatus } from '../api/sftpuser.js';
import { usernameOf } from './account.js';

export interface UserProblem {
  reason: UserReason;
  message: string;
}

export interface AppliedAccount {
  appliedSecrets: Record<string, string>;
  passwordHashDigest: string;
  usage: { sizeBytes: number; files: number };
}

export interface UserObservation {
  user: SftpUser;
  server: SftpServer | undefined;
  /** Set when the account could not be written; the rest of the status is kept as it was. */
  problem: UserProblem | undefined;
  applied: AppliedAccount | undefined;
  now: Date;
}

function readyInput(observation: UserObservation, username: string): ConditionInput {
  const base = { type: ConditionType.Ready };
  if (observation.problem !== undefined) return { ...base, status: false, ...observation.problem };
  if (observation.user.spec.suspended === true) {
    return {
      ...base,
      status: false,
      reason: UserReason.Suspended,
      message: `${username} is suspended`,
    };
  }
  const serverReady =
    findCondition(observation.server?.status?.conditions, ConditionType.Ready)?.status === 'True';
  if (!serverReady) {
    const name = observation.user.spec.serverRef.name;
    return {
      ...base,
      status: false,
      reason: UserReason.ServerNotReady,
      message: `SftpServer ${name} has no ready pod`,
    };
  }
  return { ...base, status: true, reason: UserReason.Ready, message: `${username} can log in` };
}

/** Quota usage reaches the status at most this often per user: a busy home would churn it. */
export const USAGE_REFRESH_MS = 60_000;

type Usage = AppliedAccount['usage'];

/**
 * Spaces out writes of quota usage, per SftpUser: the usage the database shows is reported only
 * when it differs from the status and the last report is a minute old (or was never made by this
 * process, which then reports at once). An equal usage is never a reason to write.
 */
export class UsageReports {
  readonly #reported = new Map<string, { at: number; usage: Usage }>();

  /** The usage to put in the status now; records the time when it is a new report. */
  choose(key: string, previous: Usage | undefined, observed: Usage, now: number): Usage {
    if (previous !== undefined && sameUsage(previous, observed)) return previous;
    const last = this.#reported.get(key);
    // Within the minute, what this process last reported (the cached status may lag it).
    if (last !== undefined && now - last.at < USAGE_REFRESH_MS) return last.usage;
    this.#reported.set(key, { at: now, usage: observed });
    return observed;
  }

  forget(key: string): void {
    this.#reported.delete(key);
  }
}

function sameUsage(a: Usage, b: Usage): boolean {
  return a.sizeBytes === b.sizeBytes && a.files === b.files;
}

export function userStatus(observation: UserObservation): SftpUserStatus {
  const { user, problem, applied } = observation;
  const username = usernameOf(user);
  const synced: ConditionInput =
    problem === undefined
      ? {
          type: ConditionType.Synced,
          status: true,
          reason: UserReason.Synced,
          message: `account ${username} is in the database of SftpServer ${user.spec.serverRef.name}`,
        }
      : { type: ConditionType.Synced, status: false, ...problem };
  const previous = user.status ?? {};
  return {
    observedGeneration: user.metadata.generation ?? 0,
    conditions: nextConditions({
      previous: previous.conditions,
      inputs: [readyInput(observation, username), synced],
      generation: user.metadata.generation,
      now: observation.now,
    }),
    username,
    ...(applied === undefined
      ? {
          ...(previous.appliedSecrets === undefined
            ? {}
            : { appliedSecrets: previous.appliedSecrets }),
          ...(previous.passwordHashDigest === undefined
            ? {}
            : { passwordHashDigest: previous.passwordHashDigest }),
          ...(previous.usage === undefined ? {} : { usage: previous.usage }),
        }
      : applied),
  };
}
