import type { Connection, ServerChannel, Session } from 'ssh2';
import type { Logger } from 'pino';
import type { User } from '../dataprovider/types.js';
import { serveSftp, type SftpSession } from '../sftp/engine.js';
import type { Protocol } from '../session/types.js';
import type { Vfs } from '../vfs/types.js';
import type { SshServerDeps } from './server.js';
import { releaseIncomingPacket } from './transport-options.js';

/** Builds the policy-wrapped file system one protocol session of `user` works on. */
export type OpenUserFs = (
  user: User,
  session: { connectionId: string; protocol: Protocol; touch(): void },
) => Promise<Vfs>;

interface ClientSessionOptions {
  deps: SshServerDeps;
  client: Connection;
  user: User;
  connectionId: string;
  clientIp: string;
  clientVersion: string;
  log: Logger;
}

/** One authenticated SSH connection: its registry entry, idle timer and channels. */
export class ClientSession {
  readonly #o: ClientSessionOptions;
  readonly #sftpSessions = new Set<SftpSession>();
  #lastActivity = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ClientSessionOptions) {
    this.#o = options;
  }

  start(): void {
    const { deps, client, user, connectionId } = this.#o;
    deps.registry.add({
      id: connectionId,
      username: user.username,
      remoteAddress: this.#o.clientIp,
      clientVersion: this.#o.clientVersion,
      protocol: 'SFTP',
      connectedAt: Date.now(),
      lastActivity: () => this.#lastActivity,
      close: () => this.close(),
    });
    deps.provider
      .updateLastLogin(user.username, Date.now())
      .catch((err: unknown) => this.#o.log.warn({ err }, 'unable to update last login'));
    this.#armIdleTimer();
    this.#o.log.info({ username: user.username, client_ip: this.#o.clientIp }, 'user logged in');
    client.on('session', (accept) => this.#onSession(accept()));
    client.on('close', () => this.#onClose());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.client.end();
  }

  #touch = (): void => {
    this.#lastActivity = Date.now();
  };

  #armIdleTimer(): void {
    const idleMs = this.#o.deps.settings.idleTimeoutMs;
    if (idleMs <= 0) return;
    const check = (): void => {
      const idleFor = Date.now() - this.#lastActivity;
      if (idleFor >= idleMs) {
        this.#o.log.info({ username: this.#o.user.username }, 'closing idle connection');
        this.close();
        return;
      }
      this.#idleTimer = setTimeout(check, idleMs - idleFor);
      this.#idleTimer.unref();
    };
    this.#idleTimer = setTimeout(check, idleMs);
    this.#idleTimer.unref();
  }

  #onSession(session: Session): void {
    session.on('subsystem', (accept, reject, info) => {
      if (info.name !== 'sftp') return reject();
      this.#startSftp(accept()).catch((err: unknown) => {
        this.#o.log.error({ err }, 'unable to start the sftp subsystem');
      });
    });
    // Commands over exec (scp -O, checksums, rsync, git) are not served yet.
    session.on('exec', (_accept, reject) => reject());
    session.on('shell', (_accept, reject) => reject());
    session.on('pty', (_accept, reject) => reject?.());
    session.on('env', (accept) => accept?.());
  }

  async #startSftp(channel: ServerChannel): Promise<void> {
    const { deps, user, connectionId } = this.#o;
    this.#touch();
    const vfs = await deps.openUserFs(user, { connectionId, protocol: 'SFTP', touch: this.#touch });
    const sftp = serveSftp({
      stream: channel,
      vfs,
      logger: this.#o.log,
      username: user.username,
      beforeEnd: () => channel.exit(0),
      releaseChunk: releaseIncomingPacket,
    });
    this.#sftpSessions.add(sftp);
    try {
      await sftp.closed;
    } finally {
      this.#sftpSessions.delete(sftp);
      await vfs.close();
    }
  }

  #onClose(): void {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const pending = [...this.#sftpSessions].map((s) => s.close());
    Promise.allSettled(pending)
      .then(() => this.#o.deps.registry.remove(this.#o.connectionId))
      .catch(() => undefined);
    this.#o.log.info({ username: this.#o.user.username }, 'connection closed');
  }
}
