import type { Protocol } from './types.js';

export interface ActiveConnection {
  id: string;
  username: string;
  remoteAddress: string;
  clientVersion: string;
  /** SFTP, SCP or SSH: what its channels serve now (it may change while it lives). */
  protocol(): Protocol;
  connectedAt: number;
  lastActivity(): number;
  /** Ends the connection; safe to call more than once. */
  close(): void;
}

export interface RegistryOptions {
  /** A connection left, after its sessions ended (their transfers settled). */
  removed?(id: string): void;
}

/**
 * The connections this process serves: what the REST API lists and closes, what shutdown
 * waits for, and whom a disabled user's connections are. max_sessions is counted in the
 * data provider, across processes (ClusterSessions).
 */
export class ConnectionRegistry {
  readonly #connections = new Map<string, ActiveConnection>();
  readonly #emptyWaiters: (() => void)[] = [];
  readonly #options: RegistryOptions;

  constructor(options: RegistryOptions = {}) {
    this.#options = options;
  }

  add(connection: ActiveConnection): void {
    this.#connections.set(connection.id, connection);
  }

  has(id: string): boolean {
    return this.#connections.has(id);
  }

  remove(id: string): void {
    if (this.#connections.delete(id)) this.#options.removed?.(id);
    if (this.#connections.size === 0) this.#emptyWaiters.splice(0).forEach((resolve) => resolve());
  }

  countFor(username: string): number {
    let count = 0;
    for (const connection of this.#connections.values()) {
      if (connection.username === username) count += 1;
    }
    return count;
  }

  list(): ActiveConnection[] {
    return [...this.#connections.values()];
  }

  close(id: string): boolean {
    const connection = this.#connections.get(id);
    connection?.close();
    return connection !== undefined;
  }

  closeAll(): void {
    for (const connection of this.#connections.values()) connection.close();
  }

  get size(): number {
    return this.#connections.size;
  }

  /** Resolves once no connection is left. */
  drained(): Promise<void> {
    if (this.#connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }
}
