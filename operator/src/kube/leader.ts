/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it: the
 * holder renews the lease every retry period; another candidate takes it over only once it
 * has seen the same record unchanged for a whole lease duration (its own clock, so clocks need
 * not agree); every write carries the resourceVersion it read, so two candidates cannot both
 * win. A leader that cannot renew within the renew deadline steps down, and one that stops
 * cleanly releases the lease so the next takes over at once.
 */
import type { Logger } from 'pino';
import type { KubeObject } from '../api/objects.js';
import type { KubeClient } from './client.js';
import { ApiError } from './errors.js';
import { Resources } from './resources.js';

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  logger: Logger;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Waits `ms`, or less if `signal` aborts; the abort listener goes with the wait. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const aborted = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    signal.addEventListener('abort', aborted, { once: true });
  });

export class LeaderElector {
  readonly #options: Required<Omit<LeaderElectionOptions, 'logger' | 'client'>> &
    Pick<LeaderElectionOptions, 'logger' | 'client'>;
  /** The last record seen and when this process first saw it (for expiry by our own clock). */
  #observed: { key: string; at: number } | undefined;
  #leading = false;

  constructor(options: LeaderElectionOptions) {
    this.#options = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...options,
    };
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Resolves once this process holds the lease, or when `signal` aborts (false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    this.#options.logger.info(
      {
        lease: `${this.#options.namespace}/${this.#options.name}`,
        identity: this.#options.identity,
      },
      'waiting for the leader lease',
    );
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew()) {
        this.#leading = true;
        this.#options.logger.info({ identity: this.#options.identity }, 'became the leader');
        return true;
      }
      await sleep(this.#options.retryPeriodMs, signal);
    }
    return false;
  }

  /**
   * Renews until `signal` aborts (then releases the lease and resolves true) or a renewal
   * fails past the renew deadline (resolves false: the caller must stop working at once).
   */
  async hold(signal: AbortSignal): Promise<boolean> {
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(this.#options.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.#tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.#options.renewDeadlineMs) {
        this.#leading = false;
        this.#options.logger.error({ identity: this.#options.identity }, 'lost the leader lease');
        return false;
      }
    }
    await this.release();
    return true;
  }

  /** Gives the lease up so that another candidate takes over without waiting for it to expire. */
  async release(): Promise<void> {
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#read();
      if (lease?.spec?.holderIdentity !== this.#options.identity) return;
      await this.#write(lease, {
        ...lease.spec,
        holderIdentity: null,
        leaseDurationSeconds: 1,
        renewTime: microTime(new Date()),
      });
      this.#options.logger.info({ identity: this.#options.identity }, 'released the leader lease');
    } catch (err) {
      this.#options.logger.warn({ err: String(err) }, 'could not release the leader lease');
    }
  }

  async #read(): Promise<Lease | undefined> {
    return this.#options.client.get<Lease>(Resources.lease, {
      namespace: this.#options.namespace,
      name: this.#options.name,
    });
  }

  async #write(lease: Lease, spec: LeaseSpec): Promise<void> {
    await this.#options.client.request({
      method: 'PUT',
      path: `/apis/coordination.k8s.io/v1/namespaces/${this.#options.namespace}/leases/${this.#options.name}`,
      body: { ...lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', spec },
      resource: 'leases',
      verb: 'update',
    });
  }

  #mySpec(previous: LeaseSpec | undefined, now: Date): LeaseSpec {
    const mine = previous?.holderIdentity === this.#options.identity;
    return {
      holderIdentity: this.#options.identity,
      leaseDurationSeconds: Math.ceil(this.#options.leaseDurationMs / 1000),
      acquireTime: mine && previous?.acquireTime ? previous.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
  }

  /** Held by someone else, and seen unchanged for less than its duration. */
  #heldByAnother(lease: Lease): boolean {
    const spec = lease.spec ?? {};
    if (!spec.holderIdentity || spec.holderIdentity === this.#options.identity) return false;
    const key = `${spec.holderIdentity}|${spec.renewTime ?? ''}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: Date.now() };
    const durationMs = (spec.leaseDurationSeconds ?? 15) * 1000;
    return Date.now() - this.#observed.at < durationMs;
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    try {
      const lease = await this.#read();
      if (lease === undefined) {
        await this.#options.client.create<Lease>(Resources.lease, {
          metadata: { name: this.#options.name, namespace: this.#options.namespace },
          spec: this.#mySpec(undefined, now),
        });
        return true;
      }
      if (this.#heldByAnother(lease)) return false;
      await this.#write(lease, this.#mySpec(lease.spec, now));
      return true;
    } catch (err) {
      // 409: another candidate wrote first; anything else: try again at the next period.
      if (!(err instanceof ApiError && err.status === 409)) {
        this.#options.logger.warn({ err: String(err) }, 'leader lease request failed');
      }
      return false;
    }
  }
}
