import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Server as Ssh2Server } from './ssh2-server-parts.js';
import type { Algorithms, ClientInfo, Connection, ServerConfig } from 'ssh2';
import type { Logger } from 'pino';
import type { DataProvider, User } from '../dataprovider/types.js';
import type { CommandService } from '../commands/dispatcher.js';
import type { HostEvent } from '../defender/index.js';
import { optimizeFromNow } from '../optimizing-compiler.js';
import { normalizeClientIp } from '../session/ip-ranges.js';
import type { ConnectionRegistry } from '../session/registry.js';
import type { Protocol } from '../session/types.js';
import type { SftpLimits } from '../sftp/context.js';
import { Authenticator, type AuthFailure, type FailureCause } from './authenticate.js';
import { ClientSession, type OpenUserFs } from './client-session.js';
import {
  ConnectionGate,
  type ConnectionLimits,
  type GateDefender,
  type GateTicket,
} from './connection-gate.js';
import { coalesceWrites } from './write-coalescing.js';

export interface SshSettings {
  bindAddress: string;
  bindPort: number;
  /** 0 disables the idle timeout. */
  idleTimeoutMs: number;
  /** Negative means unlimited. */
  maxAuthTries: number;
  loginGraceMs: number;
  /** The identification string (software version part) sent to clients. */
  ident: string;
  /** Text shown to the client before authentication, if any. */
  loginBanner?: string;
  algorithms?: Algorithms;
  /** Window granted on each channel; larger windows keep fast uploads streaming. */
  channelWindowSize: number;
  hostKeys: Buffer[];
  /** Checked at TCP accept, before ssh2 reads a byte. */
  connectionLimits: ConnectionLimits;
  /** Session channels one connection may have open at once. */
  maxChannelsPerConnection: number;
  /** Bounds of each SFTP session. */
  sftpLimits: Pick<SftpLimits, 'maxOpenHandles' | 'maxInFlightBytes'>;
}

/** Sessions counted for max_sessions across processes (ClusterSessions). */
export interface LoginSessions {
  /** Claims the session of a login; false when the user has none left. */
  claim(
    user: User,
    connection: { connectionId: string; clientIp: string; protocol: Protocol },
  ): Promise<boolean>;
  /** What the connection reports as its protocol changed: its session row follows. */
  setProtocol(connectionId: string, protocol: Protocol): void;
  /** The connection is gone; idempotent. */
  end(connectionId: string): void;
}

/** What the SSH server asks of the brute-force defender. */
export interface SshDefender extends GateDefender {
  /** Resolves true when the address is banned after the event. */
  record(ip: string, event: HostEvent): Promise<boolean>;
}

export interface SshServerDeps {
  settings: SshSettings;
  provider: DataProvider;
  registry: ConnectionRegistry;
  sessions: LoginSessions;
  logger: Logger;
  openUserFs: OpenUserFs;
  /** Serves exec requests; without it every command is refused. */
  commands?: CommandService;
  onConnectionFailed(failure: AuthFailure & { clientIp: string }): void;
  /** Every refused login attempt, by cause (metrics). */
  onLoginFailure?(cause: FailureCause): void;
  /** Without one, nothing is blocked, banned or scored. */
  defender?: SshDefender;
  /** The max_startups draw, uniform in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
  /**
   * Set in a primary with workers: an admitted socket goes to a worker, still paused, instead
   * of being served here; the ticket is released when the worker reports it closed.
   */
  handOff?: (socket: Socket, ticket: GateTicket) => void;
}

export interface SshServer {
  listen(): Promise<AddressInfo>;
  /** Stops accepting new connections; running ones go on. */
  stopAccepting(): Promise<void>;
  /** Serves a socket another process accepted and admitted (a worker's sockets). */
  serveSocket(socket: Socket, ticket: GateTicket): void;
}

