/**
 * An informer that keeps running: client-node's ListWatch, supervised. ListWatch relists on
 * 410 Gone and re-watches when the server ends a watch, but it stops for good on any other
 * error (its issues #958 and #364: informers that go silent); here an error starts it again
 * after a backoff, and a watch that has brought nothing for too long (not even a bookmark or a
 * new watch) is restarted, in case its connection died without a word. Watches ask for
 * bookmarks and a server-side timeout, so a healthy one shows activity every few minutes.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from '../api/objects.js';
import { RecentWrites } from '../runtime/recent-writes.js';
import type { KubeClient } from './client.js';
import { resourcePath, type ResourceType } from './resources.js';

export type InformerEventType = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (type: InformerEventType, object: T) => void;

export interface InformerObserver {
  restarted(informer: string): void;
  active(informer: string, at: number): void;
}

export interface InformerOptions<T extends KubeObject> {
  /** Names the informer in logs and metrics. */
  name: string;
  kubeConfig: KubeConfig;
  client: KubeClient;
  type: ResourceType;
  /** All namespaces when unset. */
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  /** Applied to every object before it is cached, e.g. to drop Secret data. */
  transform?: (object: T) => T;
  logger: Logger;
  observer?: InformerObserver;
  /** Delay before the first restart after an error (default 1 s), doubling to maxMs (default 60 s). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Server-side watch timeout in seconds (default 300). */
  watchTimeoutSeconds?: number;
  /** Restart a watch silent for this long (default: three watch timeouts). */
  idleRestartMs?: number;
}

interface WatchLike {
  watch: Watch['watch'];
}

/** Wraps client-node's Watch: asks for bookmarks and a timeout, transforms, and records activity. */
function supervisedWatch<T extends KubeObject>(
  inner: Watch,
  options: { timeoutSeconds: number; transform: (object: T) => T; active: () => void },
): WatchLike {
  return {
    watch: (path, query, callback, done) =>
      inner.watch(
        path,
        { ...query, allowWatchBookmarks: true, timeoutSeconds: options.timeoutSeconds },
        (phase: string, object: T, raw: unknown) => {
          options.active();
          const shown = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED';
          callback(phase, shown ? options.transform(object) : object, raw);
        },
        done,
      ),
  };
}

export class SupervisedInformer<T extends KubeObject> {
  readonly name: string;
  readonly #options: InformerOptions<T>;
  readonly #listWatch: ListWatch<KubernetesObject>;
  readonly #handlers: InformerHandler<T>[] = [];
  readonly #recent = new RecentWrites<T>();
  readonly #transform: (object: T) => T;
  readonly #log: Logger;
  #synced = false;
  #stopped = false;
  #failures = 0;
  #errorsSeen = 0;
  #lastActivity = Date.now();
  #lastError: string | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #restarting = false;
  /** Set while a watch is being stopped on purpose: its abort error is expected. */
  #expectAbort: (() => void) | undefined;
  #onSynced: Array<() => void> = [];

