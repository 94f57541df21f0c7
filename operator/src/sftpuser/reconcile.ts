/**
 * Reconciles one SftpUser. The page reads top to bottom:
 *   get the user → (being deleted: remove the account, then the finalizer)
 *   → hold the finalizer → find the server → open its database → resolve the credentials
 *   → write the account if it differs → compute the status → write it if it changed.
 * Whatever blocks (no server, no database, a missing Secret, a taken username) becomes the
 * Synced condition's reason and is retried: on the change that fixes it (the informers map
 * Secrets and servers to their users) and after a delay.
 */
import type { Logger } from 'pino';
import type { User } from '../../../server/src/dataprovider/account-schema.js';
import type { DataProvider } from '../../../server/src/dataprovider/types.js';
import { UserReason } from '../api/conditions.js';
import { SFTP_USER } from '../api/group.js';
import { splitKey, type ObjectKey, type SftpServer, type SftpUser } from '../api/objects.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder, EventType } from '../kube/events.js';
import { Resources } from '../kube/resources.js';
import type { OperatorCaches } from '../runtime/caches.js';
import type { ReconcileOutcome, Reconciler } from '../runtime/controller.js';
import { writeStatusIfChanged } from '../runtime/writes.js';
import { managedByOf, usernameOf } from './account.js';
import type { AccountStores, StoreResult } from './accounts.js';
import { resolveCredentials } from './credentials.js';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizer.js';
import { syncAccount, WrittenPasswords, type SyncOutcome } from './sync.js';
import { UsageReports, userStatus, type AppliedAccount, type UserProblem } from './status.js';

export interface UserReconcilerOptions {
  client: KubeClient;
  caches: OperatorCaches;
  stores: AccountStores;
  events: EventRecorder;
  logger: Logger;
  hashIterations: number;
  /** How long a deletion waits for an unreachable server or database before giving up. */
  deletionTimeoutMs: number;
  now?: () => Date;
}

/** How long a blocked user waits before it is tried again without any change. */
export const BLOCKED_RETRY_MS = 30_000;
/** The servers sweep removals every few seconds: a user waiting for its home looks again soon. */
export const HOME_REMOVAL_RETRY_MS = 5_000;

const EVENT_REASONS: Record<Exclude<SyncOutcome, 'unchanged'>, string> = {
  created: 'AccountCreated',
  updated: 'AccountUpdated',
  reverted: 'DriftReverted',
};

export class UserReconciler implements Reconciler {
  readonly #o: UserReconcilerOptions;
  readonly #written = new WrittenPasswords();
  readonly #usage = new UsageReports();

  constructor(options: UserReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: ObjectKey): Promise<ReconcileOutcome> {
    const { namespace, name } = splitKey(key);
    const user = this.#o.caches.users.get(namespace, name);
    if (user === undefined) {
      this.#written.forget(key);
      this.#usage.forget(key);
      return {};
    }
    if (user.metadata.deletionTimestamp !== undefined) return this.#finalize(user);
    const held = await addFinalizer(this.#o.client, Resources.sftpUser, user);
    if (held !== undefined) this.#o.caches.users.wrote(held);
    const server = this.#server(user);
    const outcome = await this.#sync(held ?? user, server);
    await this.#writeStatus(held ?? user, server, outcome);
    if (outcome.ok) return {};
    const waitingForRemoval = outcome.reason === UserReason.HomeBeingRemoved;
    return { requeueAfterMs: waitingForRemoval ? HOME_REMOVAL_RETRY_MS : BLOCKED_RETRY_MS };
  }

  async #sync(
    user: SftpUser,
    server: SftpServer | undefined,
  ): Promise<{ ok: true; applied: AppliedAccount } | ({ ok: false } & UserProblem)> {
    if (server === undefined) {
      return {
        ok: false,
        reason: UserReason.ServerNotFound,
        message: `SftpServer ${user.spec.serverRef.name} not found`,
      };
    }
    const store = await this.#store(server);
    if (!store.ok) return store;
    const credentials = await resolveCredentials({
      client: this.#o.client,
      user,
      server,
      cached: (secret) => this.#o.caches.secrets.get(user.metadata.namespace ?? '', secret),
      wrote: (secret) => this.#o.caches.secrets.wrote(secret),
    });
    if (!credentials.ok) return credentials;
    const result = await syncAccount({
      provider: store.provider,
      user,
      credentials,
      storage: server.spec.storage,
      hashIterations: this.#o.hashIterations,
      written: this.#written,
    });
    if (result.ok && result.outcome !== 'unchanged') this.#reportWrite(user, result.outcome);
    return result;
  }

