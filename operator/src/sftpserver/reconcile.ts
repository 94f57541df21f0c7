/**
 * Reconciles one SftpServer. The page reads top to bottom:
 *   get the server → refuse secrets in spec.config → resolve host keys, master key, database
 *   Secret and storage (claim, or S3 credentials Secret) → build every child (pure builders) → apply those that differ → remove disabled ones
 *   → compute the status → write it if it changed.
 * A missing or bad prerequisite blocks the children and shows as Degraded; it is retried when
 * the Secret changes (the Secret informer maps it here) and at the next resync.
 */
import type { Logger } from 'pino';
import { ServerReason } from '../api/conditions.js';
import { SFTP_SERVER } from '../api/group.js';
import {
  splitKey,
  type KubeObject,
  type ObjectKey,
  type Secret,
  type SftpServer,
} from '../api/objects.js';
import type { KubeClient } from '../kube/client.js';
import { ApiError } from '../kube/errors.js';
import type { EventRecorder } from '../kube/events.js';
import { Resources, type ResourceType } from '../kube/resources.js';
import type { OperatorCaches } from '../runtime/caches.js';
import type { ReconcileOutcome, Reconciler } from '../runtime/controller.js';
import { applyIfChanged, writeStatusIfChanged, type ApplyOutcome } from '../runtime/writes.js';
import { refusedKeysIn } from '../api/server-config.js';
import { buildConfigMap, configChecksum, type SecretVersion } from './config.js';
import { databaseSettings, type DatabaseSettings } from './database.js';
import { buildDeployment } from './deployment.js';
import { resolveHostKeys, type HostKeys } from './hostkey-secret.js';
import { serverNames } from './layout.js';
import { masterKeyFile, resolveMasterKey, type MasterKey } from './master-key.js';
import { resolveStorage, type StorageSettings } from './storage.js';
import {
  buildHomesClaim,
  buildHttpService,
  buildNetworkPolicy,
  buildPodDisruptionBudget,
  buildService,
  buildServiceMonitor,
} from './network.js';
import { serverStatus, type Problem } from './status.js';

export interface ServerReconcilerOptions {
  client: KubeClient;
  caches: OperatorCaches;
  events: EventRecorder;
  logger: Logger;
  /** The image of the pods when spec.image is unset. */
  defaultImage: string;
  /** Whether the ServiceMonitor kind is served (checked by the caller, cached). */
  serviceMonitorsServed: () => Promise<boolean>;
  now?: () => Date;
}

/** How long a blocked server waits before it is tried again without any change. */
export const BLOCKED_RETRY_MS = 60_000;

interface Child {
  type: ResourceType;
  desired: KubeObject;
  observed: KubeObject | undefined;
}

interface Prepared {
  hostKeys: HostKeys;
  masterKey: MasterKey;
  database: DatabaseSettings;
  storage: StorageSettings;
}

export class ServerReconciler implements Reconciler {
  readonly #o: ServerReconcilerOptions;