/** A connection that has not logged in yet; the grace timer ends it from the TCP accept on. */
interface PendingLogin {
  socket: Socket;
  timer: NodeJS.Timeout;
  authTried: boolean;
  ticket: GateTicket;
  /** Stops the timer and forgets the socket: it logged in, or it is gone. */
  settle(): void;
}

/** Failures that count against the client address; the others are not guessing. */
const DEFENDER_EVENTS: Partial<Record<FailureCause, HostEvent>> = {
  unknown_user: 'invalid_user',
  bad_credentials: 'failed_login',
};

const socketKey = (address: string | undefined, port: number | undefined): string =>
  `${address ?? ''}:${port ?? ''}`;

/** What the listener's helpers share. */
interface ListenerState {
  deps: SshServerDeps;
  ssh: Ssh2Server;
  gate: ConnectionGate;
  pending: Map<string, PendingLogin>;
  stopping: boolean;
}

export function createSshServer(deps: SshServerDeps): SshServer {
  const { settings } = deps;
  const config: ServerConfig & { channelWindowSize?: number } = {
    hostKeys: settings.hostKeys,
    ident: settings.ident,
    banner: settings.loginBanner,
    algorithms: settings.algorithms,
    channelWindowSize: settings.channelWindowSize,
  };
  const pending = new Map<string, PendingLogin>();
  const state: ListenerState = {
    deps,
    pending,
    stopping: false,
    ssh: new Ssh2Server(config, (client, info) =>
      acceptClient({ deps, client, info, pending: pending.get(socketKey(info.ip, info.port)) }),
    ),
    gate: new ConnectionGate({
      limits: settings.connectionLimits,
      defender: deps.defender,
      random: deps.random,
      onDefenderError: (err) => deps.logger.warn({ err }, 'defender unavailable'),
    }),
  };
  // Our own listener: ssh2 reports a client only once it has sent its identification, so a
  // client that sends nothing would otherwise hold its socket forever; and the gate decides
  // before ssh2 spends anything on a newcomer.
  const listener = createServer({ pauseOnConnect: deps.handOff !== undefined }, (socket) => {
    optimizeFromNow();
    // Until ssh2 takes the socket, a reset must not become an uncaught error.
    socket.on('error', () => undefined);
    admitSocket(state, socket).catch((err: unknown) => {
      deps.logger.error({ err }, 'unable to admit a connection');
      socket.destroy();
    });
  });
  listener.on('error', (err: Error) => deps.logger.error({ err }, 'ssh listener error'));
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(settings.bindPort, settings.bindAddress || undefined, () => {
          listener.off('error', reject);
          resolve(listener.address() as AddressInfo);
        });
      }),
    stopAccepting: () =>
      new Promise((resolve) => {
        state.stopping = true;
        listener.close(() => resolve());
        // Logins still in progress are refused too; sessions already open get the grace period.
        for (const login of pending.values()) login.socket.destroy();
      }),
    serveSocket: (socket, ticket) => {
      optimizeFromNow();
      if (state.stopping) {
        ticket.release();
        socket.destroy();
        return;
      }
      serveAdmitted(state, { socket, ticket });
    },
  };
}

/** Serves the socket if the gate admits it; otherwise logs why and closes it. */
async function admitSocket(state: ListenerState, socket: Socket): Promise<void> {
  const clientIp = normalizeClientIp(socket.remoteAddress ?? '');
  const admission = await state.gate.admit(clientIp);
  if (!admission.admitted || state.stopping) {
    if (admission.admitted) admission.ticket.release();
    const reason = admission.admitted ? 'shutting down' : admission.reason;
    state.deps.logger.warn({ client_ip: clientIp, reason }, 'connection refused');
    socket.destroy();
    return;
  }
  if (socket.destroyed) return admission.ticket.release();
  if (state.deps.handOff !== undefined) return state.deps.handOff(socket, admission.ticket);
  serveAdmitted(state, { socket, ticket: admission.ticket });
}