  #server(user: SftpUser): SftpServer | undefined {
    return this.#o.caches.servers.get(user.metadata.namespace ?? '', user.spec.serverRef.name);
  }

  async #store(server: SftpServer): Promise<StoreResult> {
    const namespace = server.metadata.namespace ?? '';
    const secretName = server.spec.database.secretRef.name;
    return this.#o.stores.open({
      server,
      cachedSecret: this.#o.caches.secrets.get(namespace, secretName),
      readSecret: () => this.#o.client.get(Resources.secret, { namespace, name: secretName }),
    });
  }

  #reportWrite(user: SftpUser, outcome: Exclude<SyncOutcome, 'unchanged'>): void {
    const username = usernameOf(user);
    const message =
      outcome === 'reverted'
        ? `account ${username} was changed in the database; wrote it back as declared`
        : `${outcome} account ${username} in the database of SftpServer ${user.spec.serverRef.name}`;
    this.#o.logger.info(
      { sftpuser: user.metadata.name, namespace: user.metadata.namespace, outcome },
      message,
    );
    this.#event(
      user,
      outcome === 'reverted' ? 'Warning' : 'Normal',
      EVENT_REASONS[outcome],
      message,
    );
  }

  async #writeStatus(
    user: SftpUser,
    server: SftpServer | undefined,
    outcome: { ok: true; applied: AppliedAccount } | ({ ok: false } & UserProblem),
  ): Promise<void> {
    const now = (this.#o.now ?? (() => new Date()))();
    const applied = outcome.ok
      ? {
          ...outcome.applied,
          usage: this.#usage.choose(
            managedByOf(user),
            user.status?.usage,
            outcome.applied.usage,
            now.getTime(),
          ),
        }
      : undefined;
    const status = userStatus({
      user,
      server,
      problem: outcome.ok ? undefined : { reason: outcome.reason, message: outcome.message },
      applied,
      now,
    });
    const written = await writeStatusIfChanged(this.#o.client, {
      type: Resources.sftpUser,
      object: user,
      status,
    });
    if (written !== undefined) this.#o.caches.users.wrote(written);
    if (written && !outcome.ok) this.#event(user, 'Warning', outcome.reason, outcome.message);
  }

  /**
   * Removes the account, then the finalizer. An unreachable server or database is retried
   * until deletionTimeoutMs after the deletion began; then the finalizer goes anyway, with a
   * Warning event, so that a deletion never hangs forever.
   */
  async #finalize(user: SftpUser): Promise<ReconcileOutcome> {
    if (!hasFinalizer(user)) return {};
    const removed = await this.#removeAccount(user);
    if (!removed.ok) {
      const deadline =
        Date.parse(user.metadata.deletionTimestamp ?? '') + this.#o.deletionTimeoutMs;
      const left = deadline - Date.now();
      if (left > 0) {
        await this.#writeStatus(user, this.#server(user), removed);
        return { requeueAfterMs: Math.min(BLOCKED_RETRY_MS, left) };
      }
      this.#event(
        user,
        'Warning',
        'AccountLeftBehind',
        `gave up removing account ${usernameOf(user)}${
          user.spec.reclaimPolicy === 'Delete' ? ' and its home data' : ''
        }: ${removed.message}`,
      );
    }
    await removeFinalizer(this.#o.client, Resources.sftpUser, user);
    return {};
  }

  async #removeAccount(user: SftpUser): Promise<{ ok: true } | ({ ok: false } & UserProblem)> {
    const server = this.#server(user);
    if (server === undefined) {
      return {
        ok: false,
        reason: UserReason.ServerNotFound,
        message: `SftpServer ${user.spec.serverRef.name} not found`,
      };
    }
    const store = await this.#store(server);
    if (!store.ok) return store;
    try {
      const existing = await store.provider.getUserByUsername(usernameOf(user));
      if (existing !== undefined && existing.managed_by === managedByOf(user)) {
        await this.#deleteAccount(user, store.provider, existing);
      }
      return { ok: true };
    } catch (err) {
      return {
        ok: false,
        reason: UserReason.DatabaseUnavailable,
        message: err instanceof Error ? err.message : String(err),
      };
    }
  }

  /**
   * reclaimPolicy Delete: the account goes and its home is recorded for removal in one
   * transaction; the server pods, which see the homes, remove the data within seconds.
   */
  async #deleteAccount(user: SftpUser, provider: DataProvider, account: User): Promise<void> {
    if (user.spec.reclaimPolicy !== 'Delete') {
      await provider.deleteUser(account.id);
      this.#event(user, 'Normal', 'AccountDeleted', `deleted account ${account.username}`);
      return;
    }
    const removal = await provider.deleteUserAndHome(account.id);
    this.#event(
      user,
      'Normal',
      'AccountDeleted',
      `deleted account ${account.username}; the servers of SftpServer ${user.spec.serverRef.name} remove its home ${removal.home_dir}`,
    );
  }

  #event(user: SftpUser, type: EventType, reason: string, message: string): void {
    this.#o.events.record({
      object: { ...user, apiVersion: Resources.sftpUser.apiVersion, kind: SFTP_USER.kind },
      type,
      reason,
      message,
    });
  }
}
