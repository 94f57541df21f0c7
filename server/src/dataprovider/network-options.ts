/**
 * The data_provider keys of the database-server drivers (postgresql, mysql), checked once and
 * turned into one settings object each driver maps to its client library.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import type { DataProviderConfig } from './drivers.js';

/** 0 plain; 1 TLS without checks; 2 TLS checking the CA; 3 TLS checking the CA and host name. */
export type SslMode = 0 | 1 | 2 | 3;

export interface NetworkOptions {
  host: string;
  port: number;
  /** data_provider.name: the database. */
  database: string;
  username: string;
  password: string;
  sslmode: SslMode;
  /** Used instead of host, port, name, username, password and sslmode when not empty. */
  connectionString: string;
  /** Most open connections per process; 0 sets no limit. */
  poolSize: number;
}

function configInvalid(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.CONFIG_INVALID, message);
}

/** Fills what the config left out and names the key of anything missing. */
export function networkOptions(cfg: DataProviderConfig): NetworkOptions {
  const given = cfg.network ?? {};
  const options: NetworkOptions = {
    host: given.host ?? '',
    port: given.port ?? (cfg.driver === 'mysql' ? 3306 : 5432),
    database: cfg.name,
    username: given.username ?? '',
    password: given.password ?? '',
    sslmode: given.sslmode ?? 0,
    connectionString: given.connectionString ?? '',
    poolSize: given.poolSize ?? 0,
  };
  if (options.connectionString !== '') return options;
  const what = `the ${cfg.driver} driver`;
  if (options.host === '') {
    throw configInvalid(`data_provider.host: ${what} needs a host (or a connection_string)`);
  }
  if (options.database === '') {
    throw configInvalid(`data_provider.name: ${what} needs a database name`);
  }
  if (options.username === '') {
    throw configInvalid(`data_provider.username: ${what} needs a database user`);
  }
  return options;
}

/** What the config's TLS mode asks of a node:tls client; false for plain connections. */
export function tlsSettings(
  sslmode: SslMode,
): false | { rejectUnauthorized: boolean; checkServerIdentity?: () => undefined } {
  switch (sslmode) {
    case 0:
      return false;
    case 1:
      return { rejectUnauthorized: false };
    case 2:
      // The chain must lead to a trusted CA; the name in the certificate is not compared.
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 3:
      return { rejectUnauthorized: true };
  }
}