/** Runs SSH on an admitted socket. */
function serveAdmitted(
  state: ListenerState,
  admitted: { socket: Socket; ticket: GateTicket },
): void {
  const { socket, ticket } = admitted;
  const clientIp = normalizeClientIp(socket.remoteAddress ?? '');
  trackLogin(state, { socket, clientIp, ticket });
  coalesceWrites(socket);
  state.ssh.injectSocket(socket);
}

/** Starts the login grace timer of an admitted socket and counts it until it closes. */
function trackLogin(
  state: ListenerState,
  admitted: { socket: Socket; clientIp: string; ticket: GateTicket },
): void {
  const { deps, pending } = state;
  const { socket, clientIp, ticket } = admitted;
  const key = socketKey(socket.remoteAddress, socket.remotePort);
  const login: PendingLogin = {
    socket,
    ticket,
    authTried: false,
    settle: () => {
      clearTimeout(login.timer);
      pending.delete(key);
    },
    timer: setTimeout(() => {
      if (!login.authTried) {
        deps.onConnectionFailed(noAuthFailure(clientIp, 'login grace time exceeded'));
      }
      socket.destroy();
    }, deps.settings.loginGraceMs),
  };
  pending.set(key, login);
  socket.once('close', () => {
    login.settle();
    ticket.release();
    if (!login.authTried && !state.stopping) void recordEvent(deps, clientIp, 'no_auth');
  });
}

/** Scores an event; resolves true when the address is banned now. Errors only get logged. */
async function recordEvent(
  deps: SshServerDeps,
  clientIp: string,
  event: HostEvent,
): Promise<boolean> {
  if (deps.defender === undefined) return false;
  try {
    return await deps.defender.record(clientIp, event);
  } catch (err) {
    deps.logger.warn({ err, client_ip: clientIp }, 'defender unavailable');
    return false;
  }
}

function acceptClient(options: {
  deps: SshServerDeps;
  client: Connection;
  info: ClientInfo;
  pending: PendingLogin | undefined;
}): void {
  const { deps, client, info, pending } = options;
  const clientIp = normalizeClientIp(info.ip);
  const connectionId = randomBytes(8).toString('hex');
  const log = deps.logger.child({ connection_id: connectionId });
  const auth = new Authenticator({
    provider: deps.provider,
    clientIp,
    maxAttempts: deps.settings.maxAuthTries,
    claimSession: (user) => deps.sessions.claim(user, { connectionId, clientIp, protocol: 'SFTP' }),
    onFailure: (failure, cause) => {
      deps.onConnectionFailed({ ...failure, clientIp });
      deps.onLoginFailure?.(cause);
      const event = DEFENDER_EVENTS[cause];
      if (event === undefined) return;
      void recordEvent(deps, clientIp, event).then((banned) => {
        if (!banned) return;
        log.info({ client_ip: clientIp }, 'closing the connection of a banned address');
        client.end();
      });
    },
    onTooManyAttempts: () => client.end(),
  });
  client.on('authentication', (ctx) => {
    if (ctx.method !== 'none' && pending) pending.authTried = true;
    auth.handle(ctx).catch((err: unknown) => log.error({ err }, 'authentication failed'));
  });
  client.on('ready', () => {
    pending?.settle();
    pending?.ticket.loggedIn();
    const user = auth.user;
    if (user === undefined) return client.end();
    const clientVersion = info.header.identRaw;
    new ClientSession({ deps, client, user, connectionId, clientIp, clientVersion, log }).start();
  });
  client.on('error', (err) => log.debug({ err }, 'client connection error'));
  // A connection that never reached its session: the registry will not report it gone.
  client.once('close', () => {
    if (!deps.registry.has(connectionId)) deps.sessions.end(connectionId);
  });
}

function noAuthFailure(clientIp: string, error: string): AuthFailure & { clientIp: string } {
  return { username: '', loginType: 'no_auth_tryed', error, clientIp };
}
