/**
 * Defender records in a record table: the embedded drivers' store (memory, kv) and, in a Map,
 * the defender's own memory driver (bounded by the entries limits). Values cross the boundary
 * as copies.
 */
import { MapTable, type RecordTable } from './record-table.js';
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

/** The defender's operations on one table, synchronous so a store can run them in its transaction. */
export class DefenderRecords {
  readonly #hosts: RecordTable<DefenderHost>;
  readonly #limits: DefenderHostMapLimits;

  constructor(hosts: RecordTable<DefenderHost>, limits: DefenderHostMapLimits) {
    this.#hosts = hosts;
    this.#limits = limits;
  }

  get(ip: string): DefenderHost | undefined {
    return this.#hosts.get(ip);
  }

  list(now: number): DefenderHost[] {
    const live = this.#hosts.values().filter((host) => host.expiresAt > now);
    return live.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  update(ip: string, change: DefenderHostChange): DefenderHost | undefined {
    const current = this.#hosts.get(ip);
    const next = change(current);
    if (next === undefined) {
      this.#hosts.delete(ip);
      return undefined;
    }
    this.#hosts.put(ip, { ...next, ip });
    const { hardLimit } = this.#limits;
    if (current === undefined && hardLimit > 0 && this.#hosts.count() > hardLimit) {
      this.prune({ now: next.updatedAt, ...this.#limits });
    }
    return this.#hosts.get(ip);
  }

  delete(ip: string): boolean {
    return this.#hosts.delete(ip);
  }

  prune(options: DefenderPruneOptions): number {
    let removed = 0;
    const kept: DefenderHost[] = [];
    for (const host of this.#hosts.values()) {
      if (host.expiresAt <= options.now) removed += Number(this.#hosts.delete(host.ip));
      else kept.push(host);
    }
    const excess = options.hardLimit > 0 ? kept.length - options.softLimit : 0;
    if (kept.length > options.hardLimit && excess > 0) {
      const victims = kept.sort(evictionOrder(options.now)).slice(0, excess);
      for (const host of victims) removed += Number(this.#hosts.delete(host.ip));
    }
    return removed;
  }
}

export class DefenderHostMap implements DefenderHostStore {
  readonly #table = new MapTable<DefenderHost>();
  readonly #records: DefenderRecords;

  constructor(limits: DefenderHostMapLimits = { hardLimit: 0, softLimit: 0 }) {
    this.#records = new DefenderRecords(this.#table, limits);
  }

  get size(): number {
    return this.#table.count();
  }

  async getDefenderHost(ip: string): Promise<DefenderHost | undefined> {
    return Promise.resolve(this.#records.get(ip));
  }

  async listDefenderHosts(now: number): Promise<DefenderHost[]> {
    return Promise.resolve(this.#records.list(now));
  }

  async updateDefenderHost(
    ip: string,
    change: DefenderHostChange,
  ): Promise<DefenderHost | undefined> {
    return Promise.resolve(this.#records.update(ip, change));
  }

  async deleteDefenderHost(ip: string): Promise<boolean> {
    return Promise.resolve(this.#records.delete(ip));
  }

  async pruneDefenderHosts(options: DefenderPruneOptions): Promise<number> {
    return Promise.resolve(this.#records.prune(options));
  }
}
