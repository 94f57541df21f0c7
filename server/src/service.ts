/**
 * Composes the running server from its parts: data provider, first admin, host keys, SSH
 * listener, HTTP listener. Built in one place and passed down, so tests can start several
 * independent services in one process.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createServerActions, type ServerActions } from './actions/index.js';
import { CommandService } from './commands/dispatcher.js';
import {
  effectiveBanner,
  effectiveMaxAuthTries,
  effectiveSshCommands,
  umaskValue,
} from './config/effective.js';
import type { LoadedConfig } from './config/load.js';
import { resolveConfigPaths } from './config/paths.js';
import { providerSettings, secretKeySettings } from './dataprovider/from-config.js';
import { createDataProvider, secretBoxFor, type SecretBox } from './dataprovider/index.js';
import type { DataProvider, User } from './dataprovider/types.js';
import { createDefender, type Defender } from './defender/index.js';
import { HomeSweeper, registerHomeRemovalMetrics } from './homes/sweeper.js';
import { ensureAdmin } from './httpd/first-admin.js';
import { createHttpServer } from './httpd/listener.js';
import {
  countTransfers,
  createMetricsRegistry,
  registerServerMetrics,
  type ServerMetrics,
} from './httpd/metrics.js';
import type { ActiveConnections } from './httpd/types.js';
import type { Registry } from 'prom-client';
import { afterReplies } from './session/after-replies.js';
import { ClusterSessions } from './session/cluster.js';
import { ConnectionRegistry } from './session/registry.js';
import { sweepS3Uploads } from './vfs/backends.js';
import { assertProcFdAvailable } from './vfs/fd.js';
import type { SessionEvents, SessionRef } from './session/types.js';
import {
  openUserFs,
  systemCommandPolicy,
  type UserFsSettings,
  type UserSessionOptions,
} from './session/user-fs.js';
import { buildAlgorithms } from './ssh/algorithms.js';
import type { AuthFailure } from './ssh/authenticate.js';
import { parseMaxStartups } from './ssh/connection-gate.js';
import { loadOrCreateHostKeys } from './ssh/hostkeys.js';
import { createSshServer, type SshServer, type SshServerDeps } from './ssh/server.js';
import { assertTransportPatchApplied, nativeCryptoAvailable } from './ssh/transport-options.js';
import { StartedParts, listenFailure } from './startup.js';
import { versionString } from './version.js';
import { workerMetricsText } from './workers/metrics.js';
import type { ClusterView } from './workers/pool.js';
import { createWorkerPool, plannedWorkers, startWorkers } from './workers/primary.js';

export interface ServiceLogging {
  /** An app logger whose lines carry `sender: component`. */
  component(sender: string): Logger;
  events: SessionEvents;
  connectionFailed(failure: AuthFailure & { clientIp: string }): void;
}

export interface RunningService {
  sftpPort: number;
  httpPort: number | undefined;
  registry: ConnectionRegistry;
  /** Refuses new connections, gives running ones `graceMs`, then closes everything. */
  shutdown(graceMs: number): Promise<void>;
}

export interface StartServiceOptions {
  loaded: LoadedConfig;
  logging: ServiceLogging;
  adminPassword?: string;
  /** Runs once the provider is ready, before any listener opens (portable mode adds its user). */
  seed?: (provider: DataProvider) => Promise<void>;
  /** Where the generated admin password is shown, once; never the log. */
  announce(text: string): void;
  /** Throws when the ssh2 patch is missing; tests replace it. */
  checkTransport?: () => void;
}

/** How long a shutdown waits for actions still queued or running (their own limit is 30 s). */
export const ACTIONS_SETTLE_MS = 5_000;

/** How long a drain waits, once it closed what the grace period left, for it and the listener. */
const CLOSED_WAIT_MS = 5_000;

/**
 * Starts every part or none: a part that cannot start (provider, host keys, a listener)
 * closes the parts already started, and its error reaches the caller.
 */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { loaded, logging } = options;
  const log = logging.component('service');
  for (const warning of loaded.warnings) log.warn({ key: warning.key }, warning.message);
  log.info(
    { native_crypto: nativeCryptoAvailable(), version: versionString() },
    'starting kubesftp',
  );
  (options.checkTransport ?? assertTransportPatchApplied)();
  // Local homes are confined through /proc/self/fd; without it no user could be served safely.
  await assertProcFdAvailable();
  const started = new StartedParts(log);
  try {
    return await startParts({ ...options, log, started });
  } catch (err) {
    await started.closeAll();
    throw err;
  }
}

export async function openProvider(
  loaded: LoadedConfig,
  started: StartedParts,
  log: Logger,
): Promise<DataProvider> {
  const { config, configDir } = loaded;
  const provider = await createDataProvider(
    providerSettings(config.data_provider, configDir),
    secretKeySettings(config.secrets, configDir),
  );
  started.add('data provider', () => provider.close());
  await provider.initialize();
  log.info({ driver: provider.driver }, 'data provider ready');
  return provider;
}

