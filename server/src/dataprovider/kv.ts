/**
 * The embedded key/value driver (the role bolt plays in SFTPGo): one LMDB file through the
 * `lmdb` package, with the same records as the memory driver, kept. LMDB commits each write
 * transaction durably and serializes writers across processes with its lock file, so several
 * servers on one host may share the file; it is no store for a network filesystem.
 * Decision record 0011 says why LMDB.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import { assertPrivateMode, createPrivateFileSync } from '../private-files.js';
import { RecordProvider, type RecordStore, type RecordTables } from './record-store.js';
import type { RecordTable } from './record-table.js';

/** The layout of the records this version writes; a newer file is refused, an older migrated. */
export const KV_FORMAT = 2;

export interface KvOptions {
  /** The database file, already resolved against the config dir. */
  path: string;
}

/** Where an LMDB file keeps its magic number 0xBEEFC0DE (little-endian), in its first page. */
const MAGIC_OFFSET = 24;
const MAGIC = Buffer.from([0xde, 0xc0, 0xef, 0xbe]);

function unavailable(message: string, cause?: unknown): KubesftpError {
  return new KubesftpError(ErrorCode.PROVIDER_UNAVAILABLE, message, { cause });
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * LMDB crashes the process on a file that is not its own, so the file is looked at first: it
 * must be empty (new) or start as an LMDB file does. A bbolt or SQLite file is refused intact.
 */
function assertLmdbFile(path: string): void {
  const head = Buffer.alloc(MAGIC_OFFSET + MAGIC.length);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (read === 0 || head.subarray(MAGIC_OFFSET).equals(MAGIC)) return;
  throw new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `data_provider.name: ${path} is not an LMDB database, which the kv driver needs; a bolt ` +
      'file is not read, and a kubesftp sqlite database moves over with `kubesftp dumpdata` and `loaddata`',
  );
}

/** Creates the file private (it holds password hashes) or checks an existing one is. */
function preparePrivateFile(path: string): void {
  try {
    createPrivateFileSync(path);
    const { mode } = statSync(path);
    assertPrivateMode({ path, mode, key: 'data_provider.name', what: 'kv database' });
    assertLmdbFile(path);
  } catch (err) {
    if (isKubesftpError(err)) throw err;
    throw unavailable(
      `data_provider.name: cannot open the kv database ${path}: ${reason(err)}`,
      err,
    );
  }
}

class LmdbTable<V> implements RecordTable<V> {
  readonly #db: Database<V, string>;

  constructor(db: Database<V, string>) {
    this.#db = db;
  }

  get(key: string): V | undefined {
    return this.#db.get(key);
  }

  put(key: string, value: V): void {
    this.#db.putSync(key, value);
  }

  delete(key: string): boolean {
    return this.#db.removeSync(key);
  }

  values(): V[] {
    const values: V[] = [];
    for (const { value } of this.#db.getRange()) values.push(value);
    return values;
  }

  count(): number {
    return this.#db.getCount();
  }
}

const TABLES = [
  'users',
  'userIds',
  'admins',
  'secrets',
  'defenderHosts',
  'sessions',
  'homeRemovals',
  'counters',
] as const satisfies readonly (keyof RecordTables)[];

function lmdbStore(env: RootDatabase): RecordStore {
  const table = <V>(name: string): RecordTable<V> =>
    new LmdbTable<V>(env.openDB<V, string>({ name }));
  const tables = Object.fromEntries(TABLES.map((name) => [name, table(name)])) as {
    [K in keyof RecordTables]: RecordTables[K];
  };
  return {
    ...tables,
    write: (step) => env.transactionSync(step),
    read: (step) => step(),
  };
}

export class KvProvider extends RecordProvider {
  readonly driver = 'kv';
  readonly #options: KvOptions;
  #env: RootDatabase | undefined;
  #store: RecordStore | undefined;

  constructor(options: KvOptions) {
    super();
    this.#options = options;
  }

  protected store(): RecordStore {
    if (this.#store === undefined) {
      throw unavailable('kv: the database is not open (initialize() first, or it was closed)');
    }
    return this.#store;
  }

  /** Opens the file (creating it) and checks its format: safe from several processes at once. */
  async initialize(): Promise<void> {
    if (this.#env !== undefined) return;
    const { path } = this.#options;
    preparePrivateFile(path);
    let env: RootDatabase;
    try {
      env = open({ path, noSubdir: true, maxDbs: TABLES.length + 1 });
    } catch (err) {
      throw unavailable(
        `data_provider.name: cannot open the kv database ${path}: ${reason(err)}`,
        err,
      );
    }
    try {
      this.#checkFormat(env);
    } catch (err) {
      await env.close();
      throw err;
    }
    this.#env = env;
    this.#store = lmdbStore(env);
    return Promise.resolve();
  }

  #checkFormat(env: RootDatabase): void {
    const meta = env.openDB<number, string>({ name: 'meta' });
    // Format 2 added the homeRemovals table, which opens empty: an older file only needs the mark.
    const format = env.transactionSync(() => {
      const stored = meta.get('format');
      if (stored === undefined || stored < KV_FORMAT) meta.putSync('format', KV_FORMAT);
      return stored ?? KV_FORMAT;
    });
    if (format > KV_FORMAT) {
      throw unavailable(
        `the database schema is at ${format}, newer than this kubesftp knows (${KV_FORMAT}); upgrade kubesftp`,
      );
    }
  }

  async checkAvailability(): Promise<void> {
    this.store();
    return Promise.resolve();
  }

  async close(): Promise<void> {
    const env = this.#env;
    this.#env = undefined;
    this.#store = undefined;
    await env?.close();
  }
}
