import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { Algorithms, Connection, ServerConfig } from 'ssh2';
import type { Logger } from 'pino';
import type { DataProvider } from '../dataprovider/types.js';
import type { ConnectionRegistry } from '../session/registry.js';
import { normalizeClientIp } from '../session/login.js';
import { Authenticator, type AuthFailure } from './authenticate.js';
import { ClientSession, type OpenUserFs } from './client-session.js';

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

export function createSshServer(deps: SshServerDeps): SshServer {
  const { settings } = deps;
  const config: ServerConfig & { channelWindowSize?: number } = {
    hostKeys: settings.hostKeys,
    ident: settings.ident,
    banner: settings.loginBanner,
    algorithms: settings.algorithms,
    channelWindowSize: settings.channelWindowSize,
  };
  const server = new ssh2.Server(config, (client, info) =>
    acceptClient(deps, client, normalizeClientIp(info.ip), info.header.identRaw),
  );
  server.on('error', (err: Error) => deps.logger.error({ err }, 'ssh listener error'));
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(settings.bindPort, settings.bindAddress || undefined, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    stopAccepting: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function acceptClient(
  deps: SshServerDeps,
  client: Connection,
  clientIp: string,
  clientVersion: string,
): void {
  const connectionId = randomBytes(8).toString('hex');
  const log = deps.logger.child({ connection_id: connectionId });
  let authTried = false;
  const grace = setTimeout(() => {
    if (!authTried) deps.onConnectionFailed(noAuthFailure(clientIp, 'login grace time exceeded'));
    client.end();
  }, deps.settings.loginGraceMs);
  const auth = new Authenticator({
    provider: deps.provider,
    clientIp,
    maxAttempts: deps.settings.maxAuthTries,
    sessionsOf: (username) => deps.registry.countFor(username),
    onFailure: (failure) => deps.onConnectionFailed({ ...failure, clientIp }),
    onTooManyAttempts: () => client.end(),
  });
  client.on('authentication', (ctx) => {
    if (ctx.method !== 'none') authTried = true;
    auth.handle(ctx).catch((err: unknown) => log.error({ err }, 'authentication failed'));
  });
  client.on('ready', () => {
    clearTimeout(grace);
    const user = auth.user;
    if (user === undefined) return client.end();
    const session = new ClientSession({
      deps,
      client,
      user,
      connectionId,
      clientIp,
      clientVersion,
      log,
    });
    session.start();
  });
  client.on('error', (err) => log.debug({ err }, 'client connection error'));
  client.on('close', () => clearTimeout(grace));
}

function noAuthFailure(clientIp: string, error: string): AuthFailure & { clientIp: string } {
  return { username: '', loginType: 'no_auth_tryed', error, clientIp };
}
