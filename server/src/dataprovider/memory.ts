/**
 * An in-process driver for tests and `portable` mode. Nothing survives a restart, but it can
 * start from a dump file (`kubesftp dumpdata`). Its tables are Maps whose values go in and
 * come out as copies, so callers cannot change stored state by accident.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import { loadDump, parseDump } from './dump.js';
import { RecordProvider, type RecordStore } from './record-store.js';
import { MapTable } from './record-table.js';

export interface MemoryOptions {
  /** A dump to load on initialize(): data_provider.name, resolved against the config dir. */
  dumpFile?: string;
}

function unreadableDump(file: string, err: unknown): KubesftpError {
  const reason = err instanceof Error ? err.message : String(err);
  return new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `data_provider.name: the memory driver cannot load the dump ${file}: ${reason}`,
    { cause: err },
  );
}

/** Maps in one process: a step runs alone because nothing else runs while it does. */
function mapStore(): RecordStore {
  return {
    users: new MapTable(),
    userIds: new MapTable(),
    admins: new MapTable(),
    secrets: new MapTable(),
    defenderHosts: new MapTable(),
    sessions: new MapTable(),
    homeRemovals: new MapTable(),
    counters: new MapTable(),
    write: (step) => step(),
    read: (step) => step(),
  };
}

export class MemoryProvider extends RecordProvider {
  readonly driver = 'memory';
  readonly #options: MemoryOptions;
  readonly #store = mapStore();

  constructor(options: MemoryOptions = {}) {
    super();
    this.#options = options;
  }

  protected store(): RecordStore {
    return this.#store;
  }

  /** Loads the dump file, if one is configured. Its passwords must already be hashes. */
  async initialize(): Promise<void> {
    const file = this.#options.dumpFile;
    if (file === undefined) return;
    try {
      await loadDump(this, parseDump(await readFile(file, 'utf8'), file), 'replace');
    } catch (err) {
      if (isKubesftpError(err) && err.code !== ErrorCode.INVALID_ARGUMENT) throw err;
      throw unreadableDump(file, err);
    }
  }

  async checkAvailability(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    return Promise.resolve();
  }
}
