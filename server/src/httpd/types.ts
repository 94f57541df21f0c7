import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { ClusterHealthSource } from './health.js';
import type { DataProvider } from '../dataprovider/types.js';
import type { DefenderAdmin } from './defender-routes.js';
import type { TokenDefender } from './public-routes.js';

/** One live SFTP/SCP/SSH connection as the REST API reports it. */
export interface ConnectionInfo {
  connection_id: string;
  username: string;
  client_version: string;
  /** IP and port of the client. */
  remote_address: string;
  /** Unix time in milliseconds. */
  connection_time: number;
  /** Unix time in milliseconds. */
  last_activity: number;
  /** SFTP, SCP or SSH. */
  protocol: string;
  active_transfers: ActiveTransferInfo[];
}

export interface ActiveTransferInfo {
  operation_type: 'upload' | 'download';
  path: string;
  /** Unix time in milliseconds. */
  start_time: number;
  size: number;
}

/** The session registry seen from the HTTP side: list the live connections, close one. */
export interface ActiveConnections {
  list(): ConnectionInfo[] | Promise<ConnectionInfo[]>;
  /** Returns false when no connection has that id. */
  close(connectionId: string): boolean | Promise<boolean>;
}

/** The `httpd` configuration section keys this server reads. */
export interface HttpdConfig {
  bind_port: number;
  /** Empty listens on every interface. */
  bind_address: string;
  /** Lifetime of an admin access token in seconds. */
  admin_token_ttl?: number;
  /** Token requests per minute per client address; 0 means no limit. */
  token_rate_limit?: number;
  /** When set, a user created or updated without a home_dir gets `<users_base_dir>/<username>`. */
  users_base_dir?: string;
  /** data_provider.manage_users: 0 makes the user routes read-only. */
  manage_users?: 0 | 1;
}

export interface HttpServerDeps {
  provider: DataProvider;
  logger: FastifyBaseLogger;
  config: HttpdConfig;
  connections?: ActiveConnections;
  /** Without one, the defender routes list nothing and token requests are not scored. */
  defender?: DefenderAdmin & TokenDefender;
  version: string;
  /** Where /metrics reads from; a fresh registry with process metrics when absent. */
  metricsRegistry?: Registry;
  /** What /metrics answers instead of the registry's own text (a primary with workers). */
  metricsText?: () => Promise<string>;
  /** Cross-process state that /healthz reports; the provider alone when absent. */
  cluster?: ClusterHealthSource;
}

export interface HttpServer {
  listen(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The admin whose token authorized the request; set on every route behind the token check. */
    adminUsername: string;
  }
}
