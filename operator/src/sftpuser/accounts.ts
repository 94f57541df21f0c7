/**
 * Connections to the servers' databases, one pool per SftpServer, opened through the provider
 * seam (server/src/dataprovider: the same drivers and checks as the server, no native module)
 * and migrated on first use, under the same advisory lock the pods take. A pool is replaced
 * when the server's database Secret changes.
 */
import type { Logger } from 'pino';
import { openDriver } from '../../../server/src/dataprovider/drivers.js';
import type { DataProvider } from '../../../server/src/dataprovider/types.js';
import { UserReason } from '../api/conditions.js';
import { keyOf, type Secret, type SftpServer } from '../api/objects.js';
import { databaseSettings } from '../sftpserver/database.js';

export interface StoreProblem {
  ok: false;
  reason: UserReason;
  message: string;
}

export type StoreResult = { ok: true; provider: DataProvider } | StoreProblem;

interface OpenStore {
  fingerprint: string;
  provider: DataProvider;
  ready: Promise<void>;
}

export interface OpenOptions {
  server: SftpServer;
  /** The database Secret as the cache holds it (metadata only); undefined when not cached. */
  cachedSecret: Secret | undefined;
  /** Reads the Secret with its data. */
  readSecret: () => Promise<Secret | undefined>;
}

export class AccountStores {
  readonly #stores = new Map<string, OpenStore>();
  readonly #logger: Logger;

  constructor(options: { logger: Logger }) {
    this.#logger = options.logger;
  }

  #fingerprint(server: SftpServer, resourceVersion: string): string {
    const config = server.spec.config?.data_provider;
    return JSON.stringify([
      server.spec.database.secretRef.name,
      resourceVersion,
      config?.users_table,
      config?.sslmode,
    ]);
  }

  /** The provider of `server`, opened and migrated; or why the database cannot be used. */
  async open(options: OpenOptions): Promise<StoreResult> {
    const key = keyOf(options.server);
    const current = this.#stores.get(key);
    const cachedVersion = options.cachedSecret?.metadata.resourceVersion;
    if (
      current !== undefined &&
      cachedVersion !== undefined &&
      current.fingerprint === this.#fingerprint(options.server, cachedVersion)
    ) {
      return this.#whenReady(key, current);
    }
    const secret = await options.readSecret();
    const settings = databaseSettings({
      secret,
      secretName: options.server.spec.database.secretRef.name,
      sslmode: options.server.spec.config?.data_provider?.sslmode ?? 0,
    });
    if (!settings.ok)
      return { ok: false, reason: UserReason.DatabaseUnavailable, message: settings.message };
    const fingerprint = this.#fingerprint(options.server, settings.resourceVersion);
    if (current?.fingerprint === fingerprint) return this.#whenReady(key, current);
    if (current !== undefined) this.#retire(key, current);
    const provider = await openDriver({
      driver: 'postgresql',
      name: settings.network.database,
      configDir: '/',
      usersTable: options.server.spec.config?.data_provider?.users_table ?? 'users',
      network: settings.network,
    });
    const store: OpenStore = { fingerprint, provider, ready: provider.initialize() };
    this.#stores.set(key, store);
    return this.#whenReady(key, store);
  }

  async #whenReady(key: string, store: OpenStore): Promise<StoreResult> {
    try {
      await store.ready;
      return { ok: true, provider: store.provider };
    } catch (err) {
      // The next attempt opens a fresh pool rather than awaiting this failed start forever.
      this.#retire(key, store);
      const message = err instanceof Error ? err.message : String(err);
      return {
        ok: false,
        reason: UserReason.DatabaseUnavailable,
        message: `database of ${key}: ${message}`,
      };
    }
  }

  #retire(key: string, store: OpenStore): void {
    if (this.#stores.get(key) === store) this.#stores.delete(key);
    store.provider
      .close()
      .catch((err: unknown) => this.#logger.debug({ err: String(err) }, 'closing a database pool'));
  }

  /** Closes the pool of a server that is gone. */
  forget(serverKey: string): void {
    const store = this.#stores.get(serverKey);
    if (store !== undefined) this.#retire(serverKey, store);
  }

  async closeAll(): Promise<void> {
    const stores = [...this.#stores.values()];
    this.#stores.clear();
    await Promise.allSettled(stores.map((store) => store.provider.close()));
  }
}