async function listenSftp(ssh: SshServer, config: LoadedConfig['config']): Promise<AddressInfo> {
  try {
    return await ssh.listen();
  } catch (err) {
    const { bind_address: address, bind_port: port } = config.sftpd;
    throw listenFailure({ section: 'sftpd', address, port }, err);
  }
}

async function startParts(
  options: StartServiceOptions & { log: Logger; started: StartedParts },
): Promise<RunningService> {
  const { loaded, logging, log, started } = options;
  const { config } = loaded;
  const workers = await plannedWorkers(loaded);
  const provider = await openProvider(loaded, started, log);
  const admin = await ensureAdmin(provider, { password: options.adminPassword });
  if (admin.created && admin.password !== undefined) {
    options.announce(`Created the admin account "admin" with password: ${admin.password}\n`);
  }
  await options.seed?.(provider);
  const secrets = secretBoxFor(secretKeySettings(config.secrets, loaded.configDir), provider);
  startUploadSweep({ loaded, provider, secrets, log: logging.component('s3') });

  const { registry, cluster } = startCluster({ loaded, logging, provider, started });
  const pool = createWorkerPool({ count: workers, provider, log: logging.component('workers') });
  const metricsRegistry = createMetricsRegistry();
  const clusterView = pool?.withWorkers(cluster) ?? cluster;
  const metrics = registerServerMetrics(metricsRegistry, clusterView);
  const homes = startHomeSweeper({
    loaded,
    provider,
    secrets,
    nodeId: cluster.nodeId,
    log: logging.component('homes'),
    registry: metricsRegistry,
    started,
  });
  const { ssh, actions, defender } = await startSshSide({
    loaded,
    logging,
    provider,
    registry,
    cluster,
    metricsRegistry,
    metrics,
    secrets,
    handOff: pool?.handOff,
  });
  await startWorkers(pool, started);
  const sftpAddress = await listenSftp(ssh, config);
  started.add('sftp listener', () => ssh.stopAccepting());
  log.info({ address: sftpAddress.address, port: sftpAddress.port }, 'sftp server listening');

  const http =
    config.httpd.bind_port === 0
      ? undefined
      : await startHttp({
          loaded,
          log,
          httpLog: logging.component('httpd'),
          // Accounts written through the REST API run the data_provider actions.
          provider: actions.userProvider(provider),
          registry,
          defender,
          cluster: clusterView,
          metricsRegistry,
          metricsText: workerMetricsText(pool, metricsRegistry),
          connections: pool?.connections(),
        });
  return {
    sftpPort: sftpAddress.port,
    httpPort: http?.port,
    registry,
    async shutdown(graceMs) {
      log.info(
        { grace_ms: graceMs, connections: registry.size },
        'shutting down: refusing new connections',
      );
      await drainConnections(registry, graceMs, { ssh, alongside: () => pool?.drain(graceMs) });
      await http?.close();
      await actions.settle(ACTIONS_SETTLE_MS);
      await homes.stop();
      await cluster.stop();
      await provider.close();
      log.info('stopped');
    },
  };
}

/** The sweep of uploads a killed server left in S3 runs beside the service, never holding it up. */
function startUploadSweep(options: {
  loaded: LoadedConfig;
  provider: DataProvider;
  secrets: SecretBox;
  log: Logger;
}): void {
  const timeout = options.loaded.config.s3.abandoned_upload_timeout;
  if (timeout === 0) return;
  const { log } = options;
  sweepS3Uploads({
    provider: options.provider,
    secrets: options.secrets,
    olderThanMs: timeout * 1000,
    onError: (home, err) =>
      log.warn({ err, username: home.username, bucket: home.bucket }, 'upload sweep failed'),
  })
    .then((swept) => {
      if (swept.homes > 0) log.info(swept, 'abandoned S3 uploads swept');
    })
    .catch((err: unknown) => log.warn({ err }, 'upload sweep failed'));
}

/** Removes the homes of accounts deleted with their data, beside the service. */
function startHomeSweeper(options: {
  loaded: LoadedConfig;
  provider: DataProvider;
  secrets: SecretBox;
  nodeId: string;
  log: Logger;
  registry: Registry;
  started: StartedParts;
}): HomeSweeper {
  const sweeper = new HomeSweeper({
    provider: options.provider,
    nodeId: options.nodeId,
    logger: options.log,
    settings: {
      usersBaseDir: options.loaded.config.data_provider.users_base_dir,
      secrets: options.secrets,
    },
  });
  registerHomeRemovalMetrics(options.registry, sweeper);
  sweeper.start();
  options.started.add('home sweeper', () => sweeper.stop());
  return sweeper;
}

