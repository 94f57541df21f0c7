/**
 * Builds the configured data provider. Callers then run `initialize()` once at start.
 */
import { isAbsolute, resolve } from 'node:path';
import { ErrorCode, KubesftpError } from '../errors.js';
import { MemoryProvider } from './memory.js';
import { SqliteProvider } from './sqlite.js';
import type { DataProvider } from './types.js';

export { prepareAdminForStorage, prepareUserForStorage, validateUser } from './validate.js';
export type * from './types.js';

export interface DataProviderConfig {
  driver: string;
  /** For sqlite: the database file, relative to configDir or absolute. */
  name: string;
  configDir: string;
  /** data_provider.users_table; "users" when unset or empty. */
  usersTable?: string;
  /** Overrides the directory of SQL migrations (tests and packaged layouts). */
  migrationsDir?: string;
  [key: string]: unknown;
}

/** Drivers the configuration accepts that this version does not ship yet. */
const PLANNED_DRIVERS = new Set(['postgresql', 'mysql', 'bolt']);

function createSqlite(cfg: DataProviderConfig): DataProvider {
  if (typeof cfg.name !== 'string' || cfg.name === '') {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      'data_provider.name: the sqlite database file is required',
    );
  }
  return new SqliteProvider({
    path: isAbsolute(cfg.name) ? cfg.name : resolve(cfg.configDir, cfg.name),
    usersTable: cfg.usersTable || 'users',
    ...(typeof cfg.migrationsDir === 'string' ? { migrationsDir: cfg.migrationsDir } : {}),
  });
}

export async function createDataProvider(cfg: DataProviderConfig): Promise<DataProvider> {
  switch (cfg.driver) {
    case 'sqlite':
      return Promise.resolve(createSqlite(cfg));
    case 'memory':
      return Promise.resolve(new MemoryProvider());
  }
  const reason = PLANNED_DRIVERS.has(cfg.driver) ? 'is not available yet' : 'is not a known driver';
  throw new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `data_provider.driver: ${JSON.stringify(cfg.driver)} ${reason}`,
  );
}
