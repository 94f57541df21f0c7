/**
 * Which keys each watched change enqueues, in one place (what controller-runtime's
 * SetupWithManager holds): a Secret maps to the users and servers that read it, an owned
 * child to its server, a server to its users when something they depend on changed. Changes
 * that matter to no reconcile (a status the operator itself wrote) enqueue nothing.
 */
import { SFTP_SERVER, SFTP_USER } from './api/group.js';
import { controllerOf } from './api/children.js';
import {
  keyOf,
  type KubeObject,
  type ObjectKey,
  type Secret,
  type SftpServer,
  type SftpUser,
} from './api/objects.js';
import { ConditionType, findCondition } from './api/conditions.js';
import { canonicalJson } from './runtime/compare.js';
import type { Cache } from './runtime/caches.js';
import { serverNames } from './sftpserver/layout.js';

/** The Secrets a user reads, by name. */
export function secretsOfUser(user: SftpUser): string[] {
  const names = (user.spec.publicKeysFrom ?? []).flatMap((source) =>
    source.secretKeyRef === undefined ? [] : [source.secretKeyRef.name],
  );
  const ref = user.spec.password?.secretRef?.name;
  return ref === undefined ? names : [...names, ref];
}

/** The ConfigMaps a user reads, by name. */
export function configMapsOfUser(user: SftpUser): string[] {
  return (user.spec.publicKeysFrom ?? []).flatMap((source) =>
    source.configMapKeyRef === undefined ? [] : [source.configMapKeyRef.name],
  );
}

/** SftpUsers to reconcile after a change of `configMap`. */
export function usersForConfigMap(users: Cache<SftpUser>, configMap: KubeObject): ObjectKey[] {
  return users
    .list(configMap.metadata.namespace ?? '')
    .filter((user) => configMapsOfUser(user).includes(configMap.metadata.name))
    .map(keyOf);
}

/** The Secrets a server reads, by name. */
export function secretsOfServer(server: SftpServer): string[] {
  return [
    server.spec.database.secretRef.name,
    server.spec.hostKeys?.secretRef?.name ?? serverNames(server.metadata.name).hostKeys,
    server.spec.masterKey?.secretRef?.name ?? serverNames(server.metadata.name).masterKey,
    ...(server.spec.storage.s3?.credentialsSecretRef === undefined
      ? []
      : [server.spec.storage.s3.credentialsSecretRef.name]),
  ];
}

export interface Mapper {
  users: Cache<SftpUser>;
  servers: Cache<SftpServer>;
}

/** SftpUsers and SftpServers to reconcile after a change of `secret`. */
export function keysForSecret(
  mapper: Mapper,
  secret: Secret,
): { users: ObjectKey[]; servers: ObjectKey[] } {
  const namespace = secret.metadata.namespace ?? '';
  const name = secret.metadata.name;
  const owner = controllerOf(secret);
  const users = mapper.users
    .list(namespace)
    .filter(
      (user) =>
        secretsOfUser(user).includes(name) ||
        (owner?.kind === SFTP_USER.kind && owner.uid === user.metadata.uid),
    )
    .map(keyOf);
  const servers = mapper.servers
    .list(namespace)
    .filter((server) => secretsOfServer(server).includes(name))
    .map(keyOf);
  return { users, servers };
}

/** The server owning a child object, if a server does. */
export function serverOfChild(child: KubeObject): ObjectKey | undefined {
  const owner = controllerOf(child);
  if (owner?.kind !== SFTP_SERVER.kind) return undefined;
  return `${child.metadata.namespace ?? ''}/${owner.name}`;
}

export function usersOfServer(users: Cache<SftpUser>, server: SftpServer): ObjectKey[] {
  return users
    .list(server.metadata.namespace ?? '')
    .filter((user) => user.spec.serverRef.name === server.metadata.name)
    .map(keyOf);
}

/** What of a server its users depend on: the database, the homes, how clients reach it, its readiness. */
export function serverFingerprintForUsers(server: SftpServer): string {
  return canonicalJson([
    server.metadata.uid,
    server.spec.database,
    server.spec.config?.data_provider,
    server.spec.storage,
    server.status?.service,
    server.status?.hostKeys,
    findCondition(server.status?.conditions, ConditionType.Ready)?.status,
  ]);
}

/** What of a user asks for a reconcile: its spec (generation), deletion and finalizers; not its status. */
export function userFingerprint(user: SftpUser): string {
  return canonicalJson([
    user.metadata.generation,
    user.metadata.deletionTimestamp,
    user.metadata.finalizers,
  ]);
}

/**
 * Remembers a fingerprint per key and tells whether it changed: the predicate that drops
 * events carrying nothing new for a given reconciler.
 */
export class ChangeFilter {
  readonly #seen = new Map<ObjectKey, string>();

  changed(key: ObjectKey, fingerprint: string): boolean {
    if (this.#seen.get(key) === fingerprint) return false;
    this.#seen.set(key, fingerprint);
    return true;
  }

  forget(key: ObjectKey): void {
    this.#seen.delete(key);
  }
}