/**
 * Sessions counted and quota reserved in the provider, shared with every other process on
 * it; the registry is this process's view, and a connection leaving it ends its session.
 */
export function startCluster(options: {
  loaded: LoadedConfig;
  logging: ServiceLogging;
  provider: DataProvider;
  started: StartedParts;
}): { registry: ConnectionRegistry; cluster: ClusterSessions } {
  const ended: { cluster?: ClusterSessions } = {};
  const registry = new ConnectionRegistry({ removed: (id) => ended.cluster?.end(id) });
  const cluster = new ClusterSessions({
    provider: options.provider,
    registry,
    logger: options.logging.component('cluster'),
    ttlMs: options.loaded.config.data_provider.session_expiry * 1000,
  });
  ended.cluster = cluster;
  cluster.start();
  options.started.add('cluster sessions', () => cluster.stop());
  options.logging
    .component('cluster')
    .info({ node_id: cluster.nodeId }, 'sessions counted in the data provider');
  return { registry, cluster };
}

/**
 * The parts that serve SSH connections, started alike by the primary and by every worker: the
 * custom actions, the defender, and the SSH server whose sessions report to both.
 */
export async function startSshSide(options: {
  loaded: LoadedConfig;
  logging: ServiceLogging;
  provider: DataProvider;
  registry: ConnectionRegistry;
  cluster: ClusterSessions;
  /** This process's metrics, which the actions and the transfer counters join. */
  metricsRegistry: Registry;
  metrics: ServerMetrics;
  secrets: SecretBox;
  handOff?: SshServerDeps['handOff'];
}): Promise<{ ssh: SshServer; actions: ServerActions; defender: Defender }> {
  const { loaded, logging, provider, metricsRegistry } = options;
  const actions = createServerActions({
    config: loaded.config,
    log: logging.component('actions'),
    registry: metricsRegistry,
  });
  const defender = startDefender({ loaded, logging, provider });
  const ssh = await startSsh({
    loaded,
    logging,
    events: sessionEvents({ logging, registry: metricsRegistry, actions }),
    provider,
    registry: options.registry,
    cluster: options.cluster,
    metrics: options.metrics,
    defender,
    secrets: options.secrets,
    handOff: options.handOff,
  });
  return { ssh, actions, defender };
}

/**
 * Stops taking connections and gives the open ones `graceMs` to end on their own, then closes
 * what is left and waits at most CLOSED_WAIT_MS for it and for the listener to stop.
 * `alongside` drains in the same grace period (a primary's workers), started once the listener
 * stops taking connections.
 */
export async function drainConnections(
  registry: ConnectionRegistry,
  graceMs: number,
  options: { ssh: SshServer; alongside?: () => Promise<void> | undefined },
): Promise<void> {
  const stopped = options.ssh.stopAccepting();
  await Promise.all([options.alongside?.(), Promise.race([registry.drained(), delay(graceMs)])]);
  registry.closeAll();
  await Promise.race([Promise.all([registry.drained(), stopped]), delay(CLOSED_WAIT_MS)]);
}

/**
 * Where sessions report: the log, the transfer counters and the custom actions, each event
 * after the reply that caused it (session/after-replies.ts).
 */
function sessionEvents(options: {
  logging: ServiceLogging;
  registry: Registry;
  actions: ServerActions;
}): SessionEvents {
  const { logging, registry, actions } = options;
  const log = logging.component('sftpd');
  return afterReplies(countTransfers(registry, actions.sessionEvents(logging.events)), (err) =>
    log.error({ err }, 'a session event could not be reported'),
  );
}

