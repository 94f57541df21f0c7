/**
 * Starts the operator: the metrics endpoint, then (as leader) the informers, the mappings from
 * watched changes to keys, and the two controllers. Everything is built here and passed down;
 * nothing reads the environment or holds global state, so tests run several operators in one
 * process.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { EVENT_SOURCE, FIELD_MANAGER, LABELS, MANAGED_BY } from './api/group.js';
import {
  keyOf,
  type KubeObject,
  type Secret,
  type SftpServer,
  type SftpUser,
} from './api/objects.js';
import { KubeClient } from './kube/client.js';
import { KubeEventRecorder } from './kube/events.js';
import { SupervisedInformer, type InformerEventType } from './kube/informer.js';
import { LeaderElector } from './kube/leader.js';
import { Resources, type ResourceType } from './kube/resources.js';
import type { OperatorCaches } from './runtime/caches.js';
import { Controller } from './runtime/controller.js';
import { startHttpEndpoint } from './runtime/http.js';
import { OperatorMetrics } from './runtime/metrics.js';
import { ServerReconciler } from './sftpserver/reconcile.js';
import { AccountStores } from './sftpuser/accounts.js';
import { DEFAULT_ITERATIONS } from './sftpuser/password-hash.js';
import { UserReconciler } from './sftpuser/reconcile.js';
import {
  ChangeFilter,
  keysForSecret,
  serverFingerprintForUsers,
  serverOfChild,
  userFingerprint,
  usersForConfigMap,
  usersOfServer,
} from './wiring.js';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Watch one namespace; all when unset. */
  namespace?: string | undefined;
  /** The image of server pods when an SftpServer names none. */
  defaultImage: string;
  leaderElection?: { namespace: string; name?: string; identity?: string } | undefined;
  metrics?: { host: string; port: number } | undefined;
  resyncMs?: number;
  userWorkers?: number;
  serverWorkers?: number;
  hashIterations?: number;
  deletionTimeoutMs?: number;
  /** Server-side watch timeout (seconds); tests shorten it. */
  watchTimeoutSeconds?: number;
  /** Called once if leadership is lost: the process must stop working at once. */
  onLeadershipLost?: () => void;
}

export interface RunningOperator {
  metrics: OperatorMetrics;
  /** The metrics endpoint's port, when it runs. */
  metricsPort: number | undefined;
  client: KubeClient;
  /** Resolves once this process leads and its caches are synced. */
  started: Promise<void>;
  stop(): Promise<void>;
}

type AnyInformer = SupervisedInformer<KubeObject>;

/** Drops what no reconciler reads: the managed fields of every cached object. */
function slim<T extends KubeObject>(object: T): T {
  const metadata: T['metadata'] & { managedFields?: unknown } = { ...object.metadata };
  delete metadata.managedFields;
  return { ...object, metadata };
}

/**
 * Secrets and ConfigMaps are cached without their data, except the operator's own (host keys,
 * master key, generated passwords, server config): the cache then costs little whatever else the
 * namespaces hold, and a reconciler reads a user's Secret or ConfigMap when it needs its value.
 */
function slimUnmanaged<T extends KubeObject & { data?: unknown; binaryData?: unknown }>(
  object: T,
): T {
  const slimmed = slim(object);
  if (object.metadata.labels?.[LABELS.managedBy] === MANAGED_BY) return slimmed;
  const rest = { ...slimmed };
  delete rest.data;
  delete rest.binaryData;
  return rest;
}

interface Informers {
  servers: SupervisedInformer<SftpServer>;
  users: SupervisedInformer<SftpUser>;
  secrets: SupervisedInformer<Secret>;
  configMaps: AnyInformer;
  deployments: AnyInformer;
  services: AnyInformer;
  podDisruptionBudgets: AnyInformer;
  networkPolicies: AnyInformer;
}

class Operator {
  readonly metrics = new OperatorMetrics();
  readonly client: KubeClient;
  readonly #o: OperatorOptions;
  readonly #informers: AnyInformer[] = [];
  readonly #stores: AccountStores;
  readonly #events: KubeEventRecorder;
  #controllers: Controller[] = [];
  #serviceMonitors: { served: boolean; at: number } | undefined;

