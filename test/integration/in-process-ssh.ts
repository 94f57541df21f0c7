/**
 * The SSH server in the test's own process, for tests whose timeouts and bans must last
 * seconds (the config counts them in minutes): a MemoryVfs home unless the test opens its own,
 * log lines and connection failures collected for assertions.
 */
import { pino } from 'pino';
import type { DataProvider } from '../../server/src/dataprovider/types.js';
import { ClusterSessions } from '../../server/src/session/cluster.js';
import { ConnectionRegistry } from '../../server/src/session/registry.js';
import type { AuthFailure } from '../../server/src/ssh/authenticate.js';
import type { OpenUserFs } from '../../server/src/ssh/client-session.js';
import { loadOrCreateHostKeys } from '../../server/src/ssh/hostkeys.js';
import {
  createSshServer,
  type SshDefender,
  type SshSettings,
} from '../../server/src/ssh/server.js';
import { MemoryVfs } from '../../server/src/vfs/memory.js';

export interface InProcessSsh {
  port: number;
  failures: AuthFailure[];
  /** Every log line of the SSH server, parsed. */
  logs: Record<string, unknown>[];
  registry: ConnectionRegistry;
  /** Sessions counted in the provider, as the service counts them. */
  cluster: ClusterSessions;
  stop(): Promise<void>;
}

/** Bounds wide enough that only what a test sets gets in its way. */
const TEST_SETTINGS: Omit<SshSettings, 'hostKeys'> = {
  bindAddress: '127.0.0.1',
  bindPort: 0,
  idleTimeoutMs: 0,
  maxAuthTries: 6,
  loginGraceMs: 10_000,
  ident: 'kubesftp_test',
  channelWindowSize: 2 * 1024 * 1024,
  connectionLimits: {
    maxStartups: { start: 1000, rate: 100, full: 1000 },
    maxPerHost: 0,
    maxTotal: 0,
  },
  maxChannelsPerConnection: 10,
  sftpLimits: {},
};

export async function startInProcessSsh(options: {
  provider: DataProvider;
  configDir: string;
  settings?: Partial<SshSettings>;
  defender?: SshDefender;
  openUserFs?: OpenUserFs;
}): Promise<InProcessSsh> {
  const failures: AuthFailure[] = [];
  const logs: Record<string, unknown>[] = [];
  const ended: { cluster?: ClusterSessions } = {};
  const registry = new ConnectionRegistry({ removed: (id) => ended.cluster?.end(id) });
  const hostKeys = await loadOrCreateHostKeys({
    configDir: options.configDir,
    keys: [],
    types: ['ed25519'],
  });
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const cluster = new ClusterSessions({
    provider: options.provider,
    registry,
    logger: logger.child({ sender: 'cluster' }),
    ttlMs: 30_000,
  });
  ended.cluster = cluster;
  cluster.start();
  const ssh = createSshServer({
    settings: { ...TEST_SETTINGS, ...options.settings, hostKeys: hostKeys.map((k) => k.key) },
    provider: options.provider,
    registry,
    sessions: cluster,
    logger,
    openUserFs: options.openUserFs ?? (() => Promise.resolve(new MemoryVfs())),
    onConnectionFailed: (failure) => failures.push(failure),
    defender: options.defender,
  });
  const address = await ssh.listen();
  return {
    port: address.port,
    failures,
    logs,
    registry,
    cluster,
    stop: async () => {
      registry.closeAll();
      await ssh.stopAccepting();
      await cluster.stop();
    },
  };
}
