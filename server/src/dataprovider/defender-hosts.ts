/**
 * Defender records in a Map: the memory data provider's store, and the defender's own memory
 * driver (bounded by the entries limits). Values cross the boundary as copies.
 */
import type {
  DefenderHost,
  DefenderHostChange,
  DefenderHostStore,
  DefenderPruneOptions,
} from './types.js';

export interface DefenderHostMapLimits {
  /** Past this many records an insert drops the oldest down to `softLimit`; 0 means no limit. */
  hardLimit: number;
  softLimit: number;
}

/**
 * Which records go first when a store is over its hard limit: expired ones, then those only
 * scored, then bans; the least recently updated first within each group.
 */
export function evictionOrder(now: number): (a: DefenderHost, b: DefenderHost) => number {
  const group = (host: DefenderHost): number =>
    host.expiresAt <= now ? 0 : host.banUntil > now ? 2 : 1;
  return (a, b) => group(a) - group(b) || a.updatedAt - b.updatedAt;
}

export class DefenderHostMap implements DefenderHostStore {
  readonly #hosts = new Map<string, DefenderHost>();
  readonly #limits: DefenderHostMapLimits;

  constructor(limits: DefenderHostMapLimits = { hardLimit: 0, softLimit: 0 }) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#hosts.size;
  }

  async getDefenderHost(ip: string): Promise<DefenderHost | undefined> {
    return Promise.resolve(structuredClone(this.#hosts.get(ip)));
  }

  async listDefenderHosts(now: number): Promise<DefenderHost[]> {
    const live = [...this.#hosts.values()].filter((host) => host.expiresAt > now);
    live.sort((a, b) => b.updatedAt - a.updatedAt);
    return Promise.resolve(structuredClone(live));
  }

  async updateDefenderHost(
    ip: string,
    change: DefenderHostChange,
  ): Promise<DefenderHost | undefined> {
    const isNew = !this.#hosts.has(ip);
    const next = change(structuredClone(this.#hosts.get(ip)));
    this.#hosts.delete(ip);
    if (next === undefined) return undefined;
    this.#hosts.set(ip, structuredClone({ ...next, ip }));
    if (isNew && this.#limits.hardLimit > 0 && this.#hosts.size > this.#limits.hardLimit) {
      this.#prune({ now: next.updatedAt, ...this.#limits });
    }
    return Promise.resolve(structuredClone(this.#hosts.get(ip)));
  }

  async deleteDefenderHost(ip: string): Promise<boolean> {
    return Promise.resolve(this.#hosts.delete(ip));
  }

  async pruneDefenderHosts(options: DefenderPruneOptions): Promise<number> {
    return Promise.resolve(this.#prune(options));
  }

  #prune(options: DefenderPruneOptions): number {
    const before = this.#hosts.size;
    for (const [ip, host] of this.#hosts) if (host.expiresAt <= options.now) this.#hosts.delete(ip);
    const excess = options.hardLimit > 0 ? this.#hosts.size - options.softLimit : 0;
    if (this.#hosts.size > options.hardLimit && excess > 0) {
      const victims = [...this.#hosts.values()].sort(evictionOrder(options.now)).slice(0, excess);
      for (const host of victims) this.#hosts.delete(host.ip);
    }
    return before - this.#hosts.size;
  }
}