  constructor(options: OperatorOptions) {
    this.#o = options;
    this.client = new KubeClient({
      kubeConfig: options.kubeConfig,
      fieldManager: FIELD_MANAGER,
      observe: (info) => this.metrics.observeRequest(info),
    });
    this.#stores = new AccountStores({ logger: options.logger });
    this.#events = new KubeEventRecorder({
      client: this.client,
      component: EVENT_SOURCE,
      logger: options.logger,
    });
  }

  informer<T extends KubeObject>(
    name: string,
    type: ResourceType,
    options: { managedOnly?: boolean; transform?: (object: T) => T } = {},
  ): SupervisedInformer<T> {
    const informer = new SupervisedInformer<T>({
      name,
      kubeConfig: this.#o.kubeConfig,
      client: this.client,
      type,
      namespace: this.#o.namespace,
      labelSelector: options.managedOnly === true ? `${LABELS.managedBy}=${MANAGED_BY}` : undefined,
      transform: options.transform ?? slim,
      logger: this.#o.logger,
      watchTimeoutSeconds: this.#o.watchTimeoutSeconds ?? 300,
      observer: {
        restarted: (informer) => this.metrics.informerRestarts.inc({ informer }),
        active: (informer, at) => this.metrics.informerLastActivity.set({ informer }, at / 1000),
      },
    });
    this.#informers.push(informer as unknown as AnyInformer);
    return informer;
  }

  /** The informers; they are also the caches the reconcilers read. */
  informers(): Informers {
    const owned = { managedOnly: true };
    return {
      servers: this.informer<SftpServer>('sftpservers', Resources.sftpServer),
      users: this.informer<SftpUser>('sftpusers', Resources.sftpUser),
      secrets: this.informer<Secret>('secrets', Resources.secret, { transform: slimUnmanaged }),
      // All of them: a user's public keys may come from one (publicKeysFrom.configMapKeyRef).
      configMaps: this.informer('configmaps', Resources.configMap, { transform: slimUnmanaged }),
      deployments: this.informer('deployments', Resources.deployment, owned),
      services: this.informer('services', Resources.service, owned),
      podDisruptionBudgets: this.informer(
        'poddisruptionbudgets',
        Resources.podDisruptionBudget,
        owned,
      ),
      networkPolicies: this.informer('networkpolicies', Resources.networkPolicy, owned),
    };
  }

  async serviceMonitorsServed(): Promise<boolean> {
    const now = Date.now();
    if (this.#serviceMonitors === undefined || now - this.#serviceMonitors.at > 300_000) {
      this.#serviceMonitors = {
        served: await this.client.servesGroupVersion('monitoring.coreos.com/v1'),
        at: now,
      };
    }
    return this.#serviceMonitors.served;
  }

  controllers(caches: OperatorCaches): { servers: Controller; users: Controller } {
    const { logger } = this.#o;
    const servers = new Controller({
      name: 'sftpserver',
      metrics: this.metrics,
      logger,
      workers: this.#o.serverWorkers ?? 2,
      resyncMs: this.#o.resyncMs ?? 300_000,
      keys: () => caches.servers.list().map(keyOf),
      reconciler: new ServerReconciler({
        client: this.client,
        caches,
        events: this.#events,
        logger,
        defaultImage: this.#o.defaultImage,
        serviceMonitorsServed: () => this.serviceMonitorsServed(),
      }),
    });
    const users = new Controller({
      name: 'sftpuser',
      metrics: this.metrics,
      logger,
      workers: this.#o.userWorkers ?? 16,
      resyncMs: this.#o.resyncMs ?? 300_000,
      keys: () => caches.users.list().map(keyOf),
      reconciler: new UserReconciler({
        client: this.client,
        caches,
        stores: this.#stores,
        events: this.#events,
        logger,
        hashIterations: this.#o.hashIterations ?? DEFAULT_ITERATIONS,
        deletionTimeoutMs: this.#o.deletionTimeoutMs ?? 300_000,
      }),
    });
    this.#controllers = [servers, users];
    return { servers, users };
  }

  /** The mappings from watched changes to keys (see wiring.ts). */
  wire(informers: Informers, controllers: { servers: Controller; users: Controller }): void {
    const serverChanges = new ChangeFilter();
    const userChanges = new ChangeFilter();
    const { servers, users, secrets } = informers;
    const caches: OperatorCaches = informers;
    servers.onEvent((type, server) => {
      const key = keyOf(server);
      controllers.servers.enqueue(key);
      if (type === 'delete') this.#stores.forget(key);
      if (type === 'delete' || serverChanges.changed(key, serverFingerprintForUsers(server))) {
        for (const user of usersOfServer(caches.users, server)) controllers.users.enqueue(user);
      }
      if (type === 'delete') serverChanges.forget(key);
    });
    users.onEvent((type: InformerEventType, user) => {
      const key = keyOf(user);
      if (type === 'delete') userChanges.forget(key);
      else if (userChanges.changed(key, userFingerprint(user))) controllers.users.enqueue(key);
    });
    secrets.onEvent((_type, secret) => {
      const keys = keysForSecret(caches, secret);
      for (const key of keys.users) controllers.users.enqueue(key);
      for (const key of keys.servers) controllers.servers.enqueue(key);
    });
    informers.configMaps.onEvent((_type, configMap) => {
      for (const key of usersForConfigMap(caches.users, configMap)) controllers.users.enqueue(key);
    });
    const children = [informers.configMaps, informers.deployments, informers.services];
    children.push(informers.podDisruptionBudgets, informers.networkPolicies);
    for (const child of children) {
      child.onEvent((_type, object) => {
        const key = serverOfChild(object);
        if (key !== undefined) controllers.servers.enqueue(key);
      });
    }
  }

  async run(): Promise<void> {
    const informers = this.informers();
    const controllers = this.controllers(informers);
    this.wire(informers, controllers);
    await Promise.all(this.#informers.map((informer) => informer.start()));
    controllers.servers.start();
    controllers.users.start();
    this.#o.logger.info({ namespace: this.#o.namespace ?? '(all)' }, 'operator running');
  }

  synced(): boolean {
    return this.#informers.length > 0 && this.#informers.every((informer) => informer.synced);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#controllers.map((controller) => controller.stop()));
    await Promise.all(this.#informers.map((informer) => informer.stop()));
    await this.#events.flush();
    await this.#stores.closeAll();
    this.client.close();
  }
}

function elector(options: OperatorOptions, client: KubeClient): LeaderElector | undefined {
  const election = options.leaderElection;
  if (election === undefined) return undefined;
  return new LeaderElector({
    client,
    namespace: election.namespace,
    name: election.name ?? 'kubesftp-operator',
    identity: election.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
    logger: options.logger,
  });
}

export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const operator = new Operator(options);
  const leader = elector(options, operator.client);
  const http =
    options.metrics === undefined
      ? undefined
      : await startHttpEndpoint({
          ...options.metrics,
          registry: operator.metrics.registry,
          ready: () => (leader !== undefined && !leader.isLeader) || operator.synced(),
        });
  const abort = new AbortController();
  let holding: Promise<boolean> | undefined;
  const started = (async (): Promise<void> => {
    if (leader !== undefined && !(await leader.acquire(abort.signal))) return;
    operator.metrics.leader.set(1);
    if (leader !== undefined) {
      holding = leader.hold(abort.signal);
      void holding.then((kept) => {
        if (kept) return;
        operator.metrics.leader.set(0);
        options.onLeadershipLost?.();
      });
    }
    await operator.run();
  })();
  return {
    metrics: operator.metrics,
    metricsPort: http?.port,
    client: operator.client,
    started,
    stop: async () => {
      abort.abort();
      await operator.stop();
      await holding;
      await http?.close();
      operator.metrics.leader.set(0);
    },
  };
}
