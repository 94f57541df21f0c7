import type { AcceptConnection, Connection, RejectConnection, ServerChannel, Session } from 'ssh2';
import type { Logger } from 'pino';
import type { User } from '../dataprovider/types.js';
import { serveSftp, type SftpSession } from '../sftp/engine.js';
import { SessionBandwidth } from '../session/bandwidth.js';
import { resolveLimits } from '../sftp/context.js';
import { processPendingBudget } from '../sftp/pending-budget.js';
import type { Protocol, SessionRef } from '../session/types.js';
import type { Vfs } from '../vfs/types.js';
import type { SshServerDeps } from './server.js';
import { InputHolds } from './input-holds.js';
import { connectionSocket, releaseIncomingPacket } from './transport-options.js';

/** Builds the policy-wrapped file system one protocol session of `user` works on. */
export type OpenUserFs = (user: User, session: SessionRef) => Promise<Vfs>;

interface ClientSessionOptions {
  deps: SshServerDeps;
  client: Connection;
  user: User;
  connectionId: string;
  clientIp: string;
  clientVersion: string;
  log: Logger;
}

/** What the client sees when it asks for a command and the server runs none. */
export const COMMANDS_UNAVAILABLE = 'kubesftp: this server does not run commands\n';
/** What the client sees when it asks for an interactive shell. */
export const SHELL_UNAVAILABLE = 'kubesftp: interactive shells are not available\n';
const SUBSYSTEM_UNAVAILABLE = 'kubesftp: this server only serves the sftp subsystem\n';
const HOME_UNAVAILABLE = 'kubesftp: your home directory cannot be opened now; try again later\n';

/**
 * Ends a request that cannot be served the way a client reports it: a line on stderr, exit
 * status 1, and the channel closed, so the client exits at once instead of waiting.
 */
function refuseRequest(channel: ServerChannel | undefined, message: string): void {
  if (channel === undefined) return;
  channel.stderr.write(message);
  channel.exit(1);
  channel.end();
}

