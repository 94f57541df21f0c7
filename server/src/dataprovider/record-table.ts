/**
 * A table of records under string keys, as the embedded record drivers keep their state: in a
 * Map (memory) or in an LMDB database (kv). Access is synchronous so that a read, a change and
 * a write run as one step inside the store's transaction.
 */
export interface RecordTable<V> {
  /** A copy: changing it changes nothing stored until it is put back. */
  get(key: string): V | undefined;
  put(key: string, value: V): void;
  /** Resolves false when there was no record. */
  delete(key: string): boolean;
  /** Copies of every record, in no promised order. */
  values(): V[];
  count(): number;
}

/** A table in process memory; values go in and come out as copies. */
export class MapTable<V> implements RecordTable<V> {
  readonly #records = new Map<string, V>();

  get(key: string): V | undefined {
    return structuredClone(this.#records.get(key));
  }

  put(key: string, value: V): void {
    this.#records.set(key, structuredClone(value));
  }

  delete(key: string): boolean {
    return this.#records.delete(key);
  }

  values(): V[] {
    return structuredClone([...this.#records.values()]);
  }

  count(): number {
    return this.#records.size;
  }
}
