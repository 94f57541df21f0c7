import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { Algorithms, ClientInfo, Connection, ServerConfig } from 'ssh2';
import type { Logger } from 'pino';
import type { DataProvider } from '../dataprovider/types.js';
import type { ConnectionRegistry } from '../session/registry.js';
import { normalizeClientIp } from '../session/login.js';
import { Authenticator, type AuthFailure } from './authenticate.js';
import { ClientSession, type OpenUserFs } from './client-session.js';
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
}

export interface SshServerDeps {
  settings: SshSettings;
  provider: DataProvider;
  registry: ConnectionRegistry;
  logger: Logger;
  openUserFs: OpenUserFs;
  onConnectionFailed(failure: AuthFailure & { clientIp: string }): void;
}

export interface SshServer {
  listen(): Promise<AddressInfo>;
  /** Stops accepting new connections; running ones go on. */
  stopAccepting(): Promise<void>;
}

/** A connection that has not logged in yet; the grace timer ends it from the TCP accept on. */
interface PendingLogin {
  socket: Socket;
  timer: NodeJS.Timeout;
  authTried: boolean;
  /** Stops the timer and forgets the socket: it logged in, or it is gone. */
  settle(): void;
}

const socketKey = (address: string | undefined, port: number | undefined): string =>
  `${address ?? ''}:${port ?? ''}`;

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
  const ssh = new ssh2.Server(config, (client, info) =>
    acceptClient({ deps, client, info, pending: pending.get(socketKey(info.ip, info.port)) }),
  );
  // Our own listener: ssh2 reports a client only once it has sent its identification, so a
  // client that sends nothing would otherwise hold its socket forever.
  const listener = createServer((socket) => {
    const key = socketKey(socket.remoteAddress, socket.remotePort);
    const login: PendingLogin = {
      socket,
      authTried: false,
      settle: () => {
        clearTimeout(login.timer);
        pending.delete(key);
      },
      timer: setTimeout(() => {
        if (!login.authTried) {
          const clientIp = normalizeClientIp(socket.remoteAddress ?? '');
          deps.onConnectionFailed(noAuthFailure(clientIp, 'login grace time exceeded'));
        }
        socket.destroy();
      }, settings.loginGraceMs),
    };
    pending.set(key, login);
    socket.once('close', () => login.settle());
    coalesceWrites(socket);
    ssh.injectSocket(socket);
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
        listener.close(() => resolve());
        // Logins still in progress are refused too; sessions already open get the grace period.
        for (const login of pending.values()) login.socket.destroy();
      }),
  };
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
    sessionsOf: (username) => deps.registry.countFor(username),
    onFailure: (failure) => deps.onConnectionFailed({ ...failure, clientIp }),
    onTooManyAttempts: () => client.end(),
  });
  client.on('authentication', (ctx) => {
    if (ctx.method !== 'none' && pending) pending.authTried = true;
    auth.handle(ctx).catch((err: unknown) => log.error({ err }, 'authentication failed'));
  });
  client.on('ready', () => {
    pending?.settle();
    const user = auth.user;
    if (user === undefined) return client.end();
    const clientVersion = info.header.identRaw;
    new ClientSession({ deps, client, user, connectionId, clientIp, clientVersion, log }).start();
  });
  client.on('error', (err) => log.debug({ err }, 'client connection error'));
}

function noAuthFailure(clientIp: string, error: string): AuthFailure & { clientIp: string } {
  return { username: '', loginType: 'no_auth_tryed', error, clientIp };
}