/** One authenticated SSH connection: its registry entry, idle timer and channels. */
export class ClientSession {
  readonly #o: ClientSessionOptions;
  readonly #sftpSessions = new Set<SftpSession>();
  /** Exec requests running now, by the function that stops each when the connection ends. */
  readonly #commands = new Map<() => void, Promise<void>>();
  /** Session channels open now, bounded by max_channels_per_connection. */
  #openChannels = 0;
  /** The protocols of the channels serving now, oldest first (see #protocol). */
  readonly #serving: Protocol[] = [];
  #lastProtocol: Protocol = 'SFTP';
  /** The account's byte rates, shared by every channel of the connection. */
  readonly #bandwidth: SessionBandwidth;
  /** Reading of the connection, held by its SFTP sessions while over their bytes bounds. */
  readonly #input: InputHolds;
  #lastActivity = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ClientSessionOptions) {
    this.#o = options;
    this.#bandwidth = SessionBandwidth.forUser(options.user);
    this.#input = new InputHolds(connectionSocket(options.client));
  }

  start(): void {
    const { deps, client, user, connectionId } = this.#o;
    deps.registry.add({
      id: connectionId,
      username: user.username,
      remoteAddress: this.#o.clientIp,
      clientVersion: this.#o.clientVersion,
      protocol: () => this.#protocol(),
      connectedAt: Date.now(),
      lastActivity: () => this.#lastActivity,
      close: () => this.close(),
    });
    deps.provider
      .updateLastLogin(user.username, Date.now())
      .catch((err: unknown) => this.#o.log.warn({ err }, 'unable to update last login'));
    this.#armIdleTimer();
    this.#o.log.info({ username: user.username, client_ip: this.#o.clientIp }, 'user logged in');
    client.on('session', (accept, reject) => this.#openSession(accept, reject));
    client.on('close', () => this.#onClose());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.client.end();
  }

  /**
   * What the connection reports as its protocol (REST connection list): that of its newest
   * channel still serving (SFTP, or SCP and SSH for commands, as the spec's server reports
   * them), else of the last one that served; SFTP before any channel opened.
   */
  #protocol(): Protocol {
    return this.#serving.at(-1) ?? this.#lastProtocol;
  }

  /**
   * Counts a channel serving `protocol` until the returned function is called. The session
   * row in the data provider reports what the connection list does.
   */
  #serve(protocol: Protocol): () => void {
    const before = this.#protocol();
    this.#serving.push(protocol);
    this.#lastProtocol = protocol;
    this.#protocolMayHaveChanged(before);
    return () => {
      const at = this.#serving.lastIndexOf(protocol);
      if (at < 0) return;
      const was = this.#protocol();
      this.#serving.splice(at, 1);
      this.#protocolMayHaveChanged(was);
    };
  }

  #protocolMayHaveChanged(before: Protocol): void {
    const now = this.#protocol();
    if (now !== before) this.#o.deps.sessions.setProtocol(this.#o.connectionId, now);
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

  #openSession(accept: AcceptConnection<Session>, reject: RejectConnection): void {
    const max = this.#o.deps.settings.maxChannelsPerConnection;
    if (this.#openChannels >= max) {
      this.#o.log.info({ max_channels: max }, 'session channel refused: too many open');
      return reject();
    }
    this.#openChannels += 1;
    const session = accept();
    session.once('close', () => (this.#openChannels -= 1));
    this.#serveRequests(session);
  }

  #serveRequests(session: Session): void {
    session.on('subsystem', (accept, _reject, info) => {
      const channel = accept();
      if (info.name !== 'sftp') return refuseRequest(channel, SUBSYSTEM_UNAVAILABLE);
      this.#startSftp(channel).catch((err: unknown) => {
        this.#o.log.error({ err }, 'unable to start the sftp subsystem');
      });
    });
    session.on('exec', (accept, _reject, info) =>
      this.#startCommand({ session, channel: accept(), commandLine: info.command }),
    );
    session.on('shell', (accept) => refuseRequest(accept(), SHELL_UNAVAILABLE));
    session.on('pty', (_accept, reject) => reject?.());
    session.on('x11', (_accept, reject) => reject?.());
    session.on('auth-agent', (_accept, reject) => reject?.());
    // Nothing a client sets reaches a command: system binaries get a fixed environment.
    session.on('env', (_accept, reject) => reject?.());
  }

  async #startSftp(channel: ServerChannel | undefined): Promise<void> {
    if (channel === undefined) return;
    const vfs = await this.#openFs().catch((err: unknown) => {
      this.#o.log.error({ err, username: this.#o.user.username }, 'unable to open the user home');
      refuseRequest(channel, HOME_UNAVAILABLE);
    });
    if (vfs === undefined) return;
    const served = this.#serve('SFTP');
    const limits = this.#o.deps.settings.sftpLimits;
    const bound = resolveLimits(limits).maxInFlightBytes;
    const sftp = serveSftp({
      stream: channel,
      vfs,
      limits: { ...limits, maxInFlightBytes: this.#bandwidth.uploadPendingBound(bound) },
      pendingBudget: processPendingBudget(bound),
      logger: this.#o.log.child({ protocol: 'SFTP' }),
      username: this.#o.user.username,
      beforeEnd: () => channel.exit(0),
      releaseChunk: releaseIncomingPacket,
      input: this.#input,
    });
    this.#sftpSessions.add(sftp);
    try {
      await sftp.closed;
    } finally {
      served();
      this.#sftpSessions.delete(sftp);
      await vfs.close();
    }
  }

  #startCommand(exec: {
    session: Session;
    channel: ServerChannel | undefined;
    commandLine: string;
  }): void {
    const { session, channel, commandLine } = exec;
    if (channel === undefined) return;
    const commands = this.#o.deps.commands;
    if (commands === undefined) return refuseRequest(channel, COMMANDS_UNAVAILABLE);
    this.#touch();
    const protocol = commands.protocolOf(commandLine);
    const served = this.#serve(protocol);
    const log = this.#o.log.child({ protocol });
    const controller = new AbortController();
    // The session reports the client's close at once; the channel only once its input was
    // read to the end, which a command busy writing may never do. Destroying the channel
    // fails whatever the command still waits for, so it unwinds.
    const abort = (): void => {
      if (controller.signal.aborted) return;
      controller.abort();
      channel.destroy();
    };
    channel.on('error', (err: Error) => log.debug({ err }, 'exec channel error'));
    session.once('close', abort);
    channel.once('close', abort);
    const running = commands
      .run({
        commandLine,
        io: {
          input: channel,
          output: channel,
          errors: channel.stderr,
          closed: controller.signal,
          releaseInput: releaseIncomingPacket,
        },
        user: this.#o.user,
        connectionId: this.#o.connectionId,
        touch: this.#touch,
        bandwidth: this.#bandwidth,
        log,
        signal: controller.signal,
      })
      .catch((err: unknown) => {
        log.error({ err }, 'ssh command ended with an error');
        return 1;
      })
      .then((status) => {
        // The client may already be gone; exit and end are then no-ops worth skipping.
        if (controller.signal.aborted) return;
        session.off('close', abort);
        channel.off('close', abort);
        channel.exit(status);
        channel.end();
      })
      .finally(() => {
        served();
        this.#commands.delete(abort);
      });
    this.#commands.set(abort, running);
  }

  #openFs(): Promise<Vfs> {
    const { deps, user, connectionId } = this.#o;
    this.#touch();
    return deps.openUserFs(user, {
      connectionId,
      protocol: 'SFTP',
      touch: this.#touch,
      bandwidth: this.#bandwidth,
    });
  }

  #onClose(): void {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    // Transfers waiting for their turn fail now rather than after their delay.
    this.#bandwidth.close();
    const pending = [...this.#sftpSessions].map((s) => s.close());
    for (const [stop, running] of this.#commands) {
      stop();
      pending.push(running);
    }
    Promise.allSettled(pending)
      .then(() => this.#o.deps.registry.remove(this.#o.connectionId))
      .catch(() => undefined);
    this.#o.log.info({ username: this.#o.user.username }, 'connection closed');
  }
}