  constructor(options: ServerReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: ObjectKey): Promise<ReconcileOutcome> {
    const { namespace, name } = splitKey(key);
    const server = this.#o.caches.servers.get(namespace, name);
    // Gone, or going: the garbage collector removes what it owned.
    if (server === undefined || server.metadata.deletionTimestamp !== undefined) return {};
    const prepared = await this.#prepare(server);
    let problem = prepared.ok ? undefined : prepared.problem;
    let deployment: KubeObject | undefined = this.#observed(
      this.#o.caches.deployments,
      server,
      'deployment',
    );
    if (prepared.ok) {
      const applied = await this.#applyChildren(server, prepared);
      problem = applied.problem;
      deployment = applied.deployment ?? deployment;
    }
    await this.#removeDisabledChildren(server);
    await this.#updateStatus(server, {
      problem,
      deployment,
      hostKeys: prepared.ok ? prepared.hostKeys : undefined,
    });
    return problem === undefined ? {} : { requeueAfterMs: BLOCKED_RETRY_MS };
  }

  /** The prerequisites: a config without secrets, host keys, master key, database, storage. */
  async #prepare(
    server: SftpServer,
  ): Promise<({ ok: true } & Prepared) | { ok: false; problem: Problem }> {
    const refused = refusedKeysIn(server.spec.config);
    if (refused.length > 0) {
      return {
        ok: false,
        problem: { reason: ServerReason.ConfigRefused, message: refused.join('; ') },
      };
    }
    const cached = (secret: string): Secret | undefined =>
      this.#o.caches.secrets.get(server.metadata.namespace ?? '', secret);
    const hostKeys = await resolveHostKeys({ client: this.#o.client, server, cached });
    if (!hostKeys.ok) return { ok: false, problem: hostKeys };
    this.#reportGenerated(server, hostKeys, 'HostKeysGenerated', 'host keys');
    const masterKey = await resolveMasterKey({ client: this.#o.client, server, cached });
    if (!masterKey.ok) return { ok: false, problem: masterKey };
    this.#reportGenerated(server, masterKey, 'MasterKeyGenerated', 'a master key');
    const database = await this.#database(server);
    if (!database.ok) return { ok: false, problem: database };
    const storage = await resolveStorage({ client: this.#o.client, server });
    if (!storage.ok) return { ok: false, problem: storage };
    return { ok: true, hostKeys, masterKey, database, storage };
  }

  #reportGenerated(
    server: SftpServer,
    secret: { generated: boolean; secretName: string },
    reason: string,
    what: string,
  ): void {
    if (secret.generated) {
      this.#event(server, 'Normal', reason, `generated ${what} into Secret ${secret.secretName}`);
    }
  }

  async #database(server: SftpServer): Promise<DatabaseSettings | ({ ok: false } & Problem)> {
    const secretName = server.spec.database.secretRef.name;
    const secret = await this.#o.client.get<Secret>(Resources.secret, {
      namespace: server.metadata.namespace ?? '',
      name: secretName,
    });
    const sslmode = server.spec.config?.data_provider?.sslmode ?? 0;
    return databaseSettings({ secret, secretName, sslmode });
  }

  /** The children as the spec wants them, each beside what the cache holds now. */
  #desiredChildren(server: SftpServer, prepared: Prepared): Child[] {
    const { caches } = this.#o;
    const { hostKeys, masterKey, database, storage } = prepared;
    const configMap = buildConfigMap(server, {
      hostKeyFiles: hostKeys.files,
      masterKeyFile: masterKeyFile(masterKey.key),
    });
    const homes = buildHomesClaim(server);
    const versionOf = (secret: { secretName: string; resourceVersion: string }): SecretVersion => ({
      name: secret.secretName,
      resourceVersion: secret.resourceVersion,
    });
    const deployment = buildDeployment({
      server,
      defaultImage: this.#o.defaultImage,
      checksum: configChecksum({
        configMap,
        secrets: [
          versionOf(database),
          versionOf(hostKeys),
          versionOf(masterKey),
          ...(storage.secret === undefined ? [] : [storage.secret]),
        ],
      }),
      env: [...database.env, ...storage.env],
      hostKeySecret: hostKeys.secretName,
      masterKeySecret: masterKey.secretName,
      homesClaim: storage.homesClaim,
    });
    const children: Array<
      [ResourceType, KubeObject | undefined, OperatorCaches[keyof OperatorCaches] | undefined]
    > = [
      [Resources.persistentVolumeClaim, homes, undefined],
      [Resources.configMap, configMap, caches.configMaps],
      [Resources.service, buildService(server), caches.services],
      [Resources.service, buildHttpService(server), caches.services],
      [
        Resources.podDisruptionBudget,
        buildPodDisruptionBudget(server),
        caches.podDisruptionBudgets,
      ],
      [Resources.networkPolicy, buildNetworkPolicy(server), caches.networkPolicies],
      [Resources.deployment, deployment, caches.deployments],
    ];
    return children
      .filter(
        (
          entry,
        ): entry is [ResourceType, KubeObject, OperatorCaches[keyof OperatorCaches] | undefined] =>
          entry[1] !== undefined,
      )
      .map(([type, desired, cache]) => ({
        type,
        desired,
        observed: cache?.get(desired.metadata.namespace ?? '', desired.metadata.name),
      }));
  }

  async #applyChildren(
    server: SftpServer,
    prepared: Prepared,
  ): Promise<{ problem: Problem | undefined; deployment: KubeObject | undefined }> {
    let deployment: KubeObject | undefined;
    const children = this.#desiredChildren(server, prepared);
    const monitor = buildServiceMonitor(server);
    if (monitor !== undefined) children.push(...(await this.#serviceMonitorChild(server, monitor)));
    for (const child of children) {
      const observed =
        child.type === Resources.persistentVolumeClaim || child.type === Resources.serviceMonitor
          ? await this.#o.client.get(child.type, child.desired.metadata)
          : child.observed;
      try {
        const { outcome, object } = await applyIfChanged(this.#o.client, { ...child, observed });
        if (child.type === Resources.deployment) deployment = object;
        this.#reportApply(server, child, outcome);
      } catch (err) {
        return { problem: this.#applyProblem(child, err), deployment };
      }
    }
    return { problem: undefined, deployment };
  }

  /** A spec the API server refuses (422) blocks; anything else is retried with backoff. */
  #applyProblem(child: Child, err: unknown): Problem {
    if (err instanceof ApiError && (err.status === 422 || err.status === 400)) {
      return {
        reason: ServerReason.ApplyFailed,
        message: `${child.type.kind} ${child.desired.metadata.name}: ${err.message}`,
      };
    }
    throw err;
  }

  async #serviceMonitorChild(server: SftpServer, monitor: KubeObject): Promise<Child[]> {
    if (await this.#o.serviceMonitorsServed()) {
      return [{ type: Resources.serviceMonitor, desired: monitor, observed: undefined }];
    }
    this.#event(
      server,
      'Warning',
      'ServiceMonitorUnavailable',
      'metrics.serviceMonitor is enabled but the ServiceMonitor CRD (monitoring.coreos.com/v1) is not installed',
    );
    return [];
  }

  #reportApply(server: SftpServer, child: Child, outcome: ApplyOutcome): void {
    if (outcome === 'unchanged') return;
    const what = `${child.type.kind} ${child.desired.metadata.name}`;
    this.#o.logger.info(
      { server: server.metadata.name, namespace: server.metadata.namespace, object: what, outcome },
      `${outcome} ${what}`,
    );
    this.#event(
      server,
      'Normal',
      outcome === 'created' ? 'Created' : 'Updated',
      `${outcome} ${what}`,
    );
  }

  /** Optional children that the spec no longer asks for, and that this server owns. */
  async #removeDisabledChildren(server: SftpServer): Promise<void> {
    const removable: Array<[ResourceType, boolean, KubeObject | undefined]> = [
      [
        Resources.serviceMonitor,
        buildServiceMonitor(server) === undefined,
        await this.#uncachedServiceMonitor(server),
      ],
      [
        Resources.podDisruptionBudget,
        buildPodDisruptionBudget(server) === undefined,
        this.#observed(this.#o.caches.podDisruptionBudgets, server, 'pdb'),
      ],
      [
        Resources.networkPolicy,
        buildNetworkPolicy(server) === undefined,
        this.#observed(this.#o.caches.networkPolicies, server, 'networkPolicy'),
      ],
    ];
    for (const [type, unwanted, observed] of removable) {
      if (!unwanted || observed === undefined || !this.#ownedBy(observed, server)) continue;
      await this.#o.client.delete(type, {
        namespace: observed.metadata.namespace ?? '',
        name: observed.metadata.name,
        uid: observed.metadata.uid ?? '',
      });
      this.#event(
        server,
        'Normal',
        'Deleted',
        `deleted ${type.kind} ${observed.metadata.name}, no longer asked for`,
      );
    }
  }

  /**
   * The ServiceMonitor of a server that no longer asks for one: not cached (its kind may not be
   * served), so read; a 404 (no such object, or no such kind) means none.
   */
  async #uncachedServiceMonitor(server: SftpServer): Promise<KubeObject | undefined> {
    if (buildServiceMonitor(server) !== undefined) return undefined;
    return this.#o.client.get(Resources.serviceMonitor, {
      namespace: server.metadata.namespace ?? '',
      name: serverNames(server.metadata.name).serviceMonitor,
    });
  }

  #observed(
    cache: OperatorCaches['deployments'],
    server: SftpServer,
    which: 'deployment' | 'pdb' | 'networkPolicy',
  ): KubeObject | undefined {
    return cache.get(server.metadata.namespace ?? '', serverNames(server.metadata.name)[which]);
  }

  #ownedBy(object: KubeObject, server: SftpServer): boolean {
    return object.metadata.ownerReferences?.some((ref) => ref.uid === server.metadata.uid) === true;
  }

  async #updateStatus(
    server: SftpServer,
    observed: {
      problem: Problem | undefined;
      deployment: KubeObject | undefined;
      hostKeys: HostKeys | undefined;
    },
  ): Promise<void> {
    const status = serverStatus({
      server,
      deployment: observed.deployment,
      service: this.#o.caches.services.get(
        server.metadata.namespace ?? '',
        serverNames(server.metadata.name).service,
      ),
      hostKeys: observed.hostKeys?.keys ?? server.status?.hostKeys ?? [],
      problem: observed.problem,
      now: (this.#o.now ?? (() => new Date()))(),
    });
    const written = await writeStatusIfChanged(this.#o.client, {
      type: Resources.sftpServer,
      object: server,
      status,
    });
    if (written && observed.problem !== undefined) {
      this.#event(server, 'Warning', observed.problem.reason, observed.problem.message);
    }
  }

  #event(server: SftpServer, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.#o.events.record({
      object: { ...server, apiVersion: Resources.sftpServer.apiVersion, kind: SFTP_SERVER.kind },
      type,
      reason,
      message,
    });
  }
}
