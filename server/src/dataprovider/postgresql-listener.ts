/**
 * The PostgreSQL side of change notification: one connection of its own, outside the pool,
 * LISTENing on the channel the users table's triggers notify. It reconnects with backoff
 * when the connection drops (a restart, a failover, an outage) and says so, because what was
 * notified meanwhile is lost: the server then looks for itself.
 */
import pg from 'pg';
import type { UserChangeFeed, UserChangeHandlers } from './types.js';

/** The channel of sql/postgresql/20261201.sql's triggers; the payload is a username. */
export const USER_CHANGES_CHANNEL = 'kubesftp_user_changes';

export interface ListenerTiming {
  /** First reconnection delay; it doubles up to maxRetryMs. */
  retryMs: number;
  maxRetryMs: number;
  /** A query this often proves the connection alive: a silent one drops no error by itself. */
  pingMs: number;
}

const DEFAULT_TIMING: ListenerTiming = { retryMs: 250, maxRetryMs: 5_000, pingMs: 10_000 };

class UserChangeListener implements UserChangeFeed {
  readonly #config: pg.ClientConfig;
  readonly #handlers: UserChangeHandlers;
  readonly #timing: ListenerTiming;
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #ping: NodeJS.Timeout | undefined;
  #attempt = 0;
  #closed = false;

  constructor(config: pg.ClientConfig, handlers: UserChangeHandlers, timing: ListenerTiming) {
    this.#config = { ...config, keepAlive: true };
    this.#handlers = handlers;
    this.#timing = timing;
  }

  async connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.#config);
    this.#client = client;
    client.on('notification', (message) => {
      if (message.channel === USER_CHANGES_CHANNEL && message.payload) {
        this.#handlers.changed(message.payload);
      }
    });
    client.on('error', (err) => this.#dropped(client, err));
    client.on('end', () => this.#dropped(client, new Error('the listening connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${USER_CHANGES_CHANNEL}`);
    } catch (err) {
      this.#dropped(client, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.#client !== client) return;
    this.#attempt = 0;
    this.#ping = setInterval(() => {
      client.query('SELECT 1').catch((err: Error) => this.#dropped(client, err));
    }, this.#timing.pingMs);
    this.#ping.unref();
    this.#handlers.connected();
  }

  #dropped(client: pg.Client, err: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    clearInterval(this.#ping);
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    if (this.#closed) return;
    this.#handlers.disconnected(err);
    const delay = Math.min(this.#timing.retryMs * 2 ** this.#attempt, this.#timing.maxRetryMs);
    this.#attempt += 1;
    this.#retry = setTimeout(() => void this.connect(), delay);
    this.#retry.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearInterval(this.#ping);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/** Starts listening at once; `handlers.connected` says when notifications flow. */
export function listenForUserChanges(
  config: pg.ClientConfig,
  handlers: UserChangeHandlers,
  timing: Partial<ListenerTiming> = {},
): UserChangeFeed {
  const listener = new UserChangeListener(config, handlers, { ...DEFAULT_TIMING, ...timing });
  void listener.connect();
  return listener;
}
