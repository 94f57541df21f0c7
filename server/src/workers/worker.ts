/**
 * A worker: `kubesftp serve` started by the primary with WORKER_SLOT_ENV set. It opens no
 * listener, no HTTP server and runs no sweeper; it opens the data provider, loads the host keys
 * the primary made, and runs SSH and SFTP on the sockets the primary hands it. It leaves when
 * the primary says drain, or goes away.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { secretKeySettings } from '../dataprovider/from-config.js';
import { secretBoxFor } from '../dataprovider/index.js';
import type { Registry } from 'prom-client';
import { createMetricsRegistry, registerServerMetrics } from '../httpd/metrics.js';
import {
  ACTIONS_SETTLE_MS,
  connectionsView,
  drainConnections,
  openProvider,
  startCluster,
  startSshSide,
  type StartServiceOptions,
} from '../service.js';
import type { ConnectionRegistry } from '../session/registry.js';
import type { GateTicket } from '../ssh/connection-gate.js';
import type { SshServer } from '../ssh/server.js';
import { assertTransportPatchApplied } from '../ssh/transport-options.js';
import { StartedParts } from '../startup.js';
import { isMessage, type FromWorker, type ToWorker } from './messages.js';
import type { MetricJson } from './metrics.js';

/** The IPC channel to the primary; `process` in a real worker. */
export interface PrimaryChannel {
  send?(message: FromWorker, callback: (err: Error | null) => void): boolean;
  connected?: boolean;
  on(event: 'message', listener: (message: unknown, handle: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  disconnect?(): void;
}

interface Serving {
  ssh: SshServer;
  registry: ConnectionRegistry;
  metricsRegistry: Registry;
  shutdown(graceMs: number): Promise<void>;
}

type WorkerOptions = Pick<StartServiceOptions, 'loaded' | 'logging'> & { slot: number };

/** Serves until the primary asks to drain (or disappears), then shuts down and resolves. */
export async function runWorker(given: WorkerOptions, channel: PrimaryChannel): Promise<void> {
  // Every line of a worker names it, so an operator can tell which process served what.
  const { logging: base, slot } = given;
  const logging = {
    ...base,
    component: (sender: string) => base.component(sender).child({ worker: slot }),
  };
  const options = { ...given, logging };
  const log = logging.component('worker');
  assertTransportPatchApplied();
  const send = (message: FromWorker): void => {
    if (channel.connected === true) channel.send?.(message, () => undefined);
  };
  const started = new StartedParts(log);
  let serving: Serving & { nodeId: string };
  try {
    serving = await startServing({ ...options, log, started });
  } catch (err) {
    await started.closeAll();
    throw err;
  }
  const ownGraceMs = options.loaded.config.sftpd.shutdown_grace_period * 1000;
  const graceMs = await new Promise<number>((resolve) => {
    channel.on('message', (message, handle) => {
      if (!isMessage<ToWorker>(message)) return;
      if (message.t === 'drain') return resolve(message.graceMs);
      answer(serving, { message, handle, send });
    });
    // Without a primary nobody hands sockets or answers for this worker: drain and leave,
    // also when the primary went while this worker was starting.
    channel.on('disconnect', () => resolve(ownGraceMs));
    if (channel.connected === false) resolve(ownGraceMs);
    send({ t: 'ready', nodeId: serving.nodeId });
    log.info({ node_id: serving.nodeId, pid: process.pid }, 'sftp worker ready');
  });
  await serving.shutdown(graceMs);
  if (channel.connected === true) channel.disconnect?.();
}

function answer(
  serving: Serving,
  received: { message: ToWorker; handle: unknown; send: (message: FromWorker) => void },
): void {
  const { message, handle, send } = received;
  type Result = Extract<FromWorker, { t: 'reply' }>['result'];
  // A request that fails goes unanswered: the primary gives up on it after its timeout, and
  // this worker and its connections carry on.
  const reply = (request: number, result: () => Result | Promise<Result>): void => {
    void Promise.resolve()
      .then(result)
      .then(
        (value) => send({ t: 'reply', request, result: value }),
        () => undefined,
      );
  };
  switch (message.t) {
    case 'socket': {
      const socket = handle as Socket;
      // Until ssh2 takes the socket, a reset must not become an uncaught error.
      socket.on('error', () => undefined);
      serving.ssh.serveSocket(socket, primaryTicket(message.handoff, send));
      return;
    }
    case 'list':
      return reply(message.request, () => connectionsView(serving.registry).list());
    case 'metrics':
      return reply(
        message.request,
        async () => (await serving.metricsRegistry.getMetricsAsJSON()) as unknown as MetricJson[],
      );
    case 'close':
      return reply(message.request, () => serving.registry.close(message.connectionId));
    default:
      return;
  }
}

/** The gate ticket lives in the primary: logging in and closing are reported to it. */
function primaryTicket(handoff: number, send: (message: FromWorker) => void): GateTicket {
  let released = false;
  return {
    loggedIn: () => send({ t: 'logged-in', handoff }),
    release: () => {
      if (released) return;
      released = true;
      send({ t: 'closed', handoff });
    },
  };
}

async function startServing(
  options: WorkerOptions & { log: Logger; started: StartedParts },
): Promise<Serving & { nodeId: string }> {
  const { loaded, logging, started } = options;
  const { config } = loaded;
  const provider = await openProvider(loaded, started, options.log);
  const secrets = secretBoxFor(secretKeySettings(config.secrets, loaded.configDir), provider);
  const { registry, cluster } = startCluster({ loaded, logging, provider, started });
  const metricsRegistry = createMetricsRegistry();
  const metrics = registerServerMetrics(metricsRegistry, cluster);
  const { ssh, actions } = await startSshSide({
    loaded,
    logging,
    provider,
    registry,
    cluster,
    metricsRegistry,
    metrics,
    secrets,
  });
  return {
    ssh,
    registry,
    metricsRegistry,
    nodeId: cluster.nodeId,
    async shutdown(graceMs) {
      options.log.info({ grace_ms: graceMs, connections: registry.size }, 'draining');
      await drainConnections(registry, graceMs, { ssh });
      // Actions and the last quota settlements finish before this worker exits; the primary's
      // drain waits for the exit (DRAIN_KILL_AFTER_MS in pool.ts counts them in).
      await actions.settle(ACTIONS_SETTLE_MS);
      await cluster.stop();
      await provider.close();
      options.log.info('stopped');
    },
  };
}