  constructor(options: InformerOptions<T>) {
    this.name = options.name;
    this.#options = options;
    this.#log = options.logger;
    const transform = options.transform ?? ((object: T): T => object);
    this.#transform = transform;
    const path = resourcePath(options.type, { namespace: options.namespace });
    const watch = supervisedWatch<T>(new Watch(options.kubeConfig), {
      timeoutSeconds: options.watchTimeoutSeconds ?? 300,
      transform,
      active: () => this.#markActive(),
    });
    const list = async (): Promise<{
      items: KubernetesObject[];
      metadata: { resourceVersion?: string };
    }> => {
      const result = await options.client.list<T>(options.type, {
        namespace: options.namespace,
        labelSelector: options.labelSelector,
      });
      this.#markActive();
      // A list's items carry no apiVersion and kind (watch events do); without them a cached
      // object would never contain what is applied, and a restarted operator would re-apply
      // every child it listed at every resync.
      const typed = result.items.map((item) =>
        transform({ apiVersion: options.type.apiVersion, kind: options.type.kind, ...item }),
      );
      return { ...result, items: typed as unknown as KubernetesObject[] };
    };
    this.#listWatch = new ListWatch<KubernetesObject>(
      path,
      watch as unknown as Watch,
      list,
      false,
      options.labelSelector,
    );
    this.#listWatch.on('add', (object) => this.#emit('add', object));
    this.#listWatch.on('update', (object) => this.#emit('update', object));
    this.#listWatch.on('delete', (object) => this.#emit('delete', object));
    this.#listWatch.on('connect', () => this.#markActive());
    this.#listWatch.on('error', (err) => this.#onError(err));
  }

  onEvent(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    this.#stopped = false;
    const synced = new Promise<void>((resolve) => {
      if (this.#synced) resolve();
      else this.#onSynced.push(resolve);
    });
    await this.#run();
    const every = Math.max(1_000, Math.floor(this.#idleRestartMs() / 4));
    this.#idleTimer = setInterval(() => void this.#restartIfSilent(), every);
    await synced;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    clearInterval(this.#idleTimer);
    for (const resolve of this.#onSynced.splice(0)) resolve();
    await this.#listWatch.stop();
  }

  /** The cached object, or this process's own newer write of it (runtime/recent-writes.ts). */
  get(namespace: string, name: string): T | undefined {
    return this.#recent.newest(namespace, name, this.#cached(namespace, name));
  }

  /** Shows `written`, a write's response, until the watch brings it or something newer. */
  wrote(written: T): void {
    const { namespace = '', name } = written.metadata;
    this.#recent.wrote(this.#transform(written), this.#cached(namespace, name));
  }

  #cached(namespace: string, name: string): T | undefined {
    return this.#listWatch.get(name, namespace) as unknown as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.#listWatch.list(namespace) as unknown as readonly T[];
  }

  get synced(): boolean {
    return this.#synced;
  }

  health(): { synced: boolean; lastActivityAt: number; failures: number; lastError?: string } {
    return {
      synced: this.#synced,
      lastActivityAt: this.#lastActivity,
      failures: this.#failures,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  #emit(type: InformerEventType, object: KubernetesObject): void {
    this.#recent.observed(object as unknown as T, type === 'delete');
    for (const handler of this.#handlers) handler(type, object as unknown as T);
  }

  #markActive(): void {
    this.#lastActivity = Date.now();
    this.#options.observer?.active(this.name, this.#lastActivity);
  }

  #idleRestartMs(): number {
    return this.#options.idleRestartMs ?? 3 * 1000 * (this.#options.watchTimeoutSeconds ?? 300);
  }

  /** One start of the ListWatch; it reports failures through the error callback, never throws. */
  async #run(): Promise<void> {
    const errorsBefore = this.#errorsSeen;
    await this.#listWatch.start();
    if (this.#listWatch.latestResourceVersion() === '' || this.#errorsSeen !== errorsBefore) return;
    this.#failures = 0;
    if (!this.#synced) {
      this.#synced = true;
      this.#log.info({ informer: this.name, objects: this.list().length }, 'informer synced');
      for (const resolve of this.#onSynced.splice(0)) resolve();
    }
  }

  #onError(err: unknown): void {
    if (this.#expectAbort !== undefined) {
      const resolve = this.#expectAbort;
      this.#expectAbort = undefined;
      resolve();
      return;
    }
    if (this.#stopped) return;
    this.#errorsSeen++;
    this.#failures++;
    this.#lastError = err instanceof Error ? err.message : String(err);
    const { baseMs = 1_000, maxMs = 60_000 } = this.#options.backoff ?? {};
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(this.#failures - 1, 20));
    const jittered = Math.round(delay * (0.8 + Math.random() * 0.4));
    this.#log.warn(
      { informer: this.name, err: this.#lastError, retryInMs: jittered, failures: this.#failures },
      'informer stopped on an error; starting it again',
    );
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => void this.#restart(), jittered);
  }

  async #restart(): Promise<void> {
    if (this.#stopped || this.#restarting) return;
    this.#restarting = true;
    try {
      this.#options.observer?.restarted(this.name);
      await this.#run();
    } finally {
      this.#restarting = false;
    }
  }

  /** A watch with no sign of life for idleRestartMs is stopped and started again. */
  async #restartIfSilent(): Promise<void> {
    const silentMs = Date.now() - this.#lastActivity;
    if (this.#stopped || this.#restarting || silentMs < this.#idleRestartMs()) return;
    this.#restarting = true;
    try {
      this.#log.warn({ informer: this.name, silentMs }, 'watch silent for too long; restarting it');
      const aborted = new Promise<void>((resolve) => {
        this.#expectAbort = resolve;
        setTimeout(resolve, 2_000).unref();
      });
      await this.#listWatch.stop();
      await aborted;
      this.#expectAbort = undefined;
      this.#options.observer?.restarted(this.name);
      this.#markActive();
      await this.#run();
    } finally {
      this.#restarting = false;
    }
  }
}