async function startSsh(options: {
  loaded: LoadedConfig;
  logging: ServiceLogging;
  events: SessionEvents;
  provider: DataProvider;
  registry: ConnectionRegistry;
  cluster: ClusterSessions;
  metrics: ServerMetrics;
  defender: Defender;
  secrets: SecretBox;
  handOff?: SshServerDeps['handOff'];
}): Promise<SshServer> {
  const { config, configDir } = options.loaded;
  const sftpd = config.sftpd;
  const paths = resolveConfigPaths(configDir, config);
  const hostKeys = await loadOrCreateHostKeys({
    configDir,
    keys: sftpd.keys,
    types: [...sftpd.host_key_types],
    logger: options.logging.component('hostkeys'),
  });
  // The schema admits only these values, so the narrowing casts cannot lie.
  const settings: UserFsSettings = {
    umask: umaskValue(sftpd.umask),
    uploadMode: sftpd.upload_mode as UserFsSettings['uploadMode'],
    setstatMode: sftpd.setstat_mode as UserFsSettings['setstatMode'],
    trackQuota: config.data_provider.track_quota as UserFsSettings['trackQuota'],
    chownAnyId: sftpd.chown_any_id,
    secrets: options.secrets,
  };
  // Every channel of a connection draws on the one quota reservation its session holds.
  const userSession = (user: User, session: SessionRef): UserSessionOptions => ({
    user,
    session,
    quota: options.cluster.quotaFor(session.connectionId),
    events: options.events,
    settings,
  });
  return createSshServer({
    settings: {
      bindAddress: sftpd.bind_address,
      bindPort: sftpd.bind_port,
      idleTimeoutMs: sftpd.idle_timeout * 60_000,
      maxAuthTries: toAttemptLimit(effectiveMaxAuthTries(sftpd.max_auth_tries)),
      loginGraceMs: sftpd.login_grace_time * 1000,
      ident: effectiveBanner(sftpd.banner),
      loginBanner: paths.loginBannerFile
        ? await readFile(paths.loginBannerFile, 'utf8')
        : undefined,
      algorithms: buildAlgorithms(sftpd),
      channelWindowSize: sftpd.channel_window_size,
      hostKeys: hostKeys.map((k) => k.key),
      connectionLimits: {
        maxStartups: parseMaxStartups(sftpd.max_startups),
        maxPerHost: sftpd.max_per_host_connections,
        maxTotal: sftpd.max_total_connections,
      },
      maxChannelsPerConnection: sftpd.max_channels_per_connection,
      sftpLimits: {
        maxOpenHandles: sftpd.max_open_handles,
        maxInFlightBytes: sftpd.max_pending_bytes,
      },
    },
    defender: options.defender,
    provider: options.provider,
    registry: options.registry,
    sessions: options.cluster,
    logger: options.logging.component('sshd'),
    openUserFs: (user, session) => openUserFs(userSession(user, session)),
    commands: new CommandService({
      enabled: effectiveSshCommands(sftpd.enabled_ssh_commands, sftpd.enable_scp),
      events: options.events,
      openFs: (user, session) => openUserFs(userSession(user, session)),
      systemPolicy: (user, session) => systemCommandPolicy(userSession(user, session)),
    }),
    onConnectionFailed: (failure) => options.logging.connectionFailed(failure),
    onLoginFailure: (cause) => options.metrics.loginFailures.inc({ cause }),
    handOff: options.handOff,
  });
}

/** The brute-force defender of the SSH server; a ban is logged once, by the server that set it. */
function startDefender(options: {
  loaded: LoadedConfig;
  logging: ServiceLogging;
  provider: DataProvider;
}): Defender {
  const log = options.logging.component('defender');
  return createDefender({
    config: options.loaded.config.defender,
    provider: options.provider,
    onBan: (ban) =>
      log.warn(
        {
          client_ip: ban.ip,
          ban_time_ms: ban.banMs,
          banned_until: new Date(ban.until).toISOString(),
        },
        'client address banned',
      ),
    onStoreError: (err) => log.warn({ err }, 'defender cleanup failed'),
  });
}

async function startHttp(options: {
  loaded: LoadedConfig;
  log: Logger;
  httpLog: Logger;
  provider: DataProvider;
  registry: ConnectionRegistry;
  defender: Defender;
  cluster: ClusterView;
  metricsRegistry: Registry;
  /** The metrics merged with the workers', where workers serve. */
  metricsText?: () => Promise<string>;
  /** The workers' connections, where workers serve. */
  connections?: ActiveConnections;
}): Promise<{ port: number; close(): Promise<void> }> {
  const { config } = options.loaded;
  const http = createHttpServer({
    provider: options.provider,
    logger: options.httpLog,
    config: {
      ...config.httpd,
      users_base_dir: config.data_provider.users_base_dir,
      manage_users: config.data_provider.manage_users,
    },
    connections: options.connections ?? connectionsView(options.registry),
    defender: options.defender,
    version: versionString(),
    metricsRegistry: options.metricsRegistry,
    metricsText: options.metricsText,
    cluster: options.cluster,
  });
  let address: { address: string; port: number };
  try {
    address = await http.listen();
  } catch (err) {
    await http.close();
    const { bind_address, bind_port } = config.httpd;
    throw listenFailure({ section: 'httpd', address: bind_address, port: bind_port }, err);
  }
  options.log.info({ address: address.address, port: address.port }, 'http server listening');
  return { port: address.port, close: () => http.close() };
}

export function connectionsView(registry: ConnectionRegistry): ActiveConnections {
  return {
    list: () =>
      registry.list().map((c) => ({
        connection_id: c.id,
        username: c.username,
        client_version: c.clientVersion,
        remote_address: c.remoteAddress,
        connection_time: c.connectedAt,
        last_activity: c.lastActivity(),
        protocol: c.protocol(),
        active_transfers: [],
      })),
    close: (id) => registry.close(id),
  };
}

function toAttemptLimit(tries: number): number {
  return Number.isFinite(tries) ? tries : -1;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
