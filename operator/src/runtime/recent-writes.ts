/**
 * What this process wrote, shown by a cache until its watch catches up. A reconcile's own writes
 * (the finalizer, the generated Secret) bring its key back at once, usually before the watch
 * has delivered the last of them; read from the cache alone, the object then looks older than
 * it is, and the reconcile would write its status again (with new transition times), try the
 * finalizer patch again (its test fails) or look for a Secret it has just created. The write's
 * response is the object as stored: it is shown instead of every version it replaced, and
 * forgotten as soon as the watch brings that version or a newer one, or the object's deletion.
 */
import type { KubeObject } from '../api/objects.js';

interface Written<T> {
  object: T;
  /** resourceVersions of the versions this write replaced. */
  replaced: Set<string>;
  at: number;
}

/** A write the watch has not shown after this long is forgotten (a relist may have hidden it). */
export const RECENT_WRITE_TTL_MS = 60_000;

const keyOf = (object: KubeObject): string =>
  `${object.metadata.namespace ?? ''}/${object.metadata.name}`;

export class RecentWrites<T extends KubeObject> {
  readonly #byKey = new Map<string, Written<T>>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** `written` (a write's response) replaced `cached` and whatever this process wrote before. */
  wrote(written: T, cached: T | undefined): void {
    const key = keyOf(written);
    const version = written.metadata.resourceVersion ?? '';
    const before = this.#byKey.get(key);
    const replaced = new Set(before?.replaced);
    for (const older of [before?.object, cached]) {
      const olderVersion = older?.metadata.resourceVersion;
      if (olderVersion !== undefined && olderVersion !== version) replaced.add(olderVersion);
    }
    this.#byKey.set(key, { object: written, replaced, at: this.#now() });
  }

  /** The newest of the cached object and this process's write of it. */
  newest(namespace: string, name: string, cached: T | undefined): T | undefined {
    const key = `${namespace}/${name}`;
    const written = this.#byKey.get(key);
    if (written === undefined) return cached;
    const stale =
      cached === undefined || written.replaced.has(cached.metadata.resourceVersion ?? '');
    if (stale && this.#now() - written.at < RECENT_WRITE_TTL_MS) return written.object;
    this.#byKey.delete(key);
    return cached;
  }

  /** A watch event: the cache now holds this version (or, deleted, none), newer than the write. */
  observed(object: T, deleted: boolean): void {
    const key = keyOf(object);
    const written = this.#byKey.get(key);
    if (written === undefined) return;
    if (deleted || !written.replaced.has(object.metadata.resourceVersion ?? '')) {
      this.#byKey.delete(key);
    }
  }

  get size(): number {
    return this.#byKey.size;
  }
}
