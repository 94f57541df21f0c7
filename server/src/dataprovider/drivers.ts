/**
 * Opens the configured driver. Each driver module is imported only when chosen, so this
 * factory (like the rest of the seam) loads no native module unless sqlite is picked. The
 * server wraps the result in `hashingPasswords` (index.ts); callers then run `initialize()`.
 */
import { isAbsolute, resolve } from 'node:path';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { DataProvider } from './types.js';
import type { NetworkOptions } from './network-options.js';

export interface DataProviderConfig {
  driver: string;
  /**
   * sqlite, kv: the database file; memory: a .json dump to load, if any; SQL servers: the
   * database.
   */
  name: string;
  /** The base of relative file names. */
  configDir: string;
  /** data_provider.users_table; "users" when unset or empty. */
  usersTable?: string;
  /** Overrides the directory of SQL migrations (tests and packaged layouts). */
  migrationsDir?: string;
  /** host, port, username, password, sslmode, connection_string and pool_size. */
  network?: Partial<NetworkOptions>;
}

function configInvalid(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.CONFIG_INVALID, message);
}

function filePath(cfg: DataProviderConfig): string {
  return isAbsolute(cfg.name) ? cfg.name : resolve(cfg.configDir, cfg.name);
}

function requireFileName(cfg: DataProviderConfig, what: string): void {
  if (cfg.name === '') throw configInvalid(`data_provider.name: the ${what} file is required`);
}

async function openSqlite(cfg: DataProviderConfig): Promise<DataProvider> {
  requireFileName(cfg, 'sqlite database');
  const { SqliteProvider } = await import('./sqlite.js');
  return new SqliteProvider({
    path: filePath(cfg),
    usersTable: cfg.usersTable || 'users',
    ...(cfg.migrationsDir === undefined ? {} : { migrationsDir: cfg.migrationsDir }),
  });
}

/** The LMDB file of the key/value driver; `bolt`, SFTPGo's name for its embedded store, opens it too. */
async function openKv(cfg: DataProviderConfig): Promise<DataProvider> {
  requireFileName(cfg, 'kv database');
  const { KvProvider } = await import('./kv.js');
  return new KvProvider({ path: filePath(cfg) });
}

/**
 * The memory driver loads data_provider.name when it names a JSON dump. Any other name (the
 * sqlite default "kubesftp.db" among them) has no meaning for it, as in SFTPGo.
 */
export function isDumpFileName(name: string): boolean {
  return name.toLowerCase().endsWith('.json');
}

async function openMemory(cfg: DataProviderConfig): Promise<DataProvider> {
  const { MemoryProvider } = await import('./memory.js');
  return new MemoryProvider(isDumpFileName(cfg.name) ? { dumpFile: filePath(cfg) } : {});
}

async function openNetwork(cfg: DataProviderConfig): Promise<DataProvider> {
  const { networkOptions } = await import('./network-options.js');
  const common = {
    network: networkOptions(cfg),
    usersTable: cfg.usersTable || 'users',
    ...(cfg.migrationsDir === undefined ? {} : { migrationsDir: cfg.migrationsDir }),
  };
  if (cfg.driver === 'postgresql') {
    const { PostgresProvider } = await import('./postgresql.js');
    return new PostgresProvider(common);
  }
  const { MysqlProvider } = await import('./mysql.js');
  return new MysqlProvider(common);
}

/** The bare driver: it refuses clear-text passwords, so hash them first (hashing.ts). */
export async function openDriver(cfg: DataProviderConfig): Promise<DataProvider> {
  switch (cfg.driver) {
    case 'sqlite':
      return openSqlite(cfg);
    case 'memory':
      return openMemory(cfg);
    case 'kv':
    case 'bolt':
      return openKv(cfg);
    case 'postgresql':
    case 'mysql':
      return openNetwork(cfg);
  }
  throw configInvalid(`data_provider.driver: ${JSON.stringify(cfg.driver)} is not a known driver`);
}
