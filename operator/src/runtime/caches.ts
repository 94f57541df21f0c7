/**
 * The informer caches the reconcilers read from: every object they look at without asking the
 * API server. Secrets are cached without their data except the operator's own (see
 * main.ts); a reconciler that needs a user's Secret reads it.
 */
import type { KubeObject, Secret, SftpServer, SftpUser } from '../api/objects.js';

export interface Cache<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): readonly T[];
}

/** A cache that also shows what this process wrote, until its watch catches up. */
export interface WritableCache<T> extends Cache<T> {
  wrote(written: T): void;
}

export interface OperatorCaches {
  servers: Cache<SftpServer>;
  users: WritableCache<SftpUser>;
  secrets: WritableCache<Secret>;
  configMaps: Cache<KubeObject>;
  deployments: Cache<KubeObject>;
  services: Cache<KubeObject>;
  podDisruptionBudgets: Cache<KubeObject>;
  networkPolicies: Cache<KubeObject>;
}
